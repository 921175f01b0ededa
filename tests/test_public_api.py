"""The public surface is pinned: changing it is a decision, not an accident."""

import orchestrator
from orchestrator.errors import BackgroundAssetsError, ErrorCode


def test_all_is_sorted_and_importable():
    assert orchestrator.__all__ == sorted(orchestrator.__all__)
    for name in orchestrator.__all__:
        assert getattr(orchestrator, name) is not None


def test_public_names():
    assert set(orchestrator.__all__) >= {
        "BackgroundAssetsError",
        "ContentRequest",
        "DownloadError",
        "DownloadState",
        "ErrorCode",
        "ManifestError",
        "Priority",
        "format_size",
        "parse_size",
    }


def test_framework_numbers_are_kept():
    assert orchestrator.DownloadState.FAILED == -1
    assert orchestrator.DownloadState.FINISHED == 3
    assert orchestrator.ContentRequest.PERIODIC == 3
    assert (orchestrator.Priority.MIN, orchestrator.Priority.DEFAULT) == (0, 50)
    assert ErrorCode.SESSION_DOWNLOAD_DISALLOWED_BY_DOMAIN == 202
    assert ErrorCode.DOWNLOAD_BACKGROUND_ACTIVITY_PROHIBITED.title == (
        "downloadBackgroundActivityProhibited"
    )


def test_error_codes_above_1000_are_our_own():
    framework = {0, 50, 51, 100, 101, 102, 103, 109, 111, 112, 113, 202, 203, 204, 206}
    assert {int(code) for code in ErrorCode if code < 1000} <= framework


def test_error_as_dict_carries_code_and_name():
    error = BackgroundAssetsError("host evil.example is not allowed", ErrorCode(202))
    assert error.as_dict() == {
        "code": 202,
        "name": "sessionDownloadDisallowedByDomain",
        "message": "host evil.example is not allowed",
    }
