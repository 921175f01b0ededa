"""``DownloadManager``: the framework's download manager, for an app in its own process.

An app connects to the daemon of the state dir as itself; while connected it is
running (a launch in its history), and its delegate gets the callbacks the
extension would get otherwise::

    async with DownloadManager("com.example.game") as manager:
        manager.delegate = MyDelegate()
        for download in await manager.fetch_current_downloads():
            await manager.start_foreground(download)

A delegate has any of ``began(download)``, ``paused(download)``,
``progress(download, written, expected)``, ``finished(download, path)``,
``failed(download, error)`` and ``challenge(download, challenge)``, plain or
``async``. ``finished`` gets the file at an ephemeral path and moves it before it
returns; what is left is removed. If the app leaves before it returns, the extension
gets the file instead. ``challenge`` answers a server's 401 (or a proxy's 407) with a
:class:`Credential`, ``ChallengeDisposition.CANCEL`` (the download fails), or None:
the extension answers, as the framework's ``performDefaultHandling``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from orchestrator.control.client import ControlClient
from orchestrator.control.sockets import socket_path
from orchestrator.errors import BackgroundAssetsError, DaemonUnavailable, ErrorCode
from orchestrator.model.auth import Challenge, ChallengeAnswer, ChallengeDisposition, Credential
from orchestrator.model.enums import DownloadState
from orchestrator.service.views import DownloadView, download_from_json
from orchestrator.storage.containers import Layout
from orchestrator.storage.lock import Hold, exclusive_control
from orchestrator.storage.places import default_state_dir

_log = logging.getLogger("bgassets.client")


class DownloadManager:
    """The connection of app ``app_id`` to the daemon of ``state_dir`` (the default one:
    ``BGASSETS_STATE_DIR``, else the platform's user state folder).

    ``wait_until_launchable``: connecting while essential downloads are pending waits
    for them (``install_progress`` follows them) instead of raising 1050
    ``appNotLaunchable``.
    """

    def __init__(self, app_id: str, state_dir: str | Path | None = None, *,
                 wait_until_launchable: bool = False) -> None:
        self.app_id = app_id
        self.state_dir = Path(state_dir if state_dir is not None else default_state_dir())
        self.wait_until_launchable = wait_until_launchable
        self.delegate: Any = None
        self.install_progress = 0.0
        self.app_group = ""
        self._client = ControlClient(socket_path(self.state_dir), app=app_id)
        self._stack = contextlib.AsyncExitStack()
        self._reader: asyncio.Task[None] | None = None
        self._unanswered: list[str] = []
        self._declined: list[str] = []
        self._answering: asyncio.Task[None] | None = None
        self._challenging: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> DownloadManager:
        try:
            await self._stack.enter_async_context(self._client)
            lines = await self._stack.enter_async_context(
                self._client.connection(self.app_id, wait=self.wait_until_launchable))
            await self._until_connected(lines)
            view = (await self._client.snapshot()).app(self.app_id)
            self.app_group = view.app_group if view is not None else ""
        except BaseException:
            await self._stack.aclose()
            raise
        self._reader = asyncio.create_task(self._dispatch(lines), name=f"bgassets-{self.app_id}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, BackgroundAssetsError):
                await self._reader
        if self._answering is not None:  # files moved are answered for before the end
            await asyncio.wait([self._answering], timeout=5)
        await self._stack.aclose()  # the connection ends: the app stops running

    async def _until_connected(self, lines: AsyncIterator[dict[str, Any]]) -> None:
        """Read the connection's first lines: install progress while it waits, then
        ``connected``, or the refusal it ended with."""
        async for line in lines:
            callback = line.get("callback")
            if callback == "connected":
                return
            if callback == "installing":
                self.install_progress = float(line.get("progress") or 0.0)
            elif callback == "refused":
                raise BackgroundAssetsError(str(line.get("message")),
                                            _code(line.get("code")))
        raise DaemonUnavailable(f"the daemon at {self._client.path} closed the connection")

    # Callbacks -----------------------------------------------------------------------

    async def _dispatch(self, lines: AsyncIterator[dict[str, Any]]) -> None:
        """Call the delegate for each callback line, in order, until the connection ends."""
        with contextlib.suppress(DaemonUnavailable):
            async for line in lines:
                await self._callback(line)

    async def _callback(self, line: dict[str, Any]) -> None:
        callback, data = line.get("callback"), line.get("download")
        if not isinstance(data, dict) or not isinstance(callback, str):
            return
        if callback not in ("finished", "challenge") \
                and getattr(self.delegate, callback, None) is None:
            return  # nothing to call: not even worth reading the download
        token = str(line.get("token"))
        if callback == "challenge":
            # Answered in a task of its own: the other callbacks go on meanwhile, and a
            # delegate that asks a person for a password holds up nothing else.
            self._challenging.add(task := asyncio.create_task(
                self._challenge(token, download_from_json(data), line.get("challenge"))))
            task.add_done_callback(self._challenging.discard)
            return
        if callback == "finished" and getattr(self.delegate, "finished", None) is None:
            self._answer(token, taken=False)  # no delegate takes it: the extension does
            return
        download = download_from_json(data)
        if callback == "finished":
            try:
                await self._call("finished", download, Path(str(line.get("path"))))
            finally:
                # Returned (or raised): what it left at the path is removed. The answer
                # goes out while the next callback is read, not before it.
                self._answer(token)
        elif callback == "failed":
            error = BackgroundAssetsError(str(line.get("message")), _code(line.get("code")))
            await self._call("failed", download, error)
        elif callback == "progress":
            await self._call("progress", download, line.get("written"), line.get("expected"))
        elif callback in ("began", "paused"):
            await self._call(str(callback), download)

    async def _challenge(self, token: str, download: DownloadView, data: Any) -> None:
        """The delegate's ``challenge`` answer (none: default handling), sent back."""
        answer: ChallengeAnswer = None
        if isinstance(data, dict):
            answer = await self._call("challenge", download, Challenge.from_json(data))
        if not isinstance(answer, (Credential, ChallengeDisposition)):
            answer = None
        try:
            await self._client.answer_challenge(self.app_id, token, answer)
        except BackgroundAssetsError as error:
            _log.warning("challenge() answer not delivered: %s", error)

    def _answer(self, token: str, taken: bool = True) -> None:
        """Tell the daemon the delegate returned for ``token`` (or, ``taken`` False, that
        no delegate takes the file): with the other answers due, in one request, sent
        while the next callbacks are read."""
        (self._unanswered if taken else self._declined).append(token)
        if self._answering is None or self._answering.done():
            self._answering = asyncio.create_task(self._send_answers())

    async def _send_answers(self) -> None:
        while self._unanswered or self._declined:
            tokens, self._unanswered = self._unanswered, []
            declined, self._declined = self._declined, []
            try:
                await self._client.answer(self.app_id, tokens, declined)
            except BackgroundAssetsError as error:
                # The daemon left: it gives the unanswered files to the extension itself.
                _log.warning("finished() answers not delivered: %s", error)
                return

    async def _call(self, name: str, *args: Any) -> Any:
        """The delegate's ``name`` with ``args``, if it has one, and what it returned (None
        when it has none or raised: its errors are logged)."""
        method = getattr(self.delegate, name, None)
        if method is None:
            return None
        try:
            answer = method(*args)
            if inspect.isawaitable(answer):
                answer = await answer
        except Exception:
            _log.exception("the delegate's %s() failed", name)
            return None
        return answer

    # Downloads -----------------------------------------------------------------------

    async def fetch_current_downloads(self) -> list[DownloadView]:
        """The app's downloads that are scheduled and not finished yet."""
        views = await self._client.download_views()
        return [view for view in views if view.app == self.app_id and view.pending]

    def download(self, download_id: str, url: str, *, size: int | None = None,
                 sha256: str | None = None, priority: int = 50) -> DownloadView:
        """A download to :meth:`schedule` (``BAURLDownload``): not scheduled yet."""
        return DownloadView(self.app_id, download_id, DownloadState.CREATED, priority=priority,
                            total=size, url=url, sha256=sha256)

    async def schedule(self, download: DownloadView) -> DownloadView:
        """Schedule ``download`` in the background; its view as scheduled. An essential
        download is refused (109): those are the extension's, at install."""
        return await self._client.schedule(self.app_id, download)

    async def start_foreground(self, download: DownloadView | str) -> None:
        """Move a scheduled download to the foreground now; one that already transfers
        goes on from where it is."""
        await self._client.act(_download_id(download), "promote", app=self.app_id)

    async def cancel(self, download: DownloadView | str) -> None:
        await self._client.act(_download_id(download), "cancel", app=self.app_id)

    @property
    def container(self) -> Path:
        """The app group's container: where the app keeps the files it moved in."""
        return Layout(self.state_dir).container(self.app_group)

    def exclusive_control(self, deadline: float | None = None
                          ) -> AbstractAsyncContextManager[Hold]:
        """The app group's lock across processes, the one its extension takes
        (``withExclusiveControl``); ``deadline`` is a ``time.monotonic()`` value."""
        if not self.app_group:
            raise BackgroundAssetsError(f"{self.app_id} is not connected",
                                        ErrorCode.APP_NOT_INSTALLED)
        return exclusive_control(self.state_dir, self.app_group, deadline)


def _download_id(download: DownloadView | str) -> str:
    return download if isinstance(download, str) else download.id


def _code(value: Any) -> ErrorCode:
    try:
        return ErrorCode(int(value))
    except (TypeError, ValueError):
        return ErrorCode.BAD_SERVER_ANSWER
