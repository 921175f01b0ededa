"""Apps: each app's state, install progress in three phases, allowances, size on disk
against maxInstallSize, runtime, periodic."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from orchestrator.model.device import Device
from orchestrator.model.units import format_size
from orchestrator.service.views import AppState, AppView
from tui.frame import Frame
from tui.messages import AppAction
from tui.widgets.cells import duration, phase_bar
from tui.widgets.table import LiveTable

# Sized so that the bundled examples (ids up to 26 characters) fit 160 columns.
COLUMNS = (("app", "App"), ("name", "Name"), ("version", "Version"), ("state", "State"),
           ("progress", "Progress"), ("allowance", "Allowance"), ("essential", "Essential"),
           ("disk", "On disk"), ("runtime", "Runtime today"), ("periodic", "Next periodic"))
CLOCK_REDRAW = 1.0
LEGEND = "progress: app · install step · essential bytes"


def app_state(view: AppView | None) -> Text:
    """installing, launchable or launched (and running), as the framework names them.

    An install or update waiting for the network reads ``installing: offline``, one paused
    as a whole ``install paused``.
    """
    if view is None:
        return Text("not installed", "dim")
    if view.state == AppState.PAUSED:
        return Text("install paused", "bold yellow")
    if view.launched:
        return Text("launched" + (", running" if view.running else ""), "bold cyan")
    if view.launchable:
        return Text("launchable", "green")
    return Text("installing: offline" if view.waiting_request else "installing", "yellow")


def allowance_left(used: int, limit: int | None) -> str:
    """What remains of an initial allowance, as the extension is told it (no limit once
    the app was launched)."""
    if limit is None:
        return "unrestricted"
    return format_size(max(0, limit - used))


def disk_text(view: AppView) -> Text:
    """The app with what was delivered to it: red once over its maxInstallSize (the
    summary line says by how much)."""
    style = "bold red" if view.over_max_install_size else ""
    return Text(format_size(view.size_on_disk), style)


def over_max_text(views: list[AppView]) -> str:
    """The apps over their maxInstallSize, and by how much, for the summary line."""
    over = [f"{view.id} by {format_size(view.over_max_install_size)} (max "
            f"{format_size(view.max_install_size)})"
            for view in views if view.over_max_install_size]
    return f"over maxInstallSize: {', '.join(over)} · " if over else ""


def periodic_text(view: AppView, device: Device, now: float) -> str:
    when = view.next_periodic_run
    if when is None:
        return "off (low power)" if device.low_power_mode else "off (no refresh)"
    return "due now" if when <= now else f"in {duration(when - now)}"


def app_cells(view: AppView | None, device: Device, now: float,
              app_id: str) -> tuple[object, ...]:
    """One row of the Apps table, read from the app's view."""
    if view is None:
        return (app_id, "", "", app_state(None), "", "", "", "", "", "")
    bar = phase_bar(dict(view.phases)) + Text(f" {view.progress:4.0%}")
    return (app_id, view.name, view.version, app_state(view), bar,
            allowance_left(view.download_bytes_used, view.download_allowance),
            allowance_left(view.essential_bytes_used, view.essential_download_allowance),
            disk_text(view),
            f"{duration(view.runtime_today) or '0s'} / {duration(view.runtime_allotment)}",
            periodic_text(view, device, now))


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
        Binding("z", "app('pause-install')", "Pause install",
                tooltip="pause the selected app's install: every download of it holds"),
        Binding("s", "app('resume-install')", "Resume install",
                tooltip="resume the selected app's paused install"),
        Binding("c", "app('cancel-install')", "Cancel install",
                tooltip="cancel the selected app's install: it ends not installed"),
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
        self.post_message(AppAction(verb, self.selected_app))

    def refresh_from(self, frame: Frame) -> bool:
        """Redraw when an app-level event arrived, and once a second for the clocks."""
        state = frame.state
        now, version = time.monotonic(), (state.apps_version, state.install_version)
        if version == self._drawn and now - self._drawn_at < CLOCK_REDRAW:
            return False
        self._drawn, self._drawn_at = version, now
        snapshot = frame.snapshot
        self.table.show([(i, app_cells(snapshot.app(i), snapshot.device, snapshot.at, i))
                         for i in frame.app_ids])
        waiting = sum(1 for row in state.downloads.values() if not row.state.ended)
        self.query_one("#apps-summary", Static).update(
            f"{len(snapshot.apps)} installed · {waiting} download(s) pending · "
            f"{over_max_text(list(snapshot.apps.values()))}{LEGEND} · "
            "n install  u update  r periodic  l launch  z/s/c pause/resume/cancel install")
        return True
