"""``AssetPackManager``: the framework's asset pack manager, for an app in its own process.

The daemon downloads an app's essential and prefetch packs on install and update; the
app asks for on-demand packs, and reads files over the merged namespace of its local
packs (no two packs hold one path)::

    async with AssetPackManager("com.example.game") as packs:
        await packs.ensure_local_availability("hd-textures")
        data = packs.read_bytes("textures/hd/grass.tex")

Reading goes to the pack store in the app group container directly: a file of a local
pack is readable while the daemon updates the pack (a path stays in its version) and
without any network.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from orchestrator.control.client import ControlClient
from orchestrator.control.sockets import socket_path
from orchestrator.errors import BackgroundAssetsError, ErrorCode
from orchestrator.scheduler.packs import pack_of
from orchestrator.service.views import PackStatus, PackView
from orchestrator.storage.containers import Layout
from orchestrator.storage.packstore import PackStore
from orchestrator.storage.places import default_state_dir


class PackUpdateKind(StrEnum):
    """What ``status_updates`` reports, as the framework's ``StatusUpdate``."""

    BEGAN = "began"
    PAUSED = "paused"
    DOWNLOADING = "downloading"
    FINISHED = "finished"
    FAILED = "failed"


@dataclass(frozen=True)
class PackUpdate:
    """One status update of a pack: bytes so far of what it is fetching, or the error."""

    kind: PackUpdateKind
    pack: str
    written: int = 0
    expected: int = 0
    error: BackgroundAssetsError | None = None


# The download events of a pack's objects, and the update each is.
_UPDATES = {"download.started": PackUpdateKind.BEGAN, "download.resumed": PackUpdateKind.BEGAN,
            "download.paused": PackUpdateKind.PAUSED,
            "download.progress": PackUpdateKind.DOWNLOADING,
            "download.failed": PackUpdateKind.FAILED}


class AssetPackManager:
    """The asset packs of app ``app_id`` on the daemon of ``state_dir`` (the default one:
    ``BGASSETS_STATE_DIR``, else the platform's user state folder)."""

    def __init__(self, app_id: str, state_dir: str | Path | None = None) -> None:
        self.app_id = app_id
        self.state_dir = Path(state_dir if state_dir is not None else default_state_dir())
        self._client = ControlClient(socket_path(self.state_dir), app=app_id)
        self._store: PackStore | None = None

    async def __aenter__(self) -> AssetPackManager:
        await self._client.__aenter__()
        try:
            view = (await self._client.snapshot()).app(self.app_id)
            if view is None:
                raise BackgroundAssetsError(f"{self.app_id} is not installed",
                                            ErrorCode.APP_NOT_INSTALLED)
            self._store = PackStore(Layout(self.state_dir).container(view.app_group))
        except BaseException:
            await self._client.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.__aexit__(None, None, None)

    # Status -------------------------------------------------------------------------

    async def packs(self) -> list[PackView]:
        """Every pack of the app, local or in its pack catalog."""
        return await self._client.packs(self.app_id)

    async def _view(self, pack_id: str) -> PackView:
        for view in await self.packs():
            if view.id == pack_id:
                return view
        raise BackgroundAssetsError(f"{self.app_id} has no asset pack {pack_id!r}",
                                    ErrorCode.DOWNLOAD_DOES_NOT_EXIST)

    async def status(self, pack_id: str) -> PackStatus:
        return (await self._view(pack_id)).status

    # Downloading --------------------------------------------------------------------

    async def ensure_local_availability(self, pack_id: str, require_latest: bool = False
                                        ) -> None:
        """Return once the pack is local: at once when a version is (the latest one with
        ``require_latest``), else after downloading what it lacks. A failed download is
        raised with its code."""
        view = await self._view(pack_id)
        if view.local_version is not None and (
                not require_latest or view.local_version == view.latest_version):
            return
        async with self._client.event_stream() as events:
            await self._client.pack_action(self.app_id, pack_id, "ensure")
            view = await self._view(pack_id)
            if view.local_version is not None and view.local_version == view.latest_version:
                return
            async for event in events:
                update = self._update(event, pack_id, {}, {})
                if update is None:
                    continue
                if update.kind is PackUpdateKind.FINISHED:
                    return
                if update.kind is PackUpdateKind.FAILED and update.error is not None:
                    raise update.error
        raise BackgroundAssetsError(f"the daemon stopped before pack {pack_id!r} was local",
                                    ErrorCode.DAEMON_NOT_RUNNING)

    async def status_updates(self, pack_id: str) -> AsyncIterator[PackUpdate]:
        """The pack's updates as they come: began, paused, downloading (bytes of what it
        is fetching), finished (a version made current), failed."""
        written: dict[str, int] = {}
        expected: dict[str, int] = {}
        async with self._client.event_stream() as events:
            async for event in events:
                update = self._update(event, pack_id, written, expected)
                if update is not None:
                    yield update

    def _update(self, event: dict[str, Any], pack_id: str, written: dict[str, int],
                expected: dict[str, int]) -> PackUpdate | None:
        if event.get("app") != self.app_id:
            return None
        name = event.get("event")
        if name == "pack.installed":
            return PackUpdate(PackUpdateKind.FINISHED, pack_id) \
                if event.get("pack") == pack_id else None
        download = str(event.get("download") or "")
        if pack_of(download) != pack_id:
            return None
        if isinstance(event.get("bytes"), int):
            written[download] = event["bytes"]
        if isinstance(event.get("total"), int):
            expected[download] = event["total"]
        kind = _UPDATES.get(str(name))
        if kind is None:
            return None
        error = None
        if kind is PackUpdateKind.FAILED:
            try:
                code = ErrorCode(int(event.get("code", 0)))
            except ValueError:
                code = ErrorCode.DOWNLOAD_INVALID
            error = BackgroundAssetsError(str(event.get("message", "")), code)
        return PackUpdate(kind, pack_id, sum(written.values()), sum(expected.values()), error)

    async def check_for_updates(self) -> tuple[list[str], list[str]]:
        """Read the pack catalog again: (packs now updating, packs removed)."""
        return await self._client.check_packs(self.app_id)

    async def rollback(self, pack_id: str) -> str:
        """Make the pack's previous version current again (bgassets keeps one); it."""
        return str(await self._client.pack_action(self.app_id, pack_id, "rollback"))

    async def remove(self, pack_id: str) -> int:
        """Remove the pack's local versions; the bytes freed."""
        return int(await self._client.pack_action(self.app_id, pack_id, "remove"))

    # Files ------------------------------------------------------------------------------

    def path(self, relative: str) -> Path:
        """Where ``relative`` is in the app's local packs; an error when no pack has it."""
        assert self._store is not None, "use 'async with AssetPackManager(...)'"
        try:
            found = self._store.locate(relative)
        except ValueError as error:
            raise BackgroundAssetsError(str(error), ErrorCode.DOWNLOAD_INVALID) from None
        if found is None:
            raise BackgroundAssetsError(f"no local asset pack of {self.app_id} has "
                                        f"{relative!r}", ErrorCode.DOWNLOAD_DOES_NOT_EXIST)
        return found

    def read_bytes(self, relative: str) -> bytes:
        return self.path(relative).read_bytes()

    def open(self, relative: str) -> IO[bytes]:
        """The file opened for reading: it stays the version it was even if the pack is
        updated while it is open."""
        return open(self.path(relative), "rb")  # noqa: SIM115 - the caller closes it
