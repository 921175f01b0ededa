"""Device: the conditions the scheduler obeys, each one a key away, and the disk: free,
reserve, available and purgeable bytes, live."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from orchestrator.model.device import BackgroundRefresh, Device
from orchestrator.model.units import format_size
from orchestrator.service.views import StorageView
from tui.frame import Frame
from tui.messages import DeviceAction
from tui.widgets.table import LiveTable

COLUMNS = (("app", "App"), ("refresh", "Background refresh (app)"),
           ("effective", "In effect"), ("purgeable", "Purgeable assets on disk"))


def on_off(value: bool) -> Text:
    return Text("on", "bold green") if value else Text("off", "bold red")


def refresh_cells(refresh: BackgroundRefresh, app_id: str) -> tuple[Text, Text]:
    """The app's own background refresh switch, and whether refresh is on for it in effect.

    They differ while the global switch is off: the app's switch keeps what was set.
    """
    own = refresh.apps.get(app_id, True)
    if refresh.allows(app_id):
        effective = on_off(True)
    elif not refresh.enabled:
        effective = Text("off (global switch off)", "bold red")
    else:
        effective = on_off(False)
    return on_off(own), effective


def storage_text(storage: StorageView) -> Text:
    """The disk in two lines: free of capacity and the reserve, then what downloads may
    still use (red when nothing) and the purgeable bytes the ``x`` key removes."""
    kind = "simulated" if storage.simulated else "measured"
    text = Text(f"    storage ({kind}): {format_size(storage.free)} free of "
                f"{format_size(storage.capacity)}, reserve {format_size(storage.reserve)}, ")
    text.append(f"{format_size(storage.available)} available to downloads",
                "bold green" if storage.available else "bold red")
    text.append(f"\n    storage used by purgeable assets: {format_size(storage.purgeable)}"
                "   ( x  purge them)\n")
    return text


def conditions(device: Device, storage: StorageView) -> Text:
    """The device's switches as one block of text, with the key that flips each, and
    the disk."""
    text = Text()
    lines = [("w", "low power mode", on_off(device.low_power_mode)),
             ("b", "background refresh (global)", on_off(device.background_refresh.enabled)),
             ("i", "in-app content", on_off(device.in_app_content)),
             ("o", "network online", on_off(device.network.online)),
             ("m", "network metered", on_off(device.network.metered))]
    for key, label, value in lines:
        text.append(f" {key} ", "reverse")
        text.append(f" {label:<30}")
        text.append(value)
        text.append("\n")
    text.append(storage_text(storage))
    text.append(f"    daily runtime allotment: {device.daily_allotment_seconds} s per app, "
                "scaled by launches")
    return text


class DeviceScreen(Screen[None]):
    """Device conditions, background refresh per app, purge."""

    BINDINGS = [
        Binding("w", "flip('low_power')", "Low power", tooltip="toggle low power mode"),
        Binding("b", "flip('background_refresh')", "Refresh",
                tooltip="toggle background refresh for every app"),
        Binding("a", "toggle_app", "Refresh (app)",
                tooltip="toggle background refresh for the selected app"),
        Binding("i", "flip('in_app_content')", "In-app",
                tooltip="toggle the in-app content setting"),
        Binding("o", "flip('online')", "Online", tooltip="toggle network online / offline"),
        Binding("m", "flip('metered')", "Metered", tooltip="toggle metered network"),
        Binding("x", "purge", "Purge", tooltip="purge purgeable assets (Library/Caches)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._drawn: tuple[object, ...] = ()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="conditions")
        yield LiveTable(COLUMNS, id="device-apps")
        yield Footer()

    @property
    def selected_app(self) -> str | None:
        return self.query_one("#device-apps", LiveTable).selected_key

    def action_flip(self, condition: str) -> None:
        self.post_message(DeviceAction(condition))

    def action_toggle_app(self) -> None:
        if self.selected_app:
            self.post_message(DeviceAction("background_refresh", self.selected_app))

    def action_purge(self) -> None:
        self.post_message(DeviceAction("purge"))

    def refresh_from(self, frame: Frame) -> bool:
        state, snapshot = frame.state, frame.snapshot
        device = snapshot.device
        key = (device, snapshot.storage, tuple(sorted(state.purgeable.items())),
               tuple(snapshot.apps))
        if key == self._drawn:
            return False
        self._drawn = key
        self.query_one("#conditions", Static).update(conditions(device, snapshot.storage))
        refresh = device.background_refresh
        rows = [(app_id, (app_id, *refresh_cells(refresh, app_id),
                          format_size(state.purgeable.get(app_id, 0))))
                for app_id in snapshot.apps]
        self.query_one("#device-apps", LiveTable).show(rows)
        return True
