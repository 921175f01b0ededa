"""The fetch view: a status line with exact counts and throttled JSON events."""

import io
import json

from orchestrator.cli.progress import FetchView, format_duration
from orchestrator.errors import DownloadError, ErrorCode


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_status_line_counts_files_bytes_speed_and_eta():
    clock = Clock()
    view = FetchView(2, clock=clock)
    view.started("a", "http://h/a", 4 << 20)
    view.started("b", "http://h/b", 4 << 20)
    assert view.status_line().startswith("0/2 files  0 B of 8.0 MiB")
    clock.now += 1
    view.progress("a", "http://h/a", 2 << 20, 4 << 20)
    line = view.status_line()
    assert "2.0 MiB of 8.0 MiB" in line and "2.0 MiB/s" in line and "ETA 0:03" in line
    view.finished("a", "http://h/a", path="a", size=4 << 20, sha256=None)
    view.failed("b", "http://h/b", DownloadError("gone", ErrorCode.HTTP_ERROR), 0, 4 << 20)
    assert view.status_line().startswith("2/2 files  4.0 MiB")
    assert view.status_line().endswith("1 failed")
    assert view.summary().startswith("1/2 files, 4.0 MiB in 0:01")


def test_json_events_are_throttled_per_download_and_carry_exact_bytes():
    clock, out = Clock(), io.StringIO()
    view = FetchView(1, events=out, clock=clock)
    view.started("k", "http://h/k", 1000)
    for done in range(100, 1000, 100):   # nine reports within 0.1 s: one event
        clock.now += 0.01
        view.progress("k", "http://h/k", done, 1000)
    clock.now += 1
    view.progress("k", "http://h/k", 950, 1000)
    view.finished("k", "http://h/k", path="/d/k", size=1000, sha256="00" * 32)
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(e["event"], e["bytes"]) for e in events] == [
        ("download.started", 0), ("download.progress", 100), ("download.progress", 950),
        ("download.finished", 1000)]
    assert all(e["app"] is None and e["download"] == "k" and e["ts"].endswith("Z")
               for e in events)
    assert events[-1]["path"] == "/d/k" and events[-1]["total"] == 1000


def test_terminal_line_is_redrawn_in_place_and_cleared():
    terminal = io.StringIO()
    view = FetchView(1, terminal=terminal, clock=Clock())
    view.redraw()
    view.clear()
    assert terminal.getvalue() == "\r0/1 files  0 B  0 B/s\x1b[K\r\x1b[K"


def test_durations_read_like_clocks():
    assert [format_duration(s) for s in (7, 750, 3723)] == ["0:07", "12:30", "1:02:03"]
