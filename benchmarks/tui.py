"""TUI benchmark: 10,000 downloads' events through the TUI, headless.

A real Orchestrator (no apps) publishes the event stream of 10,000 downloads
on its bus, as the queue would: all scheduled up front, then ``--active`` at a
time started, each with ``--steps`` progress events, then finished (1 in 50
failed); the events are made before the clock starts. The Textual app runs
headless (``run_test``) on the Downloads screen with its bridge worker and frame
timer, as ``bgassets run`` does (its garbage collector tuned alike).

Printed: the time per refresh (one frame of the visible screen: choosing the
rows and rewriting the changed cells of those on screen; median, p95, max), how
long a key press takes to show on screen while the stream flows, and the process CPU time
(``resource.getrusage``) against the wall time, Textual's own painting
included, next to the same stream drained without any UI.

``--active 8 --tick 0.1`` is closer to the demo (a handful of downloads, ten
progress events a second each); the default is the stress case. The goal: at most
30 % of one core, refresh median at most 50 ms.

``--compare DIR`` measures another source tree (say ``git archive main tui
orchestrator | tar -x -C DIR``) against this one, each run in its own process,
the two alternating for ``--rounds`` rounds so that both see the same machine
load; the medians over the rounds are printed side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# --source DIR: import tui and orchestrator from another tree (the run --compare starts).
SOURCE = Path(sys.argv[sys.argv.index("--source") + 1]) if "--source" in sys.argv else ROOT
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(SOURCE))

import figures  # noqa: E402

from orchestrator.events import EventKind  # noqa: E402
from orchestrator.service import Orchestrator  # noqa: E402
from tui.app import BgAssetsApp, in_process  # noqa: E402

APP_ID = "com.example.bench"
SIZE = 4 << 20
GOAL_CPU = 0.30  # of one core
GOAL_FRAME = 0.050  # seconds, refresh median


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def download_events(index: int, steps: int) -> list[tuple[EventKind, dict[str, object]]]:
    """What the orchestrator publishes for one download after it was scheduled."""
    name = f"asset-{index:05d}"
    base = {"download": name, "essential": index % 100 == 0, "total": SIZE}
    out: list[tuple[EventKind, dict[str, object]]] = [
        (EventKind.DOWNLOAD_STARTED, {**base, "bytes": 0, "foreground": False})]
    for step in range(1, steps + 1):
        out.append((EventKind.DOWNLOAD_PROGRESS, {**base, "bytes": SIZE * step // (steps + 1),
                                                  "speed": 2_000_000 + index}))
    if index % 50 == 49:
        out.append((EventKind.DOWNLOAD_FAILED, {**base, "bytes": SIZE // 2, "code": 1021,
                                                "name": "networkError",
                                                "message": "reset by peer"}))
    else:
        out.append((EventKind.DOWNLOAD_FINISHED, {**base, "bytes": SIZE, "path": None,
                                                  "purgeable": False, "sha256": None}))
    return out


Tick = tuple[list[tuple[EventKind, dict[str, object]]], float]


def stream(count: int, active: int, steps: int, tick: float) -> list[Tick]:
    """The whole stream as ticks (events, then the pause after them), made before the
    clock starts: the figures hold what the orchestrator and the UI do with the events,
    not the benchmark's making them up."""
    scheduled = [(EventKind.DOWNLOAD_SCHEDULED,
                  {"download": f"asset-{index:05d}", "essential": index % 100 == 0,
                   "bytes": 0, "total": SIZE, "priority": index % 101})
                 for index in range(count)]
    ticks: list[Tick] = [(scheduled[start:start + 1000], 0.0)
                         for start in range(0, count, 1000)]
    for start in range(0, count, active):
        streams = [download_events(i, steps) for i in range(start, min(count, start + active))]
        ticks.extend(([one[position] for one in streams if position < len(one)], tick)
                     for position in range(steps + 2))
    return ticks


async def feed(orchestrator: Orchestrator, ticks: list[Tick]) -> int:
    """Publish the ticks on the orchestrator's bus, as the queue would; the event count."""
    published = 0
    for events, pause in ticks:
        for kind, data in events:
            orchestrator.emit(kind, APP_ID, **data)
        published += len(events)
        await asyncio.sleep(pause)
    return published


async def press_latency(app: BgAssetsApp, presses: int) -> list[float]:
    """Seconds from a key press (``o``: sort by the next column) to the frame that shows it.

    The key goes through the app's message queue as a terminal's would; the
    time ends when a frame has been drawn with the new order.
    """
    times = []
    for _ in range(presses):
        screen = app.screen
        before, frames = screen.sort, len(app.frame_times)  # type: ignore[attr-defined]
        started = time.perf_counter()
        app.simulate_key("o")
        while screen.sort == before or len(app.frame_times) == frames:  # type: ignore[attr-defined]
            await asyncio.sleep(0.001)
        times.append(time.perf_counter() - started)
        await asyncio.sleep(0.1)
    return times


async def baseline(count: int, active: int, steps: int, tick: float) -> tuple[float, float]:
    """CPU and wall seconds of the same stream drained by a bare queue reader, without the UI."""
    with tempfile.TemporaryDirectory() as state:
        async with Orchestrator(Path(state)) as orchestrator:
            queue = orchestrator.events.queue(200_000)

            async def drain() -> None:
                while True:
                    await queue.get()

            reader = asyncio.create_task(drain())
            ticks = stream(count, active, steps, tick)
            cpu0, wall0 = cpu_seconds(), time.perf_counter()
            await feed(orchestrator, ticks)
            while not queue.empty():
                await asyncio.sleep(0.01)
            cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
            reader.cancel()
    return cpu, wall


async def run(count: int, active: int, steps: int, tick: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as state:
        async with Orchestrator(Path(state)) as orchestrator:
            app = BgAssetsApp(in_process(lambda: contextlib.nullcontext(orchestrator)),
                              install=False,
                              rare_gc=True)  # as run_tui does
            async with app.run_test(size=(180, 50)) as pilot:
                await app.ready.wait()
                await pilot.press("2")
                app.frame_times.clear()
                ticks = stream(count, active, steps, tick)
                cpu0, wall0 = cpu_seconds(), time.perf_counter()
                feeder = asyncio.create_task(feed(orchestrator, ticks))
                latencies = await press_latency(app, 20)
                published = await feeder
                while app.state.version < published:
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.25)  # the last frame
                wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
                frames = list(app.frame_times)
                shown = len(app.screen.table.shown_keys)
    return {"events": published, "wall": wall, "cpu": cpu, "frames": len(frames),
            "frame_median": statistics.median(frames), "frame_p95": quantile(frames, 0.95),
            "frame_max": max(frames), "press_median": statistics.median(latencies),
            "press_max": max(latencies), "shown": shown}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--downloads", type=int, default=10_000)
    parser.add_argument("--active", type=int, default=200, help="downloads moving at once")
    parser.add_argument("--steps", type=int, default=8, help="progress events per download")
    parser.add_argument("--tick", type=float, default=0.01,
                        help="seconds between ticks of the stream")
    parser.add_argument("--quick", action="store_true", help="2,000 downloads")
    parser.add_argument("--compare", type=Path, metavar="DIR",
                        help="another tree's tui and orchestrator, measured against this one")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of --compare")
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    figures.add_argument(parser)
    args = parser.parse_args()
    count = 2_000 if args.quick else args.downloads
    if args.compare is not None:
        return compare(args, count)
    result = run_sync(count, args.active, args.steps, args.tick)
    if args.json:
        print(json.dumps(result))
        return 0
    report(result, count, args.active, args.tick)
    share = result["cpu"] / result["wall"]
    what = f"TUI: {count:,} downloads, {result['events']:,.0f} events"
    figures.write(args.figures, [
        figures.Figure(what, "CPU of the UI's process", 100 * share, "%",
                       goal=f"<= {GOAL_CPU:.0%} of a core", met=share <= GOAL_CPU),
        figures.Figure(what, "refresh median", 1000 * result["frame_median"], "ms",
                       goal=f"<= {GOAL_FRAME * 1000:.0f} ms",
                       met=result["frame_median"] <= GOAL_FRAME,
                       note=f"p95 {1000 * result['frame_p95']:.1f} ms")])
    return 0


def verdict(result: dict[str, float]) -> str:
    share = result["cpu"] / result["wall"]
    met = share <= GOAL_CPU and result["frame_median"] <= GOAL_FRAME
    return (f"goal (<= {GOAL_CPU:.0%} of a core, refresh median <= {GOAL_FRAME * 1000:.0f} ms): "
            f"{'met' if met else 'not met'}")


def report(result: dict[str, float], count: int, active: int, tick: float) -> None:
    ms = 1000
    print(f"{count:,} downloads, {result['events']:,.0f} events in {result['wall']:.2f} s "
          f"(paced: {active} moving at once, a tick every {tick * ms:.0f} ms)")
    print(f"refresh (one frame of the Downloads screen: {result['shown']:.0f} rows chosen, "
          "changed cells on screen rewritten; Textual's paint is in the CPU line): "
          f"{result['frames']:.0f} frames, median {result['frame_median'] * ms:.1f} ms, "
          f"p95 {result['frame_p95'] * ms:.1f} ms, max {result['frame_max'] * ms:.1f} ms")
    print(f"key press to the frame showing it, while streaming: median "
          f"{result['press_median'] * ms:.1f} ms, max {result['press_max'] * ms:.1f} ms")
    print(f"CPU (getrusage user+sys): {result['cpu']:.2f} s over {result['wall']:.2f} s wall "
          f"= {100 * result['cpu'] / result['wall']:.0f} % of one core; the same stream "
          f"without the UI: {result['base_cpu']:.2f} s over {result['base_wall']:.2f} s, so the UI "
          f"costs {result['cpu'] - result['base_cpu']:.2f} s")
    print(verdict(result))


def compare(args: argparse.Namespace, count: int) -> int:
    """Alternate runs of the other tree and this one, each in a fresh process."""
    trees = {"before": args.compare.resolve(), "after": ROOT}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for round_ in range(args.rounds):
        order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
        for name in order:
            out = subprocess.run(
                [sys.executable, __file__, "--source", str(trees[name]), "--json",
                 "--downloads", str(count), "--active", str(args.active),
                 "--steps", str(args.steps), "--tick", str(args.tick)],
                check=True, capture_output=True, text=True).stdout
            result = json.loads(out.strip().splitlines()[-1])
            runs[name].append(result)
            print(f"round {round_ + 1} {name:6s} ({trees[name]}): "
                  f"{100 * result['cpu'] / result['wall']:.0f} % of a core, refresh median "
                  f"{result['frame_median'] * 1000:.1f} ms, key press median "
                  f"{result['press_median'] * 1000:.1f} ms", flush=True)
    for name, results in runs.items():
        median = {key: statistics.median(r[key] for r in results) for key in results[0]}
        median["cpu"] = statistics.median(r["cpu"] / r["wall"] for r in results) * median["wall"]
        print(f"\n{name} ({trees[name]}), medians of {len(results)} runs:")
        report(median, count, args.active, args.tick)
    return 0


def run_sync(count: int, active: int, steps: int, tick: float) -> dict[str, float]:
    result = asyncio.run(run(count, active, steps, tick))
    result["base_cpu"], result["base_wall"] = asyncio.run(baseline(count, active, steps, tick))
    return result


if __name__ == "__main__":
    sys.exit(main())
