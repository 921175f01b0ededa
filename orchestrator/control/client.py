"""A client of the control API: its routes as calls, answers as JSON or as views.

The raw answers (``status``, ``downloads``) are the wire format; ``snapshot`` and
``download_views`` read them into the service's typed views, which is what the
CLI's daemon commands and :class:`orchestrator.control.remote.RemoteControls` use.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from orchestrator.control.server import APP_HEADER
from orchestrator.control.sockets import check_socket
from orchestrator.errors import BackgroundAssetsError, DaemonUnavailable, ErrorCode
from orchestrator.model.auth import ChallengeAnswer, ChallengeDisposition, Credential
from orchestrator.model.enums import ContentRequest
from orchestrator.packs.catalog import PACK_ID
from orchestrator.service.views import (
    DownloadView,
    HistoryEntry,
    PackView,
    Snapshot,
    download_from_json,
    history_from_json,
    pack_from_json,
    snapshot_from_json,
)

T = TypeVar("T")


def _refusal(status: int, text: str) -> BackgroundAssetsError:
    """The error a refusal of the daemon (HTTP ``status``, body ``text``) stands for."""
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        return BackgroundAssetsError(f"the daemon answered {status}: {text.strip()[:200]}",
                                     ErrorCode.BAD_SERVER_ANSWER)
    try:
        code = ErrorCode(answer.get("code", int(ErrorCode.BAD_SERVER_ANSWER)))
    except (ValueError, TypeError):  # a daemon of another version
        code = ErrorCode.BAD_SERVER_ANSWER
    return BackgroundAssetsError(str(answer.get("message", "refused")), code)


class ControlClient:
    """Talks to the daemon of one state dir, optionally as one app."""

    def __init__(self, path: Path, app: str | None = None) -> None:
        self.path = path
        self.headers = {APP_HEADER: app} if app else {}
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ControlClient:
        check_socket(self.path)
        if not self.path.exists():
            raise DaemonUnavailable(
                f"no daemon at {self.path}: start one with `bgassets daemon` (same --state-dir)")
        self._session = aiohttp.ClientSession(
            connector=aiohttp.UnixConnector(path=str(self.path)), headers=self.headers,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=5))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def _call(self, method: str, route: str, body: Any = None,
                    app: str | None = None) -> Any:
        assert self._session is not None
        headers = {APP_HEADER: app} if app else None
        try:
            async with self._session.request(method, f"http://daemon/v1/{route}",
                                             json=body, headers=headers) as response:
                status, text = response.status, await response.text()
        except aiohttp.ClientError as error:
            raise DaemonUnavailable(f"the daemon at {self.path} does not answer ({error}); "
                                    "is it still running?") from error
        if status >= 400:
            raise _refusal(status, text)
        try:
            return json.loads(text)
        except ValueError:
            raise BackgroundAssetsError(f"the daemon answered {status}: {text.strip()[:200]}",
                                        ErrorCode.BAD_SERVER_ANSWER) from None

    async def _object(self, method: str, route: str, body: Any = None,
                      app: str | None = None) -> dict[str, Any]:
        """The answer of a route that answers one JSON object; 1041 for anything else."""
        answer = await self._call(method, route, body, app)
        if not isinstance(answer, dict):
            raise BackgroundAssetsError(f"the daemon at {self.path} answered {route} with "
                                        f"{type(answer).__name__}, not an object",
                                        ErrorCode.BAD_SERVER_ANSWER)
        return answer

    async def status(self) -> dict[str, Any]:
        return await self._object("GET", "status")

    async def downloads(self) -> list[dict[str, Any]]:
        answer = await self._call("GET", "downloads")
        if not isinstance(answer, list) or not all(isinstance(row, dict) for row in answer):
            raise BackgroundAssetsError(f"the daemon at {self.path} answered downloads with "
                                        "something else than a list of objects",
                                        ErrorCode.BAD_SERVER_ANSWER)
        return answer

    async def history(self, app: str, download: str) -> list[HistoryEntry]:
        """Every move of download ``download`` of ``app`` the daemon's journal holds."""
        answer = await self._call("GET", f"apps/{app}/downloads/{download}/history")
        return self._read("history", lambda: [history_from_json(entry) for entry in answer])

    async def snapshot(self) -> Snapshot:
        """``GET /v1/status`` as a :class:`Snapshot`."""
        status = await self.status()
        return self._read("status", lambda: snapshot_from_json(status))

    async def download_views(self) -> list[DownloadView]:
        """``GET /v1/downloads`` as :class:`DownloadView` values."""
        rows = await self.downloads()
        return self._read("downloads", lambda: [download_from_json(row) for row in rows])

    def _read(self, route: str, read: Callable[[], T]) -> T:
        """``read()`` of an answer of ``route``; 1026 when it is of a shape the views
        cannot read (an entry that is not an object, a field missing)."""
        try:
            return read()
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            what = f"no {error}" if isinstance(error, KeyError) else str(error)
            raise BackgroundAssetsError(f"the daemon at {self.path} answered {route} with "
                                        f"something this client cannot read ({what})",
                                        ErrorCode.BAD_SERVER_ANSWER) from None

    async def act(self, download: str, action: str, app: str | None = None) -> dict[str, Any]:
        """promote, cancel, pause or resume download ``download`` (an id), as ``app`` when
        given: the daemon then looks the id up among that app's downloads first."""
        return await self._object("POST", f"downloads/{download}/{action}", app=app)

    async def app_action(self, app: str, action: str) -> dict[str, Any]:
        """launch, terminate, periodic, uninstall, or install / update from the manifest
        the daemon installed ``app`` from."""
        return await self._object("POST", f"apps/{app}/{action}")

    async def install_action(self, app: str, action: str) -> dict[str, Any]:
        """pause, resume or cancel the install of ``app`` as a whole; answers the app, the
        action, how many ``downloads`` it acted on and the app's ``state`` after it."""
        answer = await self._object("POST", f"apps/{app}/install/{action}")
        downloads = answer.get("downloads")
        if not isinstance(downloads, int) or isinstance(downloads, bool):
            raise BackgroundAssetsError(f"the daemon at {self.path} answered {action}-install "
                                        "without the downloads it acted on",
                                        ErrorCode.BAD_SERVER_ANSWER)
        return answer

    async def packs(self, app: str) -> list[PackView]:
        """The asset packs of ``app``."""
        answer = await self._call("GET", f"apps/{app}/packs", app=app)
        return self._read("packs", lambda: [pack_from_json(row) for row in answer])

    async def pack_action(self, app: str, pack: str, action: str) -> int | str:
        """ensure, remove or rollback one asset pack; what the action answers. An id that
        cannot be a pack's (``..``, a slash, ...) is refused here: in a URL it would name
        another route."""
        if not PACK_ID.fullmatch(pack):
            raise BackgroundAssetsError(f"{app} has no asset pack {pack[:80]!r}: not a pack id",
                                        ErrorCode.DOWNLOAD_DOES_NOT_EXIST)
        answer = await self._object("POST", f"apps/{app}/packs/{pack}/{action}", app=app)
        result = answer.get("result")
        if not isinstance(result, int | str) or isinstance(result, bool):
            raise BackgroundAssetsError(f"the daemon at {self.path} answered {action} of pack "
                                        f"{pack} without its result", ErrorCode.BAD_SERVER_ANSWER)
        return result

    async def check_packs(self, app: str) -> tuple[list[str], list[str]]:
        """Read the app's pack catalog again: (packs updating, packs removed)."""
        answer = await self._object("POST", f"apps/{app}/packs/check", app=app)
        return self._read("packs/check", lambda: (
            [str(p) for p in answer["updating"]], [str(p) for p in answer["removed"]]))

    async def install(self, manifest: Path,
                      request: ContentRequest = ContentRequest.INSTALL) -> dict[str, Any]:
        """Install (``ContentRequest.UPDATE``: update) the app of ``manifest``, a path the
        daemon reads; answers the app id, the action and the version."""
        body = {"manifest": str(Path(manifest).resolve()), "request": request.name.lower()}
        return await self._object("POST", "apps", body)

    async def purge(self, bytes_to_free: int | None, app: str | None = None) -> int:
        """Evict purgeable files (of ``app`` only when given); the bytes freed."""
        body: dict[str, Any] = {"bytes": bytes_to_free}
        if app is not None:
            body["app"] = app
        freed = (await self._object("POST", "purge", body)).get("freed")
        if not isinstance(freed, int) or isinstance(freed, bool):
            raise BackgroundAssetsError(f"the daemon at {self.path} answered purge without "
                                        "the bytes freed", ErrorCode.BAD_SERVER_ANSWER)
        return freed

    async def set_device(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Set the named device conditions (see ``device.changed_device``); the new device."""
        return await self._object("POST", "device", changes)

    @contextlib.asynccontextmanager
    async def connection(self, app: str,
                         wait: bool = False) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """Connect as app ``app`` (it runs while the block does): its delegate's callbacks,
        one dict each, ending with DaemonUnavailable when the daemon stops. ``wait``
        waits until the app is launchable instead of being refused (1031)."""
        assert self._session is not None
        route = f"http://daemon/v1/apps/{app}/connect" + ("?wait=1" if wait else "")
        try:
            response = await self._session.get(route, headers={APP_HEADER: app})
        except aiohttp.ClientError as error:
            raise DaemonUnavailable(f"the daemon at {self.path} does not answer ({error}); "
                                    "is it still running?") from error
        async with response:
            if response.status >= 400:
                raise _refusal(response.status, await response.text())
            yield self._lines(response)

    async def schedule(self, app: str, request: DownloadView) -> DownloadView:
        """Schedule, as running app ``app``, the background download ``request`` describes."""
        body: dict[str, Any] = {"download": request.id, "url": request.url,
                                "priority": request.priority}
        for name, value in (("size", request.total), ("sha256", request.sha256)):
            if value is not None:
                body[name] = value
        if request.essential:
            body["essential"] = True  # refused (109): said rather than dropped
        answer = await self._object("POST", f"apps/{app}/downloads", body, app=app)
        return self._read("schedule", lambda: download_from_json(answer))

    async def answer(self, app: str, tokens: Sequence[str],
                     declined: Sequence[str] = ()) -> None:
        """App ``app`` returned from the ``finished`` callbacks ``tokens``; those of
        ``declined`` it does not take (its extension gets those files)."""
        body = {"tokens": list(tokens), "declined": list(declined)}
        await self._object("POST", f"apps/{app}/answers", body, app=app)

    async def answer_challenge(self, app: str, token: str, answer: ChallengeAnswer) -> None:
        """App ``app``'s answer to the ``challenge`` callback ``token``."""
        body: dict[str, Any] = {"token": token}
        if answer is ChallengeDisposition.CANCEL:
            body["disposition"] = answer.value
        elif isinstance(answer, Credential):
            body["credential"] = answer.to_json()
        await self._object("POST", f"apps/{app}/challenges", body, app=app)

    @contextlib.asynccontextmanager
    async def event_stream(self) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """The daemon's events, subscribed once the block is entered (so a status read
        inside the block misses nothing); iterating ends with DaemonUnavailable when the
        daemon stops."""
        assert self._session is not None
        try:
            response = await self._session.get("http://daemon/v1/events")
        except aiohttp.ClientError as error:
            raise DaemonUnavailable(f"the daemon at {self.path} does not answer ({error}); "
                                    "is it still running?") from error
        async with response:
            yield self._lines(response)

    async def _lines(self, response: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
        try:
            async for line in response.content:
                if line.strip():
                    yield json.loads(line)
        except aiohttp.ClientError as error:
            raise DaemonUnavailable(f"lost the daemon at {self.path} ({error})") from error
        raise DaemonUnavailable(f"the daemon at {self.path} stopped")

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """The daemon's events, one dict each, until it stops (then DaemonUnavailable)."""
        async with self.event_stream() as events:
            async for event in events:
                yield event
