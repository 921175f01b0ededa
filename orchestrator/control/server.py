"""The control API: aiohttp over a Unix socket (mode 0600) next to the journal.

Every request may name the app it acts for (header ``X-BGAssets-App``); such a
client sees and changes only that app, as an app sees only its own downloads
in the framework. A client without it is the machine's owner (the socket is
private to the user) and sees everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import re
import socket
from collections.abc import Awaitable, Callable, Collection, Iterator
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from orchestrator.control.connections import RemoteDelegate
from orchestrator.control.device import DEVICE_CONDITIONS, changed_device
from orchestrator.errors import BackgroundAssetsError, ErrorCode
from orchestrator.model.auth import ChallengeAnswer, ChallengeDisposition, Credential
from orchestrator.model.enums import DownloadState
from orchestrator.service.controls import LocalControls, PackAction
from orchestrator.service.orchestrator import Orchestrator
from orchestrator.service.views import DownloadView, to_json

APP_HEADER = "X-BGAssets-App"
# How often an idle event stream checks that its client is still there: aiohttp does not
# cancel a handler whose client left, and a stream that waits forever would hold the
# daemon's shutdown for aiohttp's whole shutdown timeout.
STREAM_CHECK_SECONDS = 1.0


def refuse_second_daemon(path: Path) -> None:
    """Raise ``STATE_DIR_BUSY`` when a daemon already listens on ``path``."""
    if someone_listens(path):
        raise BackgroundAssetsError(
            f"another bgassets daemon already listens on {path}; stop it first "
            "(or use another --state-dir)", ErrorCode.STATE_DIR_BUSY)


def someone_listens(path: Path) -> bool:
    """Whether a live process accepts connections on the socket at ``path``."""
    if not path.exists():
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


# A body names a manifest path or a few switches: anything larger is not a request of
# this API, and is refused before it is read whole.
MAX_BODY_BYTES = 64 * 1024
_MAX_BYTE_COUNT = 2**63 - 1  # what the journal's integers hold
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
T = TypeVar("T")


def _invalid(message: str) -> BackgroundAssetsError:
    return BackgroundAssetsError(message, ErrorCode.REQUEST_INVALID)


async def _json_object(request: web.Request, fields: Collection[str] = ()) -> dict[str, Any]:
    """The request's JSON object body ({} without a body), refused (1073
    ``requestInvalid``) unless every key is one of ``fields``."""
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except web.HTTPRequestEntityTooLarge:
        raise _invalid(f"the body is over {MAX_BODY_BYTES} bytes") from None
    except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        body = None
    if not isinstance(body, dict):
        raise _invalid("the body must be a JSON object")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        expected = ", ".join(sorted(fields)) if fields else "no body"
        raise _invalid(f"unknown field(s) {', '.join(unknown)} in the body; expected "
                       f"{expected}")
    return body


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise _invalid(f"{name}: expected a string, got {value!r}")
    return value


def _optional_byte_count(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                              or not 0 <= value <= _MAX_BYTE_COUNT):
        raise _invalid(f"{name}: expected a number of bytes, got {value!r}")
    return value


def _open(request: web.Request) -> bool:
    """Whether the client of a streamed answer is still there."""
    return request.transport is not None and not request.transport.is_closing()


async def _line(response: web.StreamResponse, data: dict[str, Any]) -> None:
    await _write_lines(response, [data])


async def _waiting(queue: asyncio.Queue[T]) -> list[T]:
    """Every item waiting on ``queue`` ([] after STREAM_CHECK_SECONDS of quiet, so that a
    stream notices a client gone): a burst goes out in one write instead of a timed wait
    and a write per item."""
    if queue.empty():
        try:
            first = await asyncio.wait_for(queue.get(), STREAM_CHECK_SECONDS)
        except TimeoutError:
            return []
        lines = [first]
    else:
        lines = []
    while not queue.empty():
        lines.append(queue.get_nowait())
    return lines


async def _write_lines(response: web.StreamResponse, lines: list[dict[str, Any]]) -> None:
    if lines:
        await response.write("".join(json.dumps(line) + "\n" for line in lines).encode())


def _error(error: BackgroundAssetsError) -> web.Response:
    status = {ErrorCode.APP_NOT_INSTALLED: 404, ErrorCode.DOWNLOAD_NOT_SCHEDULED: 404,
              ErrorCode.CALL_FROM_EXTENSION_NOT_ALLOWED: 403,
              ErrorCode.REQUEST_INVALID: 400}.get(error.code, 409)
    return web.json_response(error.as_dict(), status=status)


class ControlServer:
    """Serves one orchestrator on its state dir's control socket.

    Every route reads the service's views and acts through its :class:`LocalControls`:
    what a client of the socket can do is what an in-process client can.
    """

    def __init__(self, orchestrator: Orchestrator, path: Path) -> None:
        self.controls = LocalControls(orchestrator)
        self.path = path
        self._connections: dict[str, RemoteDelegate] = {}
        self._runner: web.AppRunner | None = None
        self._streams: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> ControlServer:
        app = web.Application(middlewares=[self._errors], client_max_size=MAX_BODY_BYTES)
        app.add_routes([
            web.get("/v1/status", self.status),
            web.get("/v1/downloads", self.downloads),
            web.post("/v1/downloads/{download}/{action}", self.act),
            web.get("/v1/apps/{app}/downloads/{download}/history", self.history),
            web.get("/v1/apps/{app}/connect", self.connect),
            web.post("/v1/apps/{app}/downloads", self.schedule),
            web.post("/v1/apps/{app}/answers", self.answers),
            web.post("/v1/apps/{app}/challenges", self.challenges),
            web.post("/v1/apps/{app}/install/{action}", self.install_action),
            web.get("/v1/apps/{app}/packs", self.packs),
            web.post("/v1/apps/{app}/packs/check", self.check_packs),
            web.post("/v1/apps/{app}/packs/{pack}/{action}", self.pack_action),
            web.post("/v1/apps", self.install),
            web.post("/v1/apps/{app}/{action}", self.app_action),
            web.post("/v1/purge", self.purge),
            web.post("/v1/device", self.device),
            web.get("/v1/events", self.events),
        ])
        refuse_second_daemon(self.path)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a socket left behind by a daemon that was killed
        old_umask = os.umask(0o177)
        try:
            await web.UnixSite(self._runner, str(self.path)).start()
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)
        return self

    async def __aexit__(self, *exc: object) -> None:
        # Event streams never end on their own: end them so the clients see the daemon stop.
        for task in self._streams:
            task.cancel()
        if self._streams:
            await asyncio.wait(self._streams, timeout=STREAM_CHECK_SECONDS)
        if self._runner is not None:
            await self._runner.cleanup()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)  # type: ignore[no-any-return]
        except BackgroundAssetsError as error:
            return _error(error)
        except OSError as error:
            if error.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            where = f"{error.filename}: " if error.filename else ""
            return _error(BackgroundAssetsError(
                f"{where}the disk is full ({error.strerror}); free some space there",
                ErrorCode.DISK_ERROR))

    def _installed(self, app_id: str) -> str:
        if not self.controls.installed(app_id):
            raise BackgroundAssetsError(f"{app_id} is not installed", ErrorCode.APP_NOT_INSTALLED)
        return app_id

    def _scope(self, request: web.Request) -> str | None:
        app = request.headers.get(APP_HEADER)
        return None if app is None else self._installed(app)

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response(to_json(self.controls.snapshot(self._scope(request))))

    async def downloads(self, request: web.Request) -> web.Response:
        rows = await self.controls.downloads(self._scope(request))
        return web.json_response([to_json(row) for row in rows])

    async def act(self, request: web.Request) -> web.Response:
        await _json_object(request)
        scope = self._scope(request)
        download, action = request.match_info["download"], request.match_info["action"]
        controls = self.controls
        actions = {"promote": controls.promote, "cancel": controls.cancel,
                   "pause": controls.pause, "resume": controls.resume}
        if action not in actions:
            raise web.HTTPNotFound(text=f"unknown action {action!r}")
        # Looked up in the scope's app: download ids are unique within one app only.
        app_id = await actions[action](download, scope)
        return web.json_response({"download": download, "action": action, "app": app_id})

    async def history(self, request: web.Request) -> web.Response:
        """Every move of one download of one app the journal holds, oldest first."""
        app_id = self._own_app(request)
        moves = await self.controls.history(app_id, request.match_info["download"])
        return web.json_response([to_json(move) for move in moves])

    def _own_app(self, request: web.Request) -> str:
        """The app of the route, which an app-scoped client may only name as itself."""
        scope, app_id = self._scope(request), request.match_info["app"]
        if scope is not None and scope != app_id:
            raise BackgroundAssetsError(f"a client of {scope} cannot act for {app_id}",
                                        ErrorCode.CALL_FROM_EXTENSION_NOT_ALLOWED)
        return app_id if scope is not None else self._installed(app_id)

    async def connect(self, request: web.Request) -> web.StreamResponse:
        """An app connects: it runs, and its delegate's callbacks stream down this answer
        until it leaves (see :mod:`orchestrator.control.connections`). ``?wait=1`` waits
        until it is launchable, streaming its install progress meanwhile."""
        app_id = self._own_app(request)
        delegate, wait = RemoteDelegate(app_id), request.query.get("wait") == "1"
        unsubscribe = self.controls.events.subscribe(delegate.heard)
        try:
            if not wait:
                await self.controls.launch(app_id, delegate)  # a refusal answers 409
            response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
            await response.prepare(request)
            return await self._connected(request, response, delegate, wait)
        finally:
            unsubscribe()
            delegate.close()
            with contextlib.suppress(BackgroundAssetsError):
                await self.controls.disconnect(app_id, delegate)
            if self._connections.get(app_id) is delegate:
                del self._connections[app_id]

    async def _connected(self, request: web.Request, response: web.StreamResponse,
                         delegate: RemoteDelegate, wait: bool) -> web.StreamResponse:
        with self._streaming():
            if wait and not await self._launch_when_ready(request, response, delegate):
                return response
            older = self._connections.get(delegate.app_id)
            self._connections[delegate.app_id] = delegate
            if older is not None:
                older.close()  # the newest connection of an app is the one it runs in
            await _line(response, {"callback": "connected", "app": delegate.app_id})
            while _open(request):
                lines = await _waiting(delegate.lines)
                await _write_lines(response, [line for line in lines if line is not None])
                if None in lines:  # the delegate closed: nothing comes after it
                    break
        return response

    @contextlib.contextmanager
    def _streaming(self) -> Iterator[None]:
        """The current task streams an answer until the block ends: the daemon's stop
        cancels it, and a client that leaves or a cancel ends it quietly."""
        task = asyncio.current_task()
        assert task is not None
        self._streams.add(task)
        try:
            yield
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._streams.discard(task)

    async def _launch_when_ready(self, request: web.Request, response: web.StreamResponse,
                                 delegate: RemoteDelegate) -> bool:
        """Stream install progress until the app is launchable, then launch it; False
        (with the refusal as the last line) when it cannot be."""
        app_id = delegate.app_id
        while not await self.controls.until_launchable(app_id, STREAM_CHECK_SECONDS):
            if not _open(request):
                return False
            view = self.controls.snapshot(app_id).app(app_id)
            await _line(response, {"callback": "installing",
                                   "progress": view.progress if view else 0.0})
        try:
            await self.controls.launch(app_id, delegate)
        except BackgroundAssetsError as error:
            await _line(response, {"callback": "refused", **error.as_dict()})
            return False
        return True

    async def schedule(self, request: web.Request) -> web.Response:
        """The running app schedules a background download: ``{"download": ID, "url":
        URL}`` with optional ``size``, ``sha256`` and ``priority`` (never ``essential``:
        109). Answers the download as scheduled."""
        app_id = self._own_app(request)
        body = await _json_object(request, ("download", "url", "size", "sha256", "priority",
                                            "essential"))
        download_id, url = _optional_text(body, "download"), _optional_text(body, "url")
        sha256, priority = _optional_text(body, "sha256"), body.get("priority", 50)
        if not download_id or url is None or not url.startswith(("http://", "https://")):
            raise _invalid('the body must name the download and its http(s) url: '
                           '{"download": "ID", "url": "https://..."}')
        if sha256 is not None and not _SHA256.fullmatch(sha256):
            raise _invalid(f"sha256: expected 64 hex digits, got {sha256!r}")
        if type(priority) is not int or not 0 <= priority <= 100:
            raise _invalid(f"priority: expected 0 to 100, got {priority!r}")
        request_view = DownloadView(app_id, download_id, DownloadState.CREATED,
                                    essential=body.get("essential") is True, priority=priority,
                                    total=_optional_byte_count(body, "size"), url=url,
                                    sha256=sha256)
        return web.json_response(to_json(await self.controls.schedule(app_id, request_view)))

    async def answers(self, request: web.Request) -> web.Response:
        """The connected app returned from the ``finished`` callbacks ``{"tokens": [...]}``
        (several at once: one request per file would cost more than the file)."""
        body = await _json_object(request, ("tokens", "declined"))
        app_id = self._own_app(request)
        tokens, declined = body.get("tokens", []), body.get("declined", [])
        for name, value in (("tokens", tokens), ("declined", declined)):
            if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
                raise _invalid(f'{name}: expected a list of tokens, e.g. ["1", "2"]')
        connection = self._connections.get(app_id)
        if connection is None:
            raise BackgroundAssetsError(f"{app_id} is not connected",
                                        ErrorCode.REQUEST_INVALID)
        for token in tokens:
            connection.answered(token)
        for token in declined:
            connection.answered(token, taken=False)
        return web.json_response({"app": app_id, "answered": len(tokens) + len(declined)})

    async def challenges(self, request: web.Request) -> web.Response:
        """The connected app's answer to a ``challenge`` callback: ``{"token": T}`` plus
        ``"credential": {"user", "password"} | {"token"}``, or ``"disposition":
        "cancelAuthenticationChallenge"``; neither is default handling (the extension
        answers). The credential is kept in memory only, never logged."""
        body = await _json_object(request, ("token", "credential", "disposition"))
        app_id = self._own_app(request)
        token = body.get("token")
        if not isinstance(token, str):
            raise _invalid('token: expected the challenge callback\'s token, e.g. "3"')
        disposition = body.get("disposition", ChallengeDisposition.USE_CREDENTIAL.value)
        try:
            chosen = ChallengeDisposition(disposition)
        except ValueError:
            choices = ", ".join(d.value for d in ChallengeDisposition)
            raise _invalid(f"disposition: expected one of {choices}") from None
        answer: ChallengeAnswer = None
        if chosen is ChallengeDisposition.CANCEL:
            answer = chosen
        elif body.get("credential") is not None:
            answer = Credential.from_json(body["credential"])
            if answer is None:
                raise _invalid('credential: expected {"user": U, "password": P} '
                               'or {"token": T}')
        connection = self._connections.get(app_id)
        if connection is None:
            raise BackgroundAssetsError(f"{app_id} is not connected",
                                        ErrorCode.REQUEST_INVALID)
        connection.challenged(token, answer)
        return web.json_response({"app": app_id, "answered": token})

    async def app_action(self, request: web.Request) -> web.Response:
        """``launch`` (the app starts running: foreground promotion becomes possible),
        ``terminate``, ``periodic``, ``uninstall``, and ``install`` / ``update`` from the
        app manifest the daemon installed it from (read again, so an edited version is an
        update); an app-scoped client acts on its own app only."""
        await _json_object(request)
        app_id = self._own_app(request)
        action, controls = request.match_info["action"], self.controls
        calls: dict[str, Callable[[str], Awaitable[object]]] = {
            "launch": controls.launch, "terminate": controls.terminate,
            "periodic": controls.periodic, "uninstall": controls.uninstall,
            "install": controls.install, "update": controls.update}
        if action not in calls:
            raise web.HTTPNotFound(text=f"unknown action {action!r}")
        await calls[action](app_id)
        return self._app_answer(app_id, action)

    async def install_action(self, request: web.Request) -> web.Response:
        """``pause``, ``resume`` or ``cancel`` the app's install or update as a whole while
        the app is not launchable yet; answers how many downloads it acted on and the
        app's state after it (null once cancelled: not installed)."""
        await _json_object(request)
        app_id = self._own_app(request)
        action, controls = request.match_info["action"], self.controls
        calls: dict[str, Callable[[str], Awaitable[int]]] = {
            "pause": controls.pause_install, "resume": controls.resume_install,
            "cancel": controls.cancel_install}
        if action not in calls:
            raise web.HTTPNotFound(text=f"unknown install action {action!r}: expected pause, "
                                   "resume or cancel")
        downloads = await calls[action](app_id)
        view = self.controls.snapshot(app_id).app(app_id)
        return web.json_response({"app": app_id, "action": f"{action}-install",
                                  "downloads": downloads,
                                  "state": str(view.state) if view else None})

    async def packs(self, request: web.Request) -> web.Response:
        """The app's asset packs: each with its policy, catalog and local versions, sizes,
        pending downloads and status flags."""
        app_id = self._own_app(request)
        return web.json_response([to_json(view) for view in await self.controls.packs(app_id)])

    async def pack_action(self, request: web.Request) -> web.Response:
        """``ensure`` (answers the downloads scheduled), ``remove`` (the bytes freed) or
        ``rollback`` (the version now current) one asset pack of the app."""
        await _json_object(request)
        app_id, pack_id = self._own_app(request), request.match_info["pack"]
        try:
            action = PackAction(request.match_info["action"])
        except ValueError:
            raise web.HTTPNotFound(text=f"unknown pack action {request.match_info['action']!r}"
                                   ": expected ensure, remove or rollback") from None
        result = await self.controls.pack_action(app_id, pack_id, action)
        return web.json_response({"app": app_id, "pack": pack_id, "action": action.value,
                                  "result": result})

    async def check_packs(self, request: web.Request) -> web.Response:
        """Read the app's pack catalog again: ``{"updating": [...], "removed": [...]}``."""
        await _json_object(request)
        app_id = self._own_app(request)
        updating, removed = await self.controls.check_packs(app_id)
        return web.json_response({"app": app_id, "updating": updating, "removed": removed})

    def _app_answer(self, app_id: str, action: str) -> web.Response:
        view = self.controls.snapshot(app_id).app(app_id)
        return web.json_response({"app": app_id, "action": action,
                                  "version": view.version if view else None})

    async def install(self, request: web.Request) -> web.Response:
        """Install, or update, the app of a manifest the daemon has not seen yet: the body
        is ``{"manifest": ABSOLUTE_PATH}``, with ``"request": "update"`` to refuse an app
        that is not installed. The machine's owner only: an app does not install others."""
        if request.headers.get(APP_HEADER) is not None:
            raise BackgroundAssetsError("installing apps is for the machine's owner, not an "
                                        "app", ErrorCode.CALL_FROM_EXTENSION_NOT_ALLOWED)
        body = await _json_object(request, ("manifest", "request"))
        manifest, action = _optional_text(body, "manifest"), body.get("request", "install")
        if manifest is None or not Path(manifest).is_absolute():
            raise BackgroundAssetsError('the body must name the app manifest by its absolute '
                                        'path: {"manifest": "/path/to/app.yaml"}',
                                        ErrorCode.REQUEST_INVALID)
        if not isinstance(action, str) or action not in ("install", "update"):
            raise BackgroundAssetsError(f"request {action!r}: expected install or update",
                                        ErrorCode.REQUEST_INVALID)
        if not Path(manifest).is_file():
            raise BackgroundAssetsError(f"{manifest}: no such file", ErrorCode.MANIFEST_INVALID)
        call = self.controls.install if action == "install" else self.controls.update
        app_id = await call(None, Path(manifest))
        return self._app_answer(app_id, action)

    async def device(self, request: web.Request) -> web.Response:
        """Change device conditions (the body names the switches to set, see
        :func:`changed_device`); the machine's owner only. Answers the new device."""
        if request.headers.get(APP_HEADER) is not None:
            raise BackgroundAssetsError("device conditions are for the machine's owner, "
                                        "not an app", ErrorCode.CALL_FROM_EXTENSION_NOT_ALLOWED)
        changes = await _json_object(request, DEVICE_CONDITIONS)
        device = self.controls.snapshot().device
        return web.json_response(to_json(await self.controls.set_device(
            changed_device(device, changes))))

    async def purge(self, request: web.Request) -> web.Response:
        """Evict purgeable files: ``{"bytes": N}`` frees at least N bytes, ``{"app": ID}``
        looks at that app's files only; the machine's owner only."""
        if request.headers.get(APP_HEADER) is not None:
            raise BackgroundAssetsError("purge is for the machine's owner, not an app",
                                        ErrorCode.CALL_FROM_EXTENSION_NOT_ALLOWED)
        body = await _json_object(request, ("bytes", "app"))
        amount, app_id = _optional_byte_count(body, "bytes"), _optional_text(body, "app")
        if app_id is not None:
            self._installed(app_id)
        freed = await self.controls.purge(amount, app_id)
        return web.json_response({"freed": freed, "app": app_id})

    async def events(self, request: web.Request) -> web.StreamResponse:
        """The event stream as NDJSON, one event per line, until the client leaves."""
        scope = self._scope(request)
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        # Subscribed before the headers go out: a client that reads /v1/status once it has
        # them misses no event in between.
        queue = self.controls.events.queue()
        try:
            with self._streaming():
                await response.prepare(request)
                while _open(request):
                    lines = [event.to_json() + "\n" for event in await _waiting(queue)
                             if scope is None or event.app in (scope, None)]
                    if lines:
                        await response.write("".join(lines).encode())
        finally:
            self.controls.events.unqueue(queue)
        return response
