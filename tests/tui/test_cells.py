"""A row's cells: built again only where their text changed, and the same as built anew."""

from __future__ import annotations

from dataclasses import replace

from orchestrator.model.enums import DownloadState
from tui.state import DownloadRow
from tui.widgets.cells import download_cells

MiB = 1 << 20


def test_progress_rebuilds_only_the_moving_cells_and_they_match_fresh_ones():
    row = DownloadRow("com.example.app", "intro", essential=True, priority=70,
                      state=DownloadState.DOWNLOADING, bytes=MiB, total=8 * MiB, speed=2e6)
    first = download_cells(row)
    moved = replace(row, bytes=3 * MiB, speed=3e6)
    second = download_cells(moved, first)
    assert second == download_cells(moved)
    kept = [column for column, (a, b) in enumerate(zip(first, second, strict=True)) if a is b]
    assert kept == [0, 1, 2, 3, 4, 8]  # id, app, essential, priority, state, error
    assert second[5].plain != first[5].plain and second[6].plain == "2.9 MiB/s"


def test_a_new_state_or_error_brings_its_own_style():
    row = DownloadRow("com.example.app", "intro", state=DownloadState.DOWNLOADING,
                      bytes=MiB, total=8 * MiB, speed=2e6)
    first = download_cells(row)
    failed = replace(row, state=DownloadState.FAILED, error="reset by peer", speed=0.0)
    second = download_cells(failed, first)
    assert second == download_cells(failed)
    assert str(second[4].style) == "bold red" and second[4].plain == "failed"
    assert second[8].plain == "reset by peer" and str(second[8].style) == "red"
    assert second[7].plain == "" and second[0] is first[0]
