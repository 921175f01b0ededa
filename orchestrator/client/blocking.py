"""``BlockingDownloadManager``: the download manager for an app without an event loop.

The same calls as :class:`DownloadManager`, each blocking until the daemon answered.
The connection lives on an event loop in a thread of the manager's own; the delegate's
methods are called in that thread, one at a time, as they would be on the loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, TypeVar

from orchestrator.client.manager import DownloadManager
from orchestrator.errors import BackgroundAssetsError, ErrorCode
from orchestrator.service.views import DownloadView
from orchestrator.storage.lock import Hold, exclusive_control_sync

T = TypeVar("T")


class BlockingDownloadManager:
    """``with BlockingDownloadManager(app_id) as manager:`` connects as that app."""

    def __init__(self, app_id: str, state_dir: str | Path | None = None, *,
                 wait_until_launchable: bool = False) -> None:
        self._manager = DownloadManager(app_id, state_dir,
                                        wait_until_launchable=wait_until_launchable)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name=f"bgassets-{app_id}")

    @property
    def delegate(self) -> Any:
        return self._manager.delegate

    @delegate.setter
    def delegate(self, delegate: Any) -> None:
        self._manager.delegate = delegate

    @property
    def app_id(self) -> str:
        return self._manager.app_id

    @property
    def install_progress(self) -> float:
        return self._manager.install_progress

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result()

    def __enter__(self) -> BlockingDownloadManager:
        self._thread.start()
        try:
            self._run(self._manager.__aenter__())
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._run(self._manager.__aexit__(None, None, None))
        finally:
            self._stop()

    def _stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def fetch_current_downloads(self) -> list[DownloadView]:
        return self._run(self._manager.fetch_current_downloads())

    def download(self, download_id: str, url: str, *, size: int | None = None,
                 sha256: str | None = None, priority: int = 50) -> DownloadView:
        return self._manager.download(download_id, url, size=size, sha256=sha256,
                                      priority=priority)

    def schedule(self, download: DownloadView) -> DownloadView:
        return self._run(self._manager.schedule(download))

    def start_foreground(self, download: DownloadView | str) -> None:
        self._run(self._manager.start_foreground(download))

    def cancel(self, download: DownloadView | str) -> None:
        self._run(self._manager.cancel(download))

    def exclusive_control(self, deadline: float | None = None) -> AbstractContextManager[Hold]:
        """The app group's lock across processes, blocking (``withExclusiveControl``)."""
        manager = self._manager
        if not manager.app_group:
            raise BackgroundAssetsError(f"{manager.app_id} is not connected",
                                        ErrorCode.APP_NOT_INSTALLED)
        return exclusive_control_sync(manager.state_dir, manager.app_group, deadline)
