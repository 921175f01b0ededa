"""The state dir of a command: checked before the command runs, so a path that cannot work
is one line and exit code 2 instead of a traceback from deep inside the journal."""

from __future__ import annotations

import os
import tempfile
from enum import Enum
from pathlib import Path

from orchestrator.errors import StateDirUnusable


class StateDirAccess(Enum):
    """What a command does with its state dir."""

    READ = "read"    # talks to the daemon that runs there
    WRITE = "write"  # runs an orchestrator there


def _blocker(path: Path) -> Path | None:
    """The first existing part of ``path`` that is not a folder (a file in the way)."""
    for part in (*reversed(path.parents), path):
        try:
            if not part.exists():
                return None
        except OSError:
            return None  # unreadable: the access check below names it
        if not part.is_dir():
            return part
    return None


def check_state_dir(path: str | Path, access: StateDirAccess,
                    label: str = "--state-dir") -> None:
    """Refuse, with :class:`StateDirUnusable`, a state dir that ``access`` cannot use.

    ``READ`` (commands that talk to a daemon) needs only a path that is, or could be,
    a folder; ``WRITE`` (commands that run an orchestrator) creates the folder and a
    file in it. Writing is tried rather than judged from mode bits: root ignores them,
    and a read-only or virtual file system (``/proc``, ``/sys``) ignores root.
    """
    where = Path(path).expanduser()
    blocker = _blocker(where)
    if blocker is not None:
        detail = "is the state dir itself" if blocker == where else "is in its path"
        raise StateDirUnusable(f"{label} {path}: {blocker} is a file, not a folder, and "
                               f"{detail}; choose another {label}")
    if access is StateDirAccess.READ:
        if where.is_dir() and not os.access(where, os.R_OK | os.X_OK):
            raise StateDirUnusable(f"{label} {path}: no permission to read this folder")
        return
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StateDirUnusable(f"{label} {path}: cannot create this folder "
                               f"({error.strerror or error}); choose another {label}") from None
    try:
        handle, probe = tempfile.mkstemp(prefix=".bgassets-probe-", dir=where)
    except OSError as error:
        raise StateDirUnusable(f"{label} {path}: cannot write in this folder "
                               f"({error.strerror or error}); choose another {label}") from None
    os.close(handle)
    os.unlink(probe)
