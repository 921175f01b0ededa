"""bgassets' dev server in a process of its own, stamping when each body's bytes were sent.

``python benchmarks/stamped_server.py DIR LOG`` prints its URL, then appends ``TIME PATH``
to LOG (``time.time()``, line by line) each time body bytes of PATH go to the socket.
On loopback that is when they arrive, so the last stamp of a path is its last byte.
A file's mtime cannot stand in for it: the kernel stamps it with its coarse clock (one
tick, 4 ms at HZ=250), about 2 ms early on average.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.devserver import DevServer  # noqa: E402
from orchestrator.devserver.server import DevServerStats  # noqa: E402


class StampedStats(DevServerStats):
    def __init__(self, log: TextIO) -> None:
        super().__init__()
        self.log = log

    def count_body(self, path: str, size: int) -> None:
        super().count_body(path, size)
        self.log.write(f"{time.time():.6f} {path}\n")


def last_sent(log: Path, start: int = 0) -> tuple[dict[str, float], int]:
    """The last stamp of each path in ``log`` after byte ``start``, and where it ends."""
    stamps: dict[str, float] = {}
    with open(log, "rb") as lines:
        lines.seek(start)
        data = lines.read()
    complete = data[:data.rfind(b"\n") + 1]
    for line in complete.decode().splitlines():
        stamp, path = line.split(" ", 1)
        stamps[path] = float(stamp)
    return stamps, start + len(complete)


async def main(root: Path, log_path: Path) -> int:
    with open(log_path, "a", buffering=1) as log:
        server = DevServer(root)
        server.stats = StampedStats(log)
        await server.start()
        print(server.url, flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]))))
