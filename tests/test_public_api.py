"""The public surface is pinned: changing it is a decision, not an accident."""

import orchestrator
from orchestrator.errors import BackgroundAssetsError, ErrorCode


def test_all_is_sorted_and_importable():
    assert orchestrator.__all__ == sorted(orchestrator.__all__)
    for name in orchestrator.__all__:
        assert getattr(orchestrator, name) is not None


def test_public_names_are_exactly_these():
    assert orchestrator.__all__ == [
        "BackgroundAssetsError", "BadAnswer", "BodyTooLarge", "ContentRequest",
        "DaemonUnavailable", "DiskFullError", "DownloadError", "DownloadState",
        "EndlessBody", "ErrorCode", "HandlerAnswerError", "JournalError", "LocatedError",
        "LockTimeout",
        "ManifestError", "PhaseError", "Priority", "StateDirBusy", "StateDirUnusable",
        "UntrustedSocket", "UsageError", "format_size", "parse_size",
    ]


def test_every_exception_is_defined_in_errors_and_every_error_is_exported():
    outside = {f"{module.__name__}.{name}" for module in _package_modules()
               for name, value in vars(module).items()
               if isinstance(value, type) and issubclass(value, Exception)
               and value.__module__ == module.__name__ and not name.startswith("_")
               and module is not orchestrator.errors}
    assert outside == set(), "exceptions defined outside orchestrator/errors.py"
    errors = {name for name, value in vars(orchestrator.errors).items()
              if isinstance(value, type) and issubclass(value, BackgroundAssetsError)}
    assert errors <= set(orchestrator.__all__)


def _package_modules():
    import importlib
    import pkgutil
    for info in pkgutil.walk_packages(orchestrator.__path__, "orchestrator."):
        if not info.name.startswith("orchestrator.demo.__main__") and not info.name.endswith(
                "__main__"):
            yield importlib.import_module(info.name)


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
