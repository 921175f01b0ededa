"""The publishing process: small files hashed, written, synced and renamed outside the
engine's process.

A thread in the engine's process would do this work one system call at a time, and
after every call it must win the interpreter lock back from the event loop: measured on
20,000 files of 16 KiB, the thread's 60 us of work per file took over 400 us that way. A
process of its own has no such lock to share.

It is started as a script (``python -I -S publish_child.py``) and uses only the
standard library, so it starts in a few milliseconds. On standard input it reads
requests: a ``REQUEST`` header, the staging path, the destination and the bytes. It
takes every complete request at hand as one batch and, for each file: checks the
sha256 (a mismatch is never written), writes the staging file; then makes the data
durable (``syncfs`` once per file system, else an fsync per file), renames every file
onto its destination, and makes the renames durable the same way. Only then does it
write one ``RESULT`` per file, in the order received, on standard output. At the end
of its input (the engine closed it, or died) it finishes the complete requests it has
and exits: a request cut short is dropped, and no destination ever receives a file
that is not whole, verified and synced.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import hashlib
import os
import select
import signal
import struct
import sys

# id, length of the staging path, of the destination, of the bytes; whether a sha256 is
# expected, and which.
REQUEST = struct.Struct("<QIIIB32s")
# id, status, errno, the sha256 of the bytes received.
RESULT = struct.Struct("<QBI32s")
OK, MISMATCH, WRITE_FAILED, RENAME_FAILED, SYNC_FAILED = range(5)
NO_DIGEST = bytes(32)
READ_SIZE = 1 << 20
BATCH_BYTES = 64 << 20
PIPE_SIZE = 1 << 20
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)

Request = tuple[int, bytes, bytes, bytes, bytes | None]


def libc_function(name: str) -> object | None:
    """libc's function ``name``, or None where there is none (it releases the interpreter
    lock while it runs).

    It is looked up among the symbols the interpreter has loaded, which hold libc's;
    ``find_library`` (which runs ``ldconfig -p``, milliseconds) only when it is not there.
    """
    for library in (None, "c"):
        try:
            libc = ctypes.CDLL(
                library if library is None else ctypes.util.find_library(library),
                use_errno=True)
        except OSError:
            continue
        function: object | None = getattr(libc, name, None)
        if function is not None:
            return function
    return None


_SYNCFS = libc_function("syncfs")


def parse(buffer: bytearray) -> tuple[list[Request], int]:
    """The complete requests at the start of ``buffer`` and how many bytes they take."""
    requests: list[Request] = []
    view = memoryview(buffer)
    position = 0
    try:
        while len(buffer) - position >= REQUEST.size:
            ident, staging, destination, size, checked, expected = REQUEST.unpack_from(
                buffer, position)
            start = position + REQUEST.size
            end = start + staging + destination + size
            if end > len(buffer):
                break
            middle = start + staging
            requests.append((ident, bytes(view[start:middle]),
                             bytes(view[middle:middle + destination]),
                             bytes(view[middle + destination:end]),
                             expected if checked else None))
            position = end
    finally:
        view.release()
    return requests, position


def _write(path: bytes, data: bytes) -> None:
    """Write the staging file; one that fails (a full disk) is removed, not left half full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    finally:
        os.close(fd)


def _fsync(path: bytes) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync(paths: list[bytes]) -> None:
    """Make ``paths`` (files, or folders after renames) durable: syncfs once per file system
    holding them, or an fsync of each where syncfs is missing."""
    if _SYNCFS is None:
        for path in paths:
            _fsync(path)
        return
    devices: dict[int, bytes] = {}
    for path in paths:
        devices.setdefault(os.stat(path).st_dev, path)
    for path in devices.values():
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            if _SYNCFS(fd) != 0:  # type: ignore[operator]
                number = ctypes.get_errno()
                raise OSError(number, os.strerror(number), path)
        finally:
            os.close(fd)


def commit(requests: list[Request]) -> list[bytes]:
    """Publish one batch; one result per request, in order."""
    results: dict[int, tuple[int, int, bytes]] = {}
    written: list[Request] = []
    for request in requests:
        ident, staging, _destination, data, expected = request
        digest = hashlib.sha256(data).digest()
        if expected is not None and digest != expected:
            results[ident] = (MISMATCH, 0, digest)
            continue
        try:
            _write(staging, data)
        except OSError as exc:
            results[ident] = (WRITE_FAILED, exc.errno or 0, digest)
            continue
        results[ident] = (OK, 0, digest)
        written.append(request)
    renamed: list[Request] = []
    try:
        _sync(sorted({os.path.dirname(staging) or b"." for _, staging, *_ in written})
              if _SYNCFS is not None else [staging for _, staging, *_ in written])
        for request in written:
            ident, staging, destination = request[:3]
            try:
                os.replace(staging, destination)
                renamed.append(request)
            except OSError as exc:
                results[ident] = (RENAME_FAILED, exc.errno or 0, results[ident][2])
        _sync(sorted({os.path.dirname(destination) or b"."
                      for _, _, destination, *_ in renamed}))
    except OSError as exc:
        for ident, *_ in written:
            if results[ident][0] == OK:
                results[ident] = (SYNC_FAILED, exc.errno or 0, results[ident][2])
    return [RESULT.pack(ident, *results[ident]) for ident, *_ in requests]


def _read_more(buffer: bytearray) -> bool:
    """Append what standard input has (waiting for it when ``buffer`` holds no complete
    request yet); False at its end."""
    chunk = os.read(0, READ_SIZE)
    if not chunk:
        return False
    buffer += chunk
    while len(buffer) < BATCH_BYTES and select.select([0], [], [], 0)[0]:
        chunk = os.read(0, READ_SIZE)
        if not chunk:
            return False
        buffer += chunk
    return True


def _write_out(results: list[bytes]) -> None:
    view = memoryview(b"".join(results))
    while view:
        view = view[os.write(1, view):]


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the engine decides when this ends
    with contextlib.suppress(OSError):
        fcntl.fcntl(0, _F_SETPIPE_SZ, PIPE_SIZE)
    buffer = bytearray()
    more = True
    while more:
        more = _read_more(buffer)
        requests, used = parse(buffer)
        del buffer[:used]
        if requests:
            try:
                _write_out(commit(requests))
            except BrokenPipeError:
                return 0  # the engine is gone; the files of this batch are published
    return 0


if __name__ == "__main__":
    sys.exit(main())
