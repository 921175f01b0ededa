"""The command palette: one entry per action, per app, for the selected download, per condition."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from textual.app import App, SystemCommand
from textual.screen import Screen

from orchestrator.service.controls import PackAction
from tui.control import DEVICE_TOGGLES
from tui.frame import Frame
from tui.messages import AppAction, DeviceAction, DownloadAction, PackRequest, PacksCheck

APP_VERBS = (("install", "Install", "install the app (an install content request)"),
             ("update", "Update", "apply a new app version (an update content request)"),
             ("periodic", "Periodic run", "send a periodic content request now"),
             ("launch", "Launch", "launch the app (refused while essential downloads pend)"),
             ("terminate", "Terminate", "the app stops running (promotion is refused again)"),
             ("pause-install", "Pause install of", "hold every download of the install; "
              "not launchable until resumed"),
             ("resume-install", "Resume install of", "let a paused install go on from the "
              "bytes on disk"),
             ("cancel-install", "Cancel install of", "give the install up: the app ends not "
              "installed"))
DOWNLOAD_VERBS = (("promote", "Promote", "resume in the foreground (running app only)"),
                  ("pause", "Pause", "pause the download"),
                  ("resume", "Resume", "resume a paused download"),
                  ("cancel", "Cancel", "cancel the download"))
PACK_VERBS = ((PackAction.ENSURE, "Ensure pack", "download what the pack's latest version "
                "lacks"),
              (PackAction.REMOVE, "Remove pack", "remove the pack's local versions"),
              (PackAction.ROLLBACK, "Roll back pack", "make the pack's previous version "
               "current again"))
SCREENS = (("apps", "Apps"), ("downloads", "Downloads"), ("device", "Device"),
           ("events", "Events"), ("packs", "Packs"), ("help", "Help"))


def selected_download(highlighted: str | None, screen: Screen[Any]) -> str | None:
    """The download of the open detail view, else the one last under the table's cursor."""
    key = getattr(screen, "row_key", None) or highlighted
    return str(key) if key else None


def system_commands(app: App[Any], frame: Frame | None, highlighted: str | None,
                    screen: Screen[Any]) -> Iterator[SystemCommand]:
    """Every action of the UI as palette entries; each posts its message to ``app``."""
    for mode, title in SCREENS:
        yield SystemCommand(f"Show {title}", f"switch to the {title} screen",
                            partial(app.switch_mode, mode))
    app_ids = frame.app_ids if frame is not None else []
    for verb, title, help_text in APP_VERBS:
        for app_id in app_ids:
            yield SystemCommand(f"{title} {app_id}", help_text,
                                partial(app.post_message, AppAction(verb, app_id)),
                                discover=False)
    yield from pack_commands(app, frame)
    key = selected_download(highlighted, screen)
    if key:
        for verb, title, help_text in DOWNLOAD_VERBS:
            yield SystemCommand(f"{title} {key}", help_text,
                                partial(app.post_message, DownloadAction(verb, key)))
    for condition, title in DEVICE_TOGGLES.items():
        yield SystemCommand(f"Toggle {title}", "flip this device condition",
                            partial(app.post_message, DeviceAction(condition)))
    for app_id in app_ids:
        yield SystemCommand(f"Toggle background refresh for {app_id}",
                            "flip background refresh for this app only",
                            partial(app.post_message, DeviceAction("background_refresh", app_id)),
                            discover=False)
    yield SystemCommand("Purge", "remove purgeable assets (under Library/Caches)",
                        partial(app.post_message, DeviceAction("purge")))


def pack_commands(app: App[Any], frame: Frame | None) -> Iterator[SystemCommand]:
    """The pack actions for every pack read so far, and the check for updates per app."""
    if frame is None:
        return
    for action, title, help_text in PACK_VERBS:
        for view in frame.state.packs.views(frame.app_ids):
            yield SystemCommand(f"{title} {view.app}/{view.id}", help_text,
                                partial(app.post_message,
                                        PackRequest(action, view.app, view.id)),
                                discover=False)
    for app_id in frame.snapshot.apps:
        yield SystemCommand(f"Check packs of {app_id}", "read the app's pack catalog again: "
                            "update the packs that changed, remove the ones it dropped",
                            partial(app.post_message, PacksCheck(app_id)), discover=False)
