"""Files handed to a connected app's delegate versus to the declarative extension.

1,000 small downloads (16 KiB) of one app, from a DevServer on 127.0.0.1, through a
real ``bgassets daemon``. They are planned while the network is metered and the app's
policy forbids that, so every one waits; then the network stops being metered and the
clock runs until the last ``download.finished``:

- ``extension``: nobody is connected; the engine publishes each file at its
  destination itself;
- ``delegate``: a ``DownloadManager`` of this process is connected, and each file is
  handed to its delegate (one callback line and one answer per file), which moves it.

Runs alternate between the two; medians are printed, with the ratio (goal <= 1.2).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.client import DownloadManager  # noqa: E402
from orchestrator.control import ControlClient, socket_path  # noqa: E402
from orchestrator.devserver.thread import serve_in_thread  # noqa: E402
from tests.control.daemon_apps import Asset, write_app, write_content  # noqa: E402

APP_ID, GROUP = "com.example.bench", "group.com.example.bench"
SIZE = 16 * 1024


def write_bench_app(root: Path, url: str, count: int) -> Path:
    """The app's manifests (a network policy that forbids metered networks), its catalog
    and ``count`` asset files under ``root``; the content is served from ``root/content``."""
    write_content(root / "content", [Asset(f"a{index:04d}", SIZE) for index in range(count)])
    return write_app(root, "bench", f"{url}catalog.json", allow_metered=False)


class Mover:
    """The delegate: moves each file out, as an app does, noting how long after its last
    byte was written it was called (the file's mtime: the engine's last write, before
    its size and sha256 checks, so this bounds the handover latency from above)."""

    def __init__(self, out: Path, delays: list[float]) -> None:
        self.out, self.delays = out, delays

    def finished(self, download, path: Path) -> None:
        self.delays.append(time.time() - path.stat().st_mtime)
        path.replace(self.out / download.id)


async def one_run(mode: str, manifest: Path, count: int, delays: list[float]) -> float:
    """Seconds from the network no longer metered to the last file handed over."""
    state = Path(tempfile.mkdtemp(prefix="bgb-"))
    daemon = subprocess.Popen([sys.executable, "-m", "orchestrator", "--state-dir", str(state),
                               "daemon"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True)
    try:
        assert daemon.stdout is not None and "listening on" in daemon.stdout.readline()
        async with ControlClient(socket_path(state)) as client:
            await client.set_device({"metered": True})
            await client.install(manifest)
            async with client.event_stream() as events:
                if mode == "delegate":
                    out = state / "moved"
                    out.mkdir()
                    async with DownloadManager(APP_ID, state,
                                               wait_until_launchable=True) as manager:
                        manager.delegate = Mover(out, delays)
                        return await _timed(client, events, count)
                return await _timed(client, events, count)
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
        shutil.rmtree(state, ignore_errors=True)


async def _timed(client: ControlClient, events, count: int) -> float:
    started = time.perf_counter()
    await client.set_device({"metered": False})
    finished = 0
    async for event in events:
        if event["event"] == "download.finished" and event["app"] == APP_ID:
            finished += 1
            if finished == count:
                return time.perf_counter() - started
    raise AssertionError("the daemon stopped before every download finished")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--downloads", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="200 downloads, one run each")
    args = parser.parse_args()
    count, runs = (200, 1) if args.quick else (args.downloads, args.runs)
    times: dict[str, list[float]] = {"extension": [], "delegate": []}
    delays: list[float] = []
    with tempfile.TemporaryDirectory() as folder, serve_in_thread(
            Path(folder) / "content") as server:
        manifest = write_bench_app(Path(folder), server.url, count)
        for _ in range(runs):
            for mode in times:
                times[mode].append(asyncio.run(one_run(mode, manifest, count, delays)))
                print(f"  {mode:<9} {times[mode][-1]:.2f} s", flush=True)
    extension, delegate = (statistics.median(times[m]) for m in ("extension", "delegate"))
    ratio = delegate / extension
    print(f"{count:,} downloads of {SIZE // 1024} KiB, median of {runs}: extension "
          f"{extension:.2f} s, delegate {delegate:.2f} s, ratio {ratio:.2f} (goal <= 1.2: "
          f"{'met' if ratio <= 1.2 else 'NOT met'}); "
          f"{1000 * (delegate - extension) / count:.2f} ms more per file handed over")
    delays.sort()
    print(f"last byte written to the delegate's finished(): median "
          f"{1000 * statistics.median(delays):.1f} ms, p95 "
          f"{1000 * delays[int(0.95 * (len(delays) - 1))]:.1f} ms (goal: median <= 5 ms: "
          f"{'met' if statistics.median(delays) <= 0.005 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
