"""The one download state: the framework's numbers, our PAUSED, and the labels clients show."""

import pytest

from orchestrator.model.enums import DownloadState


def test_the_framework_numbers_stay_and_paused_is_added_after_them():
    assert {state.name: int(state) for state in DownloadState} == {
        "FAILED": -1, "CREATED": 0, "WAITING": 1, "DOWNLOADING": 2, "FINISHED": 3,
        "PAUSED": 4}


def test_a_label_is_the_lower_case_name_and_reads_back():
    assert DownloadState.PAUSED.label == "paused"
    assert [state.label for state in DownloadState] == [
        "failed", "created", "waiting", "downloading", "finished", "paused"]
    for state in DownloadState:
        assert DownloadState.from_label(state.label) is state
    assert DownloadState.from_label("Downloading") is DownloadState.DOWNLOADING
    with pytest.raises(ValueError, match="'stalled' is not a download state"):
        DownloadState.from_label("stalled")


def test_only_finished_and_failed_have_ended():
    assert {state for state in DownloadState if state.ended} == {
        DownloadState.FINISHED, DownloadState.FAILED}
