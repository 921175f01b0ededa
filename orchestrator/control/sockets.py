"""Where a daemon's control socket lives, and whether a client may trust the one it finds.

The socket sits in the state dir. When that path is too long for a Unix socket
address, it goes to a folder only this user can enter: ``$XDG_RUNTIME_DIR/bgassets``
when the runtime dir is private, else ``<tmp>/bgassets-<uid>``, made with mode 0700
and checked (owner, mode, not a symlink) every time, since anyone can create names in
``/tmp`` first. A client talks only to a socket owned by its own user.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from pathlib import Path

from orchestrator.errors import UntrustedSocket

SOCKET_NAME = "control.sock"
_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux, less elsewhere


def socket_path(state_dir: str | Path) -> Path:
    """Where the daemon of ``state_dir`` listens (a private runtime folder for deep dirs)."""
    path = Path(state_dir).resolve() / SOCKET_NAME
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    return runtime_dir() / f"{digest}.sock"


def runtime_dir() -> Path:
    """A folder of this user's, mode 0700, for sockets; made when missing."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and _private(Path(base)):
        folder = Path(base) / "bgassets"
    else:
        folder = Path(tempfile.gettempdir()) / f"bgassets-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        os.mkdir(folder, 0o700)
    if not _private(folder):
        raise UntrustedSocket(f"{folder} is not a private folder of yours (owned by you, "
                              "mode 0700, not a symlink): remove it, or use a shorter "
                              "--state-dir")
    return folder


def check_socket(path: Path) -> None:
    """Refuse a socket that is not a socket, or that another user owns."""
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        return  # nobody listens: the caller says how to start a daemon
    if not stat.S_ISSOCK(found.st_mode):
        raise UntrustedSocket(f"{path} is not a socket: not talking to it")
    if found.st_uid != os.getuid():
        raise UntrustedSocket(f"{path} belongs to user {found.st_uid}, not to you: not "
                              "talking to it (another user's process may be posing as a "
                              "daemon); stop it or use another --state-dir")


def _private(folder: Path) -> bool:
    try:
        found = os.lstat(folder)
    except OSError:
        return False
    return (stat.S_ISDIR(found.st_mode) and found.st_uid == os.getuid()
            and found.st_mode & 0o077 == 0)
