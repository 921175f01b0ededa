"""Apps: each app's state, install progress in three phases, allowances, runtime, periodic."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from orchestrator.model.enums import ContentRequest
from orchestrator.model.units import format_size
from tui.widgets.cells import duration, phase_bar
from tui.widgets.table import LiveTable

# Sized so that the bundled examples (ids up to 26 characters) fit 160 columns.
COLUMNS = (("app", "App"), ("name", "Name"), ("version", "Version"), ("state", "State"),
           ("progress", "Progress"), ("allowance", "Allowance left"),
           ("essential", "Essential left"), ("runtime", "Runtime today"),
           ("periodic", "Next periodic"))
CLOCK_REDRAW = 1.0
LEGEND = "progress: app · install step · essential bytes"


def app_state(loaded: Any, waiting: ContentRequest | None = None) -> Text:
    """installing, launchable or launched (and running), as the framework names them.

    ``waiting`` is the app's content request waiting for the network: an install or
    update that waits reads ``installing: offline``.
    """
    if loaded is None:
        return Text("not installed", "dim")
    if loaded.launched:
        return Text("launched" + (", running" if loaded.running else ""), "bold cyan")
    if loaded.launchable:
        return Text("launchable", "green")
    return Text("installing: offline" if waiting else "installing", "yellow")


def allowance_left(used: int, limit: int, launched: bool) -> str:
    """What remains of an initial allowance, as the extension is told it."""
    if launched:
        return "unrestricted"
    return format_size(max(0, limit - used))


def periodic_text(orchestrator: Any, app_id: str, now: float) -> str:
    device = orchestrator.device
    when = orchestrator.next_periodic(app_id)
    if when is None:
        return "off (low power)" if device.low_power_mode else "off (no refresh)"
    return "due now" if when <= now else f"in {duration(when - now)}"


def app_cells(orchestrator: Any, status: Any, app_id: str) -> tuple[object, ...]:
    """One row of the Apps table, read from the orchestrator, its journal and the events."""
    loaded = orchestrator.apps.get(app_id)
    record = orchestrator.journal.app(app_id)
    if loaded is None or record is None:
        return (app_id, "", "", app_state(None), "", "", "", "", "")
    now = orchestrator.clock()
    restrictions = loaded.app.restrictions
    fraction = status.fraction if status else 0.0
    phases = status.phases if status and status.phases else {}
    if loaded.progress is not None:
        fraction, phases = loaded.progress.fraction, loaded.progress.phases()
    waiting = orchestrator.waiting_request(app_id)
    bar = phase_bar(phases) + Text(f" {fraction:4.0%}")
    spent, allotted = orchestrator.runtime_today(app_id)
    return (app_id, loaded.app.display_name, loaded.app.version, app_state(loaded, waiting), bar,
            allowance_left(record.download_bytes_used, restrictions.download_allowance,
                           record.launched),
            allowance_left(record.essential_bytes_used,
                           restrictions.essential_download_allowance, record.launched),
            f"{duration(spent) or '0s'} / {duration(allotted)}",
            periodic_text(orchestrator, app_id, now))


class AppsScreen(Screen[None]):
    """Every app of the session, with the app actions on the selected row."""

    BINDINGS = [
        Binding("n", "app('install')", "Install",
                tooltip="install the selected app: an install content request"),
        Binding("u", "app('update')", "Update",
                tooltip="update the selected app when its manifest's version changed"),
        Binding("r", "app('periodic')", "Periodic",
                tooltip="send the selected app a periodic content request now"),
        Binding("l", "app('launch')", "Launch",
                tooltip="launch the selected app (refused while essential downloads pend)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._drawn: tuple[int, int] = (-1, -1)
        self._drawn_at = 0.0

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Apps", classes="title")
        yield LiveTable(COLUMNS, id="apps")
        yield Static("", id="apps-summary")
        yield Footer()

    @property
    def table(self) -> LiveTable:
        return self.query_one("#apps", LiveTable)

    @property
    def selected_app(self) -> str | None:
        return self.table.selected_key

    def action_app(self, verb: str) -> None:
        self.app.app_action(verb, self.selected_app)  # type: ignore[attr-defined]

    def refresh_from(self, app: Any) -> bool:
        """Redraw when an app-level event arrived, and once a second for the clocks."""
        state, orchestrator = app.state, app.orchestrator
        now, version = time.monotonic(), (state.apps_version, state.install_version)
        if version == self._drawn and now - self._drawn_at < CLOCK_REDRAW:
            return False
        self._drawn, self._drawn_at = version, now
        ids = sorted(set(app.control.manifests) | set(orchestrator.apps)) if app.control else []
        self.table.show([(i, app_cells(orchestrator, state.apps.get(i), i)) for i in ids])
        waiting = sum(1 for row in state.downloads.values() if row.state != "finished"
                      and row.state != "failed")
        self.query_one("#apps-summary", Static).update(
            f"{len(orchestrator.apps)} installed · {waiting} download(s) pending · {LEGEND} · "
            "n install  u update  r periodic  l launch")
        return True
