"""Help: every binding of every screen, generated from the bindings themselves."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static


def binding_rows(app: type[DOMNode]) -> list[tuple[str, str, str]]:
    """(where, key, what) for the bindings of ``app`` (the App class) and its screens."""
    from tui.screens.apps import AppsScreen
    from tui.screens.detail import DownloadDetail
    from tui.screens.device import DeviceScreen
    from tui.screens.downloads import DownloadsScreen
    from tui.screens.events import EventsScreen
    from tui.screens.packs import PacksScreen

    places: list[tuple[str, type[DOMNode]]] = [("everywhere", app), ("Apps", AppsScreen),
              ("Downloads", DownloadsScreen), ("Download detail", DownloadDetail),
              ("Device", DeviceScreen), ("Events", EventsScreen), ("Packs", PacksScreen)]
    rows = [("everywhere", "ctrl+p", "command palette: every action by name")]
    for place, owner in places:
        for binding in owner.BINDINGS:
            assert isinstance(binding, Binding)
            key = binding.key_display or binding.key
            description = binding.tooltip or binding.description or binding.action
            rows.append((place, key, description))
    return rows


class HelpScreen(Screen[None]):
    """A table of bindings; 1-5 go back to the other screens."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Every key, by screen. The command palette (ctrl+p) offers each action "
                     "by name, for each app, the selected download and each device condition.",
                     classes="title")
        yield DataTable(id="bindings", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#bindings", DataTable)
        table.add_columns("Where", "Key", "Action")
        table.add_rows(binding_rows(type(self.app)))
