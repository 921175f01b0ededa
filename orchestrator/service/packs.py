"""Managed asset packs on the device: the pack catalog, the packs' downloads, generations.

An app with ``spec.assetPacks`` has its pack catalog read at each install and update
(and when it checks for updates); the latest one read is kept at
``STATE_DIR/packs/<app id>.json``, so status and ``ensure`` work offline and after a
restart. Essential packs for the event download as essential downloads, prefetch packs
as background ones, on-demand packs when the app asks. A pack's downloads are the
objects holding files its app's pack store lacks; each object that arrives is taken
apart into the store, and once every file of a pack version is there that version
becomes the pack's current generation (``pack.installed``).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from orchestrator.engine import DownloadRequest
from orchestrator.errors import BackgroundAssetsError, ErrorCode, ManifestError
from orchestrator.events import EventKind
from orchestrator.model.download import Download
from orchestrator.model.enums import ContentRequest
from orchestrator.model.pack import BuiltPack, PackCatalog, PackFile
from orchestrator.packs.catalog import PACK_ID, read_pack_catalog
from orchestrator.scheduler.packs import (
    installation_event,
    pack_downloads,
    pack_of,
    packs_for_event,
    split_slice,
    this_platform,
)
from orchestrator.service.apps import LoadedApp
from orchestrator.service.catalogs import fetch_within
from orchestrator.service.context import ServiceContext
from orchestrator.service.downloads import Tracked
from orchestrator.service.runtime import ExtensionRuntime
from orchestrator.service.tracking import Tracking
from orchestrator.storage.packstore import PackStore

log = logging.getLogger("bgassets.packs")
PACK_CATALOG_ID = "@packs"


@dataclass(frozen=True)
class PackState:
    """One pack of an app as the pack catalog and the pack store tell it."""

    pack: BuiltPack | None          # in the latest pack catalog, None when it left it
    local_version: str | None
    local_size: int
    pending: int                    # its object downloads still to come
    pending_bytes: int


@dataclass
class _Known:
    """An app's latest pack catalog, indexed once: the files each object holds, and per
    pack the files the store still lacks (filled when first asked, kept as files come)."""

    catalog: PackCatalog
    by_object: dict[str, list[PackFile]]
    missing: dict[str, set[str]]

    @classmethod
    def of(cls, catalog: PackCatalog) -> _Known:
        by_object: dict[str, list[PackFile]] = {}
        for pack in catalog.packs:
            for entry in pack.files:
                by_object.setdefault(entry.object, []).append(entry)
        return cls(catalog, by_object, {})


class Packs:
    """The asset packs of every app of one orchestrator."""

    def __init__(self, ctx: ServiceContext, tracking: Tracking,
                 runtime: ExtensionRuntime) -> None:
        self.ctx, self.tracking, self.runtime = ctx, tracking, runtime
        self._known: dict[str, _Known] = {}

    # Where things are ----------------------------------------------------------------

    def store(self, loaded: LoadedApp) -> PackStore:
        return PackStore(self.ctx.layout.container(loaded.app.app_group))

    def _catalog_path(self, app_id: str) -> Path:
        return self.ctx.state_dir / "packs" / f"{app_id}.json"

    def catalog(self, app_id: str) -> PackCatalog | None:
        """The latest pack catalog read for the app, or None."""
        known = self._index(app_id)
        return known.catalog if known else None

    def _index(self, app_id: str) -> _Known | None:
        """The app's kept pack catalog, read from disk once per run."""
        known = self._known.get(app_id)
        if known is not None:
            return known
        loaded = self.ctx.apps.get(app_id)
        path = self._catalog_path(app_id)
        if loaded is None or loaded.app.pack_catalog_url is None or not path.is_file():
            return None
        try:
            catalog = read_pack_catalog(path.read_bytes(), loaded.app.pack_catalog_url)
        except (OSError, ManifestError) as error:
            log.warning("%s: the kept pack catalog cannot be read: %s", app_id, error)
            return None
        known = self._known[app_id] = _Known.of(catalog)
        return known

    def forget(self, app_id: str) -> None:
        """The app is uninstalled: its kept pack catalog goes (its store went with the
        container)."""
        self._catalog_path(app_id).unlink(missing_ok=True)
        self._known.pop(app_id, None)

    # Reading the pack catalog ----------------------------------------------------------

    async def fetch(self, loaded: LoadedApp,
                    allowance_remaining: int | None) -> tuple[PackCatalog, int]:
        """Fetch, check and keep the app's pack catalog (and its size); raise with the
        reason."""
        app = loaded.app
        assert app.pack_catalog_url is not None
        staging = self.ctx.layout.staging_dir(app.app_group)
        staging.mkdir(parents=True, exist_ok=True)
        destination = staging / "packs.json"
        destination.unlink(missing_ok=True)
        allowed = None if loaded.launched else app.restrictions.domain_allow_list
        request = DownloadRequest(url=app.pack_catalog_url, destination=destination,
                                  foreground=True, connections=1, allowed_hosts=allowed,
                                  key=f"{app.app_group}/{PACK_CATALOG_ID}", auth_scope=app.id)
        try:
            with self.ctx.clock.idle():  # the engine's download is busy but between tries
                await fetch_within(self.ctx.engine, request, self.ctx.catalog_limits,
                                   allowance_remaining)
            data = destination.read_bytes()
        except OSError as error:
            raise BackgroundAssetsError(f"{destination}: cannot read the pack catalog: "
                                        f"{error.strerror}", ErrorCode.DISK_ERROR) from error
        finally:
            destination.unlink(missing_ok=True)
        catalog = read_pack_catalog(data, app.pack_catalog_url)  # ManifestError: 1001
        self._keep(app.id, data)
        self._known[app.id] = _Known.of(catalog)
        if not loaded.launched:
            self.ctx.journal.add_allowance_usage(app.id, download_bytes=len(data))
        return catalog, len(data)

    def _keep(self, app_id: str, data: bytes) -> None:
        folder = self._catalog_path(app_id).parent
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".packs-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(name, self._catalog_path(app_id))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(name)
            raise

    # Planning ---------------------------------------------------------------------------

    async def downloads_for(self, loaded: LoadedApp, request: ContentRequest,
                            allowance_remaining: int | None) -> tuple[list[Download], int]:
        """The pack downloads an install or update brings (none for a periodic run or an
        app without packs), and the pack catalog's size. A pack catalog that cannot be
        read is reported and brings none: the rest of the request goes on."""
        event = installation_event(request)
        app = loaded.app
        if event is None or app.pack_catalog_url is None:
            return [], 0
        try:
            catalog, size = await self.fetch(loaded, allowance_remaining)
        except BackgroundAssetsError as error:
            self.ctx.emit(EventKind.DOWNLOAD_FAILED, app.id, download=PACK_CATALOG_ID,
                          essential=False, bytes=0, total=None, **error.as_dict())
            return [], 0
        wanted = await self._wanted(loaded, packs_for_event(catalog, event, lambda _: True,
                                                            this_platform()))
        store = self.store(loaded)
        downloads: list[Download] = []
        scheduled = {t.download.id for t in self.tracking.pending(app.id)}
        for pack in wanted:
            needed = pack_downloads(pack, app.app_group, store.has, scheduled=scheduled)
            scheduled.update(d.id for d in needed)
            downloads += needed
            if not needed:
                self._install_if_complete(loaded, pack)
        self.ctx.emit(EventKind.PACK_CATALOG, app.id, url=app.pack_catalog_url,
                      packs=len(catalog.packs), wanted=[p.pack.id for p in wanted])
        return downloads, size

    async def _wanted(self, loaded: LoadedApp, candidates: list[BuiltPack]) -> list[BuiltPack]:
        """The extension's ``shouldDownload`` for each candidate: its handler's answers in
        one process, else its ``spec.packs`` rules. A handler that fails takes none."""
        runner = self.runtime.runner(loaded)
        if runner is None or not candidates:
            return [p for p in candidates if loaded.extension.should_download(p.pack.id)]
        if not self.runtime.within_allotment(loaded):
            return []
        decisions, outcome = await runner.should_download(
            [p.pack for p in candidates], budget=self.runtime.left(loaded))
        self.runtime.charge(loaded, "shouldDownload", outcome)
        return [p for p, yes in zip(candidates, decisions or [], strict=False) if yes]

    # Objects arriving ----------------------------------------------------------------------

    def is_pack_download(self, download: Download) -> bool:
        return pack_of(download.id) is not None

    def delivered(self, loaded: LoadedApp, tracked: Tracked, path: Path) -> None:
        """Take a verified object apart into the store, then make current every pack
        whose files are now all stored. Raises BackgroundAssetsError (the download
        fails) for an object that does not hold what the catalog says."""
        store = self.store(loaded)
        known = self._index(loaded.app.id)
        download = tracked.download
        url, byte_range = split_slice(download.url)
        entries = known.by_object.get(url, []) if known else []
        stored: list[str] = []
        try:
            if byte_range is not None and download.sha256 is not None:
                store.add(download.sha256, path)  # one file's slice of its bundle, verified
                stored.append(download.sha256)
            elif len(entries) == 1 and entries[0].offset is None:
                store.add(entries[0].sha256, path)  # the object is the file
                stored.append(entries[0].sha256)
            elif entries:
                data = path.read_bytes()
                pieces = []
                for entry in entries:
                    start = entry.offset or 0
                    piece = data[start:start + entry.size]
                    if hashlib.sha256(piece).hexdigest() != entry.sha256:
                        raise BackgroundAssetsError(
                            f"{download.url}: bytes {start}-{start + entry.size} are not "
                            f"{entry.path} as the pack catalog says",
                            ErrorCode.CHECKSUM_MISMATCH)
                    pieces.append((entry.sha256, piece))
                store.add_all(pieces)  # one sync for the whole bundle
                stored += [sha256 for sha256, _ in pieces]
        except OSError as error:
            raise BackgroundAssetsError(f"cannot store the pack files of {download.url}: "
                                        f"{error.strerror}", ErrorCode.DISK_ERROR) from error
        finally:
            path.unlink(missing_ok=True)
        if known is None:
            return
        for missing in known.missing.values():
            missing.difference_update(stored)
        pack_id = pack_of(download.id)
        for pack in known.catalog.packs:
            if pack.pack.id == pack_id:
                self._install_if_complete(loaded, pack)

    def _on_the_way(self, loaded: LoadedApp) -> set[str]:
        """The files of the pack versions whose downloads are pending: stored ones among
        them wait for the rest, and are not collected meanwhile."""
        catalog = self.catalog(loaded.app.id)
        pending = {pack_of(t.download.id) for t in self.tracking.pending(loaded.app.id)}
        return {f.sha256 for pack in catalog.packs if pack.pack.id in pending
                for f in pack.files} if catalog else set()

    def _missing(self, loaded: LoadedApp, pack: BuiltPack) -> set[str]:
        """The files of ``pack`` the store lacks: looked up once, then kept as files come."""
        known = self._index(loaded.app.id)
        if known is None or all(listed is not pack for listed in known.catalog.packs):
            store = self.store(loaded)
            return {f.sha256 for f in pack.files if not store.has(f.sha256)}
        missing = known.missing.get(pack.pack.id)
        if missing is None:
            store = self.store(loaded)
            missing = known.missing[pack.pack.id] = {
                f.sha256 for f in pack.files if not store.has(f.sha256)}
        return missing

    def _forget_missing(self, app_id: str) -> None:
        """Store files were removed: what each pack lacks is looked up again."""
        known = self._known.get(app_id)
        if known is not None:
            known.missing.clear()

    def _install_if_complete(self, loaded: LoadedApp, pack: BuiltPack) -> bool:
        store = self.store(loaded)
        if self._missing(loaded, pack):
            if not any(pack_of(t.download.id) == pack.pack.id
                       for t in self.tracking.pending(loaded.app.id)):
                # Nothing more comes, yet files are missing (a store file lost to a crash
                # or removed by hand): fetch them again.
                self.ensure(loaded.app.id, pack.pack.id, foreground=False)
            return False
        before = store.current(pack.pack.id)
        if before is not None and before.version == pack.version:
            return True
        store.install(pack.pack.id, pack.version, [(f.path, f.sha256) for f in pack.files])
        if store.collect(self._on_the_way(loaded)):
            self._forget_missing(loaded.app.id)
        self.ctx.emit(EventKind.PACK_INSTALLED, loaded.app.id, pack=pack.pack.id,
                      version=pack.version, files=len(pack.files), bytes=pack.installed_size,
                      previous=before.version if before else None)
        return True

    # What the app asks --------------------------------------------------------------------

    def states(self, app_id: str) -> dict[str, PackState]:
        """Every pack the app has locally or could download."""
        loaded = self.ctx.loaded(app_id)
        store = self.store(loaded)
        catalog = self.catalog(app_id)
        listed = {p.pack.id: p for p in catalog.packs} if catalog else {}
        pending: dict[str, list[Tracked]] = {}
        for tracked in self.tracking.pending(app_id):
            pack_id = pack_of(tracked.download.id)
            if pack_id is not None:
                pending.setdefault(pack_id, []).append(tracked)
        states = {}
        for pack_id in sorted({*listed, *store.packs()}):
            current = store.current(pack_id)
            waiting = pending.get(pack_id, [])
            states[pack_id] = PackState(
                listed.get(pack_id), current.version if current else None,
                sum(path.stat().st_size for _, path in store.files(pack_id)),
                len(waiting), sum((t.download.size or 0) - t.bytes for t in waiting))
        return states

    @staticmethod
    def _checked(app_id: str, pack_id: str) -> str:
        """A pack id as a request gives it; no such pack when it cannot be one."""
        if not PACK_ID.fullmatch(pack_id):
            raise BackgroundAssetsError(f"{app_id} has no asset pack {pack_id[:80]!r}: not a "
                                        "pack id", ErrorCode.DOWNLOAD_DOES_NOT_EXIST)
        return pack_id

    def ensure(self, app_id: str, pack_id: str, *, foreground: bool) -> int:
        """Schedule what the latest version of ``pack_id`` lacks (background downloads,
        promoted when the app runs and asks for it); how many were scheduled. A pack
        already current needs none."""
        loaded = self.ctx.loaded(app_id)
        self._checked(app_id, pack_id)
        catalog = self.catalog(app_id)
        pack = next((p for p in catalog.packs if p.pack.id == pack_id), None) \
            if catalog else None
        if pack is None:
            raise BackgroundAssetsError(f"{app_id} has no asset pack {pack_id!r} in its pack "
                                        "catalog", ErrorCode.DOWNLOAD_DOES_NOT_EXIST)
        scheduled = {t.download.id for t in self.tracking.pending(app_id)}
        needed = pack_downloads(pack, loaded.app.app_group, self.store(loaded).has,
                                essential=False, scheduled=scheduled)
        if not needed:
            self._install_if_complete(loaded, pack)
        else:
            self.ctx.journal.add_downloads(app_id, needed, at=self.ctx.clock.time())
            for download in needed:
                tracked = self.tracking.track(loaded, download)
                if foreground:
                    tracked.foreground = True
                self.ctx.emit_download(EventKind.DOWNLOAD_SCHEDULED, tracked,
                                       priority=download.priority)
            self.ctx.queue.poke()
        return len(needed)

    def remove(self, app_id: str, pack_id: str) -> int:
        """Remove the pack's local generations; the bytes freed."""
        loaded = self.ctx.loaded(app_id)
        self._checked(app_id, pack_id)
        store = self.store(loaded)
        if pack_id not in store.packs():
            raise BackgroundAssetsError(f"{app_id} has no local asset pack {pack_id!r}",
                                        ErrorCode.DOWNLOAD_DOES_NOT_EXIST)
        freed = store.remove(pack_id, self._on_the_way(loaded))
        self._forget_missing(app_id)
        self.ctx.emit(EventKind.PACK_REMOVED, app_id, pack=pack_id, freed=freed)
        return freed

    async def check(self, app_id: str) -> tuple[list[str], list[str]]:
        """Read the pack catalog again: local packs with a newer version start updating,
        local packs the catalog dropped are removed. Returns (updating, removed)."""
        loaded = self.ctx.loaded(app_id)
        if loaded.app.pack_catalog_url is None:
            return [], []
        catalog, _ = await self.fetch(loaded, None)
        self.ctx.emit(EventKind.PACK_CATALOG, app_id, url=loaded.app.pack_catalog_url,
                      packs=len(catalog.packs), wanted=[])
        store = self.store(loaded)
        listed = {p.pack.id: p for p in catalog.packs}
        updating, removed = [], []
        for pack_id in store.packs():
            pack = listed.get(pack_id)
            if pack is None:
                self.remove(app_id, pack_id)
                removed.append(pack_id)
                continue
            current = store.current(pack_id)
            if current is not None and current.version != pack.version:
                updating.append(pack_id)
                self.ensure(app_id, pack_id, foreground=False)
        return updating, removed

    def rollback(self, app_id: str, pack_id: str) -> str:
        """Make the pack's previous generation current again; its version."""
        loaded = self.ctx.loaded(app_id)
        self._checked(app_id, pack_id)
        store = self.store(loaded)
        try:
            generation = store.rollback(pack_id)
        except LookupError as error:
            raise BackgroundAssetsError(f"{app_id}: {error}",
                                        ErrorCode.DOWNLOAD_DOES_NOT_EXIST) from None
        self.ctx.emit(EventKind.PACK_INSTALLED, app_id, pack=pack_id,
                      version=generation.version, files=sum(1 for _ in store.files(pack_id)),
                      bytes=0, previous=None)
        return generation.version

    def recover(self, loaded: LoadedApp) -> None:
        """After a restart: clean what an update left half-made in the store, keeping the
        files the recovered downloads' pack versions still need."""
        self.store(loaded).recover(self._on_the_way(loaded))
        self._forget_missing(loaded.app.id)
