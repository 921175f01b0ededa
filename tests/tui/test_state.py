"""LiveState and the row selection: what the event stream folds into, without Textual."""

from __future__ import annotations

import random
import time
from types import SimpleNamespace

from orchestrator.events import Event
from orchestrator.model.enums import DownloadState
from tui.selection import ROW_LIMIT, shown_rows, visible_rows
from tui.state import LiveState

APP = "com.example.game"


def event(kind: str, download: str | None = None, **data) -> Event:
    if download is not None:
        data = {"download": download, "essential": False, "bytes": 0, "total": 1000, **data}
    return Event(1.0, kind, APP, data)


def test_progress_replaces_progress_and_is_not_logged():
    state = LiveState()
    state.apply(event("download.scheduled", "a", priority=70))
    state.apply(event("download.started", "a"))
    for done in range(0, 1000, 100):
        state.apply(event("download.progress", "a", bytes=done, speed=500))
    row = state.downloads[f"{APP}/a"]
    assert (row.state, row.bytes, row.speed, row.priority) == (
        DownloadState.DOWNLOADING, 900, 500.0, 70)
    assert row.eta == 0.2
    assert [line.event for line in state.log] == ["download.scheduled", "download.started"]
    assert state.apps_version == 2 and state.version == 12


def test_pause_failure_reenqueue_and_finish_change_the_row():
    state = LiveState()
    state.apply(event("download.scheduled", "a"))
    state.apply(event("download.paused", "a", reason="offline"))
    row = state.downloads[f"{APP}/a"]
    assert (row.state, row.reason) == (DownloadState.PAUSED, "offline")
    state.apply(event("download.failed", "a", code=1010, name="sizeMismatch", message="short"))
    assert (row.state, row.error) == (DownloadState.FAILED, "1010 sizeMismatch: short")
    state.apply(event("download.reenqueued", "a", reason="sizeMismatch"))
    assert (row.state, row.error) == (DownloadState.WAITING, None)
    state.apply(event("download.finished", "a", bytes=1000, purgeable=True, path="/x/a"))
    assert (row.state, row.fraction, row.path) == (DownloadState.FINISHED, 1.0, "/x/a")
    assert state.purgeable == {APP: 1000}
    state.apply(event("asset.purged", "a", bytes=1000))
    assert state.purgeable == {APP: 0} and row.path is None
    assert [name for _, name in row.history] == [
        "download.scheduled", "download.paused", "download.failed", "download.reenqueued",
        "download.finished", "asset.purged"]


def test_an_app_whose_install_is_cancelled_or_uninstalled_loses_its_rows():
    state = LiveState()
    for kind in ("install.cancelled", "app.uninstalled"):
        state.apply(event("download.scheduled", "a"))
        state.apply(event("download.paused", "a", reason="install paused"))
        state.apply(Event(1.0, "download.scheduled", "com.example.other",
                          {"download": "b", "essential": False, "bytes": 0, "total": 1}))
        state.apply(event(kind, downloads=1, progress=0.5) if kind.startswith("install")
                    else event(kind))
        assert list(state.downloads) == ["com.example.other/b"]
        assert state.log[-1].event == kind


def test_log_filters_by_app_and_kind():
    state = LiveState()
    state.apply(event("download.scheduled", "a"))
    state.apply(Event(2.0, "download.scheduled", "com.example.news", {"download": "b"}))
    state.apply(Event(3.0, "device.changed", None, {"online": False}))
    assert [line.app for line in state.log_lines(app="news")] == ["com.example.news"]
    assert [line.event for line in state.log_lines(kind="device")] == ["device.changed"]
    assert [line.seq for line in state.log_lines(after=2)] == [3]


def test_selection_keeps_moving_then_waiting_then_recent_within_the_limit():
    state = LiveState()
    for index in range(10_000):
        state.apply(event("download.scheduled", f"d{index:05d}", priority=index % 101))
    for index in range(9_000):
        state.apply(event("download.finished", f"d{index:05d}", bytes=1000))
    state.apply(event("download.progress", "d09999", bytes=10, speed=1))
    started = time.perf_counter()
    rows, matched = visible_rows(state.downloads.values())
    elapsed = time.perf_counter() - started
    assert matched == 10_000 and len(rows) == ROW_LIMIT
    assert rows[0].id == "d09999"  # moving first
    waiting = [row for row in rows if row.state == DownloadState.WAITING]
    assert len(waiting) == ROW_LIMIT - 1
    assert [row.priority for row in waiting] == sorted((r.priority for r in waiting), reverse=True)
    assert elapsed < 0.1
    rows, matched = visible_rows(state.downloads.values(), "finished d0899", sort="id")
    assert matched == 10 and [row.id for row in rows] == [f"d0899{i}" for i in range(10)]


def test_shown_rows_ranks_only_the_candidates_and_chooses_as_ranking_every_row_would():
    """The index of rows not ended and ended by recency gives the very rows (and order)
    that ranking all of them gives, through schedules, ends, re-schedules, pauses,
    a seeded state with ties, and an app's rows going."""
    rng = random.Random(16)
    state = LiveState()
    views = [SimpleNamespace(app=APP, id=f"s{i:03d}", essential=i % 7 == 0, priority=i % 5,
                             state=DownloadState.FINISHED if i % 3 else DownloadState.CREATED,
                             bytes=0, total=1000, foreground=False, pending=i % 3 == 0,
                             reason=None, error=None, message=None, purgeable=False)
             for i in range(300)]
    state.seed(views, SimpleNamespace(apps={}))
    kinds = ["download.scheduled", "download.started", "download.progress", "download.paused",
             "download.finished", "download.failed", "download.reenqueued"]
    for step in range(6_000):
        name = f"d{rng.randrange(400):03d}" if rng.random() < 0.8 else f"s{rng.randrange(300):03d}"
        state.apply(event(rng.choice(kinds), name, priority=rng.randrange(5),
                          essential=rng.random() < 0.1, bytes=rng.randrange(1000), speed=1))
        if step == 4_000:
            state.apply(Event(1.0, "app.uninstalled", APP, {}))
            assert shown_rows(state) == ([], 0)
        if step % 97 == 0:
            for limit in (1, 50, 200):
                for sort in (None, "priority", "id"):
                    expected = visible_rows(state.downloads.values(), "", sort, False, limit)
                    assert shown_rows(state, "", sort, False, limit) == expected
