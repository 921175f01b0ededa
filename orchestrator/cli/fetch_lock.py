"""One ``bgassets fetch`` at a time into a folder, its publishing process included.

Two runs into one folder would stage the same ``.part`` files. A run killed with
kill -9 leaves its publishing process to finish what it was handed (it publishes the
whole files it holds, see ``engine/publish_child.py``); a run started again at once
would resume from ``.part`` files that process is about to rename, and could write
into a file already published. So a run holds an exclusive ``flock`` on the folder and
hands the locked descriptor to its publishing process, which keeps it open until it
exits: the next run into the folder waits for both.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import TextIO


def lock_folder(directory: Path, *, notices: TextIO) -> int | None:
    """Make ``directory`` and hold its lock: the descriptor, or None where it cannot be
    locked (the downloads then report what is wrong with the folder, or run unlocked on a
    file system without ``flock``). Waits, saying so on ``notices``, while another run
    holds it."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"bgassets fetch: waiting for another fetch into {directory} to finish "
                  "(or the process publishing its last files)", file=notices, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
        os.close(fd)
        return None
    except BaseException:  # Ctrl-C while waiting
        os.close(fd)
        raise
    return fd
