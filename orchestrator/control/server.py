"""The control API: aiohttp over a Unix socket (mode 0600) next to the journal.

Every request may name the app it acts for (header ``X-BGAssets-App``); such a
client sees and changes only that app, as an app sees only its own downloads
in the framework. A client without it is the machine's owner (the socket is
private to the user) and sees everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
from pathlib import Path
from typing import Any

from aiohttp import web

from orchestrator.control.views import app_status, download_rows
from orchestrator.errors import BackgroundAssetsError, ErrorCode

APP_HEADER = "X-BGAssets-App"
SOCKET_NAME = "control.sock"
_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux, less elsewhere


def socket_path(state_dir: str | Path) -> Path:
    """Where the daemon of ``state_dir`` listens (a short /tmp path when the dir is too deep)."""
    path = Path(state_dir).resolve() / SOCKET_NAME
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    return Path("/tmp") / f"bgassets-{os.getuid()}-{digest}.sock"


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


def _error(error: BackgroundAssetsError) -> web.Response:
    status = {ErrorCode.APP_NOT_INSTALLED: 404, ErrorCode.DOWNLOAD_NOT_SCHEDULED: 404,
              ErrorCode.CALL_FROM_EXTENSION_NOT_ALLOWED: 403}.get(error.code, 409)
    return web.json_response(error.as_dict(), status=status)


class ControlServer:
    """Serves one orchestrator on its state dir's control socket."""

    def __init__(self, orchestrator: Any, path: Path) -> None:
        self.orchestrator = orchestrator
        self.path = path
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> ControlServer:
        app = web.Application(middlewares=[self._errors])
        app.add_routes([
            web.get("/v1/status", self.status),
            web.get("/v1/downloads", self.downloads),
            web.post("/v1/downloads/{download}/{action}", self.act),
            web.post("/v1/apps/{app}/{action}", self.app_action),
            web.post("/v1/purge", self.purge),
            web.get("/v1/events", self.events),
        ])
        if someone_listens(self.path):
            raise BackgroundAssetsError(
                f"another bgassets daemon already listens on {self.path}; stop it first "
                "(or use another --state-dir)", ErrorCode.DOWNLOAD_ALREADY_SCHEDULED)
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

    def _scope(self, request: web.Request) -> str | None:
        app = request.headers.get(APP_HEADER)
        if app is not None and app not in self.orchestrator.apps:
            raise BackgroundAssetsError(f"{app} is not installed", ErrorCode.APP_NOT_INSTALLED)
        return app

    async def status(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        apps = [scope] if scope else sorted(self.orchestrator.apps)
        device = self.orchestrator.device
        return web.json_response({
            "apps": [app_status(self.orchestrator, app) for app in apps],
            "device": {"lowPowerMode": device.low_power_mode,
                       "inAppContent": device.in_app_content,
                       "online": device.network.online, "metered": device.network.metered},
        })

    async def downloads(self, request: web.Request) -> web.Response:
        return web.json_response(download_rows(self.orchestrator, self._scope(request)))

    async def act(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        download, action = request.match_info["download"], request.match_info["action"]
        actions = {"promote": self.orchestrator.promote, "cancel": self.orchestrator.cancel,
                   "pause": self.orchestrator.pause, "resume": self.orchestrator.resume}
        if action not in actions:
            raise web.HTTPNotFound(text=f"unknown action {action!r}")
        tracked = self.orchestrator.find_download(download)
        if scope is not None and tracked.app_id != scope:
            raise BackgroundAssetsError(f"{download!r} is not a download of {scope}",
                                        ErrorCode.DOWNLOAD_NOT_SCHEDULED)
        actions[action](tracked.key)
        return web.json_response({"download": tracked.download.id, "action": action,
                                  "app": tracked.app_id})

    async def app_action(self, request: web.Request) -> web.Response:
        """``launch`` (the app starts running: foreground promotion becomes possible),
        ``terminate`` and ``periodic``; an app-scoped client acts on its own app only."""
        scope, app_id = self._scope(request), request.match_info["app"]
        if scope is not None and scope != app_id:
            raise BackgroundAssetsError(f"a client of {scope} cannot act on {app_id}",
                                        ErrorCode.CALL_FROM_EXTENSION_NOT_ALLOWED)
        action = request.match_info["action"]
        if action == "launch":
            self.orchestrator.launch(app_id)
        elif action == "terminate":
            self.orchestrator.terminate(app_id)
        elif action == "periodic":
            await self.orchestrator.periodic(app_id)
        else:
            raise web.HTTPNotFound(text=f"unknown action {action!r}")
        return web.json_response({"app": app_id, "action": action})

    async def purge(self, request: web.Request) -> web.Response:
        if request.headers.get(APP_HEADER) is not None:
            raise BackgroundAssetsError("purge is for the machine's owner, not an app",
                                        ErrorCode.CALL_FROM_EXTENSION_NOT_ALLOWED)
        body = await request.json() if request.can_read_body else {}
        freed = self.orchestrator.purge(body.get("bytes"))
        return web.json_response({"freed": freed})

    async def events(self, request: web.Request) -> web.StreamResponse:
        """The event stream as NDJSON, one event per line, until the client leaves."""
        scope = self._scope(request)
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        queue = self.orchestrator.events.queue()
        try:
            while True:
                event = await queue.get()
                if scope is None or event.app in (scope, None):
                    await response.write((event.to_json() + "\n").encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.orchestrator.events.unqueue(queue)
        return response
