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
import contextlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import figures  # noqa: E402
from benchmarks.stamped_server import last_sent  # noqa: E402
from orchestrator.client import DownloadManager  # noqa: E402
from orchestrator.control import ControlClient, socket_path  # noqa: E402
from tests.control.daemon_apps import Asset, write_app, write_content  # noqa: E402

APP_ID, GROUP = "com.example.bench", "group.com.example.bench"
SIZE = 16 * 1024
SOLO = 50  # downloads of the one-at-a-time latency run


@contextlib.contextmanager
def served(content: Path, log: Path) -> Iterator[str]:
    """The dev server in a process of its own (as a CDN is: a server thread here would take
    the GIL from the app's event loop), stamping each body's last byte in ``log``."""
    server = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "stamped_server.py"),
                               str(content), str(log)], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        yield server.stdout.readline().strip()
    finally:
        server.terminate()
        server.wait(timeout=30)


def write_bench_app(root: Path, url: str) -> Path:
    """The app's manifests, with a network policy that forbids metered networks."""
    return write_app(root, "bench", f"{url}catalog.json", allow_metered=False)


class Solo:
    """The delegate of the one-at-a-time runs: notes when it was called, moves the file,
    and says the file has come so that the next download is scheduled."""

    def __init__(self, out: Path, called: dict[str, float]) -> None:
        self.out, self.called = out, called
        self.came: asyncio.Queue[str] = asyncio.Queue()

    def finished(self, download, path: Path) -> None:
        self.called[download.url.rsplit("/", 1)[1]] = time.time()
        path.replace(self.out / download.id)
        self.came.put_nowait(download.id)


@contextlib.contextmanager
def running_daemon() -> Iterator[Path]:
    """A ``bgassets daemon`` on a fresh state dir, until the block ends; the state dir."""
    state = Path(tempfile.mkdtemp(prefix="bgb-"))
    daemon = subprocess.Popen([sys.executable, "-m", "orchestrator", "--state-dir", str(state),
                               "daemon"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True)
    try:
        assert daemon.stdout is not None and "listening on" in daemon.stdout.readline()
        yield state
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
        shutil.rmtree(state, ignore_errors=True)


async def solo_run(manifest: Path, url: str, count: int, called: dict[str, float]) -> None:
    """``count`` downloads the app schedules one after another on an idle daemon: the
    handover latency of one file, with nothing queued before it."""
    with running_daemon() as state:
        async with ControlClient(socket_path(state)) as client:
            await client.install(manifest)
            out = state / "moved"
            out.mkdir()
            async with DownloadManager(APP_ID, state, wait_until_launchable=True) as manager:
                delegate = manager.delegate = Solo(out, called)
                for _ in range(len(await manager.fetch_current_downloads())):
                    await delegate.came.get()  # the catalog's own downloads first
                await asyncio.sleep(0.2)
                for index in range(count):
                    await manager.schedule(manager.download(
                        f"solo-{index}", f"{url}a{index:04d}.bin", size=SIZE))
                    await asyncio.wait_for(delegate.came.get(), 30)


class Mover:
    """The delegate: moves each file out, as an app does, noting when it was called (set
    against the server's stamp of the file's last byte: the handover latency, which
    includes the size and sha256 checks and making the file durable)."""

    def __init__(self, out: Path, called: dict[str, float]) -> None:
        self.out, self.called = out, called

    def finished(self, download, path: Path) -> None:
        self.called[download.url.rsplit("/", 1)[1]] = time.time()
        path.replace(self.out / download.id)


async def one_run(mode: str, manifest: Path, count: int, called: dict[str, float]) -> float:
    """Seconds from the network no longer metered to the last file handed over."""
    with running_daemon() as state:
        async with ControlClient(socket_path(state)) as client:
            await client.set_device({"metered": True})
            await client.install(manifest)
            async with client.event_stream() as events:
                if mode == "delegate":
                    out = state / "moved"
                    out.mkdir()
                    async with DownloadManager(APP_ID, state,
                                               wait_until_launchable=True) as manager:
                        manager.delegate = Mover(out, called)
                        return await _timed(client, events, count)
                return await _timed(client, events, count)


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
    figures.add_argument(parser)
    args = parser.parse_args()
    count, runs = (200, 1) if args.quick else (args.downloads, args.runs)
    times: dict[str, list[float]] = {"extension": [], "delegate": []}
    delays: list[float] = []
    solo: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        content, log = Path(folder) / "content", Path(folder) / "sent.log"
        write_content(content, [Asset(f"a{index:04d}", SIZE) for index in range(count)])
        (content / "solo.json").write_text('{"version": "1", "assets": []}')
        with served(content, log) as url:
            manifest = write_bench_app(Path(folder), url)
            read = 0
            for _ in range(runs):
                for mode in times:
                    called: dict[str, float] = {}
                    times[mode].append(asyncio.run(one_run(mode, manifest, count, called)))
                    sent, read = last_sent(log, read)
                    delays += [at - sent["/" + name] for name, at in called.items()]
                    print(f"  {mode:<9} {times[mode][-1]:.2f} s", flush=True)
            solo_manifest = write_app(Path(folder) / "solo", "bench", f"{url}solo.json")
            called = {}
            asyncio.run(solo_run(solo_manifest, url, SOLO, called))
            sent, read = last_sent(log, read)
            solo += [at - sent["/" + name] for name, at in called.items()]
    extension, delegate = (statistics.median(times[m]) for m in ("extension", "delegate"))
    ratio = delegate / extension
    print(f"{count:,} downloads of {SIZE // 1024} KiB, median of {runs}: extension "
          f"{extension:.2f} s, delegate {delegate:.2f} s, ratio {ratio:.2f} (goal <= 1.2: "
          f"{'met' if ratio <= 1.2 else 'NOT met'}); "
          f"{1000 * (delegate - extension) / count:.2f} ms more per file handed over")
    what = f"{count:,} files of {SIZE // 1024} KiB to a connected app"
    rows = [figures.Figure(what, "handed to the delegate", delegate, "s",
                           "handed to the extension", extension, "<= 1.2", ratio <= 1.2)]
    for label, found in (("one at a time", solo), (f"{count:,} queued", delays)):
        found.sort()
        median = statistics.median(found)
        print(f"server's last byte to the delegate's finished(), {label}: median "
              f"{1000 * median:.1f} ms, p95 {1000 * found[int(0.95 * (len(found) - 1))]:.1f} "
              f"ms (goal: median <= 5 ms: {'met' if median <= 0.005 else 'NOT met'})")
        rows.append(figures.Figure(what, f"last byte to finished(), {label}", 1000 * median,
                                   "ms", goal="<= 5 ms" if label == "one at a time" else "",
                                   met=median <= 0.005 if label == "one at a time" else None))
    figures.write(args.figures, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
