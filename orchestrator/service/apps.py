"""The orchestrator's view of an installed app, and what a connected app registers."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from orchestrator.errors import BackgroundAssetsError
from orchestrator.model.app import App
from orchestrator.model.download import Download
from orchestrator.model.extension import Extension
from orchestrator.service.progress import InstallProgress


class AppDelegate(Protocol):
    """What a connected app registers to receive callbacks instead of its extension.

    ``finished`` gets the file at an ephemeral path and moves it before it returns;
    what is left there is removed. A delegate in another process answers
    asynchronously: False when the app went away before it returned, and the file
    then goes to the extension as if no app had been connected.
    """

    def finished(self, download: Download, path: Path) -> bool | None | Awaitable[bool]: ...

    def failed(self, download: Download, error: BackgroundAssetsError) -> None: ...


@dataclass
class LoadedApp:
    """An installed app in memory: its manifests and what this process knows of it.

    ``unplanned`` holds while its install or update has not been planned yet (the
    catalog is being fetched, the extension asked, or the network awaited): it is not
    launchable meanwhile. ``install_paused`` holds while its install or update is paused
    as a whole: every download of it is held, and it is not launchable either.
    """

    app: App
    extension: Extension
    manifest: Path
    launched: bool = False
    running: bool = False
    delegate: AppDelegate | None = None
    progress: InstallProgress | None = None
    launchable: bool = False
    last_progress_event: float = 0.0
    essential_done: int = 0
    catalog_failed: bool = False
    unplanned: bool = False
    install_paused: bool = False


