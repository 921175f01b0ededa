"""Which names a folder held a moment ago: one listing instead of two stats per download.

Before a download starts, the engine asks whether its destination is in place already
(then it is only verified) and whether the ``.part`` of an earlier run waits to be
resumed. For thousands of small files into one folder, those are two system calls per
file on the event loop, and each hands the interpreter lock to any thread that wants it:
measured on 20,000 files of 16 KiB, an eighth of the loop's time. Once a folder is asked
about often, a listing of it, taken at most every :data:`LISTING_SECONDS`, answers most
of those questions.

A listing only ever answers "surely absent", for a name it lacks; a name it has, or a
folder it could not list, is checked the exact way. A file that appears after the
listing is missed for at most :data:`LISTING_SECONDS`, which costs only work: a
destination is then fetched again instead of skipped, and a small file's ``.part`` is
replaced by its whole body, as the in-memory path replaces it anyway.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

# A listing is taken once a folder is asked about this often within LISTING_SECONDS; a
# single download into a large folder never lists it.
ASKED_BEFORE_LISTING = 8
LISTING_SECONDS = 1.0
# Folders with more entries are not kept (the listing would cost more than it saves),
# and at most this many folders are remembered at once.
MAX_NAMES = 200_000
MAX_FOLDERS = 64


@dataclass
class _Folder:
    since: float  # the first question of this window, or the listing's time
    asked: int = 0
    listed: bool = False
    names: frozenset[str] | None = None  # None once listed: it could not be


class FolderListings:
    """Recent listings of the folders downloads go to."""

    def __init__(self) -> None:
        self._folders: dict[str, _Folder] = {}

    def surely_absent(self, path: Path) -> bool:
        """Whether ``path`` is surely not there (False: look at it the exact way)."""
        parent, name = os.path.split(os.fspath(path))  # strings: no Path made per question
        now = time.monotonic()
        folder = self._folders.get(parent)
        if folder is None or now - folder.since > LISTING_SECONDS:
            if len(self._folders) >= MAX_FOLDERS:
                self._folders.clear()
            folder = self._folders[parent] = _Folder(now)
        if not folder.listed:
            folder.asked += 1
            if folder.asked < ASKED_BEFORE_LISTING:
                return False
            folder.listed, folder.since = True, now
            folder.names = _list(parent or ".")
        return folder.names is not None and name not in folder.names


def _list(folder: str) -> frozenset[str] | None:
    """The names in ``folder``, or None when it cannot be listed or holds too many."""
    names: list[str] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                names.append(entry.name)
                if len(names) > MAX_NAMES:
                    return None
    except OSError:
        return None
    return frozenset(names)
