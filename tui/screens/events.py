"""Events: the live log of everything but progress, filterable by app and by kind."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Log

from tui.frame import Frame
from tui.state import LogLine

REWRITE_LIMIT = 2_000


def line_text(line: LogLine) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(line.ts))
    return f"{stamp}  {line.app or '-':<28} {line.text}"


class EventsScreen(Screen[None]):
    """Appends new lines each frame; a new filter rewrites the log from the kept history."""

    BINDINGS = [
        Binding("slash", "focus_filter", "Filter", key_display="/"),
        Binding("escape", "leave_filter", "Log", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._after = 0
        self.app_filter = ""
        self.kind_filter = ""

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="event-filters"):
            yield Input(placeholder="app contains…", id="event-app")
            yield Input(placeholder="kind contains… (e.g. download.failed)", id="event-kind")
        yield Log(id="event-log", max_lines=10_000)
        yield Footer()

    def on_mount(self) -> None:
        self.log_widget.focus()

    @property
    def log_widget(self) -> Log:
        return self.query_one("#event-log", Log)

    def action_focus_filter(self) -> None:
        self.query_one("#event-app", Input).focus()

    def action_leave_filter(self) -> None:
        self.log_widget.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "event-app":
            self.app_filter = event.value
        else:
            self.kind_filter = event.value
        self.log_widget.clear()
        self._after = 0

    def refresh_from(self, frame: Frame) -> bool:
        state = frame.state
        if state.seq == self._after:
            return False
        lines = state.log_lines(self.app_filter, self.kind_filter, self._after)
        self._after = state.seq
        if lines:
            self.log_widget.write_lines(line_text(line) for line in lines[-REWRITE_LIMIT:])
        return True
