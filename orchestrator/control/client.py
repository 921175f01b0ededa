"""A client of the control API, for the CLI's daemon commands."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from orchestrator.control.server import APP_HEADER
from orchestrator.errors import BackgroundAssetsError, ErrorCode


class DaemonUnavailable(BackgroundAssetsError):
    """No daemon listens on the state dir's control socket."""

    code = ErrorCode.NETWORK_ERROR


class ControlClient:
    """Talks to the daemon of one state dir, optionally as one app."""

    def __init__(self, path: Path, app: str | None = None) -> None:
        self.path = path
        self.headers = {APP_HEADER: app} if app else {}
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ControlClient:
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

    async def _call(self, method: str, route: str, body: Any = None) -> Any:
        assert self._session is not None
        try:
            async with self._session.request(method, f"http://daemon/v1/{route}",
                                             json=body) as response:
                answer = await response.json()
        except aiohttp.ClientConnectionError as error:
            raise DaemonUnavailable(f"the daemon at {self.path} does not answer ({error}); "
                                    "is it still running?") from error
        if response.status >= 400:
            code = ErrorCode(answer.get("code", int(ErrorCode.DOWNLOAD_INVALID)))
            raise BackgroundAssetsError(answer.get("message", "refused"), code)
        return answer

    async def status(self) -> dict[str, Any]:
        return await self._call("GET", "status")  # type: ignore[no-any-return]

    async def downloads(self) -> list[dict[str, Any]]:
        return await self._call("GET", "downloads")  # type: ignore[no-any-return]

    async def act(self, download: str, action: str) -> dict[str, Any]:
        return await self._call("POST", f"downloads/{download}/{action}")  # type: ignore[no-any-return]

    async def app_action(self, app: str, action: str) -> dict[str, Any]:
        return await self._call("POST", f"apps/{app}/{action}")  # type: ignore[no-any-return]

    async def purge(self, bytes_to_free: int | None) -> int:
        answer = await self._call("POST", "purge", {"bytes": bytes_to_free})
        return int(answer["freed"])

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        assert self._session is not None
        async with self._session.get("http://daemon/v1/events") as response:
            async for line in response.content:
                if line.strip():
                    yield json.loads(line)
