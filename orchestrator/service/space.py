"""The disk as the service sees it: measured or simulated, and what the orchestrator keeps.

Without a capacity in the Device's storage, the state dir's file system is measured
(``shutil.disk_usage``). With one the disk is simulated: what the orchestrator delivers
adds to the manifest's ``used``, and what it purges or uninstalls gives it back, so that
purging and deferring can be played on any machine.
"""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from orchestrator.journal import Journal
from orchestrator.model.device import Storage
from orchestrator.scheduler.space import Space
from orchestrator.storage.containers import is_purgeable


def measured(folder: Path) -> tuple[int, int] | None:
    """Capacity and free bytes (for an unprivileged writer) of the file system holding
    ``folder``, or its nearest existing parent; None when that cannot be told."""
    for candidate in (folder, *folder.parents):
        try:
            usage = shutil.disk_usage(candidate)
        except FileNotFoundError:
            continue
        except OSError:
            return None
        return usage.total, usage.free
    return None


def device_space(storage: Storage, folder: Path, taken: int = 0) -> Space | None:
    """The disk ``storage`` describes: simulated (its capacity, less its ``used`` and
    ``taken`` more), or measured on ``folder``'s file system; None when that cannot be
    read. Nothing is purgeable here: the orchestrator knows its purgeable files."""
    if storage.capacity is None:
        found = measured(folder)
        if found is None:
            return None
        capacity, free = found
    else:
        capacity = storage.capacity
        free = max(0, capacity - storage.used - taken)
    return Space(capacity, free, storage.reserve)


class StoredFile(NamedTuple):
    app_id: str
    bytes: int
    purgeable: bool


class DiskSpace:
    """The delivered files the orchestrator keeps, by download key, and the disk's numbers.

    Kept in memory from the journal's delivered rows (:meth:`load`), then told of every
    delivery, purge and uninstall, so that a decision never reads the journal.
    """

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._files: dict[str, StoredFile] = {}
        self._delivered: Counter[str] = Counter()
        self._purgeable: Counter[str] = Counter()

    def load(self, journal: Journal) -> None:
        """Start from what the journal says is delivered."""
        self._files.clear()
        self._delivered.clear()
        self._purgeable.clear()
        for app_id, key, destination, size in journal.delivered_files():
            self.stored(key, app_id, size, is_purgeable(destination))

    def stored(self, key: str, app_id: str, size: int, purgeable: bool) -> None:
        """Download ``key`` of ``app_id`` was delivered (replacing what it delivered before)."""
        self.removed(key)
        self._files[key] = StoredFile(app_id, size, purgeable)
        self._delivered[app_id] += size
        if purgeable:
            self._purgeable[app_id] += size

    def removed(self, key: str) -> None:
        """The file of download ``key`` is gone (purged, or found missing)."""
        old = self._files.pop(key, None)
        if old is not None:
            self._delivered[old.app_id] -= old.bytes
            if old.purgeable:
                self._purgeable[old.app_id] -= old.bytes

    def forget(self, app_id: str) -> None:
        """The app was uninstalled: its container is gone."""
        for key in [k for k, f in self._files.items() if f.app_id == app_id]:
            del self._files[key]
        self._delivered.pop(app_id, None)
        self._purgeable.pop(app_id, None)

    def delivered(self, app_id: str | None = None) -> int:
        """Bytes delivered to ``app_id`` (to every app when None) and still kept."""
        if app_id is None:
            return sum(self._delivered.values())
        return self._delivered[app_id]

    def purgeable(self, app_id: str | None = None) -> int:
        """Bytes of delivered purgeable files of ``app_id`` (of every app when None)."""
        if app_id is None:
            return sum(self._purgeable.values())
        return self._purgeable[app_id]

    def space(self, storage: Storage, in_flight: int = 0) -> Space | None:
        """The disk now, under ``storage``'s reserve; ``in_flight`` is what running
        downloads have written so far (a measured disk counts it by itself). None when
        a measured file system cannot be read: then nothing is held back for space."""
        space = device_space(storage, self.state_dir, self.delivered() + in_flight)
        return None if space is None else replace(space, purgeable=self.purgeable())
