"""Scenario benchmark: 14 days of 3 apps (200 downloads, daily launches) on the virtual clock.

Three apps are scaffolded (``bgassets init``'s files) with catalogs of 64 KiB assets,
200 in all, served from a folder on a free loopback port. The scenario installs them,
launches and terminates each every morning for 14 days while their periodic runs come
as the schedule says, and checks at the end that every download finished. Printed:
wall time of the play (median of the runs), the virtual time it covered, and their
ratio. Goal: under 20 s here.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import socket
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import figures  # noqa: E402

from orchestrator.bundled.editor import write_files  # noqa: E402
from orchestrator.bundled.scaffold import Identity, scaffold_files  # noqa: E402
from orchestrator.manifests import load_scenario  # noqa: E402
from orchestrator.scenario import ScenarioRun  # noqa: E402

APPS = {"com.example.bench-maps": 70, "com.example.bench-music": 70,
        "com.example.bench-levels": 60}
ASSET_SIZE = 64 * 1024
DAYS = 14
GOAL_SECONDS = 20.0
WHAT = f"{DAYS}-day scenario: 3 apps, 200 downloads, daily launches"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def write_apps(root: Path, port: int) -> list[Path]:
    """The three apps, their catalogs and asset files under ``root``; the app manifests."""
    manifests = []
    for app_id, count in APPS.items():
        name = app_id.rsplit(".", 1)[1]
        folder = root / "apps" / name
        url = f"http://127.0.0.1:{port}/{name}/catalog.json"
        write_files(scaffold_files(folder, root / "apps" / "schemas",
                                   Identity(app_id, "EXAMPLE123", name, url), None))
        assets = []
        for index in range(count):
            data = hashlib.sha256(f"{app_id}/{index}".encode()).digest() * (ASSET_SIZE // 32)
            path = root / "content" / name / "files" / f"asset-{index:03d}.bin"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            assets.append({"id": f"asset-{index:03d}", "url": f"files/{path.name}",
                           "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                           "essential": index < 2, "priority": 50})
        (root / "content" / name / "catalog.json").write_text(
            json.dumps({"version": "1", "assets": assets}))
        (folder / "catalog.json").unlink(missing_ok=True)
        manifests.append(folder / "app.yaml")
    return manifests


def write_scenario(root: Path, manifests: list[Path]) -> Path:
    apps = "\n".join(f"    - {os.path.relpath(m, root)}" for m in manifests)
    total = sum(APPS.values())
    path = root / "two-weeks.yaml"
    path.write_text(f"""apiVersion: bgassets/v1
kind: Scenario
metadata:
  name: two-weeks-three-apps
spec:
  app:
{apps}
  server: {{content: content}}
  steps:
    - {{at: 0s, install: {{}}}}
    - {{at: 0s, wait: all}}
    - {{at: 8h, every: 1d, until: {DAYS}d, launch: {{}}}}
    - {{at: 9h, every: 1d, until: {DAYS}d, terminate: {{}}}}
    - at: {DAYS}d
      expect: {{finished: {total}, failed: 0, periodicRuns: {{atLeast: 3}}}}
""")
    return path


async def play(path: Path, work: Path) -> tuple[float, float, list[str]]:
    result = await ScenarioRun(load_scenario(path), work).run()
    failed = [f"{f.step}: {m}" for f in result.failures for m in f.messages]
    return result.real_seconds, result.virtual_seconds, failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="plays to take the median of")
    parser.add_argument("--quick", action="store_true", help="one play")
    figures.add_argument(parser)
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    walls, virtual = [], 0.0
    with tempfile.TemporaryDirectory(prefix="bgassets-bench-scenario-") as scratch:
        root = Path(scratch)
        manifests = write_apps(root, free_port())
        path = write_scenario(root, manifests)
        for run in range(runs):
            wall, virtual, failed = asyncio.run(play(path, root / f"run-{run}"))
            if failed:
                print("scenario failed:", *failed, sep="\n  ")
                figures.write(args.figures, [figures.Figure(
                    WHAT, "wall time of the play", None, goal=f"≤ {GOAL_SECONDS:g} s",
                    met=False, note="the scenario failed")])
                return 1
            walls.append(wall)
            print(f"  run {run + 1}: {wall:.2f} s", flush=True)
    wall = statistics.median(walls)
    met = "met" if wall <= GOAL_SECONDS else "not met"
    print("\n| benchmark | wall time | virtual time | virtual / real | goal |\n"
          "|---|---|---|---|---|"
          f"\n| {DAYS}-day scenario, {len(APPS)} apps, {sum(APPS.values())} downloads, daily "
          f"launches | {wall:.2f} s (median of {runs}) | {virtual / 86400:.1f} days | "
          f"{virtual / wall:,.0f} × | ≤ {GOAL_SECONDS:g} s: {met} |")
    figures.write(args.figures, [figures.Figure(
        WHAT, "wall time of the play", wall, "s", goal=f"≤ {GOAL_SECONDS:g} s",
        met=wall <= GOAL_SECONDS,
        note=f"{virtual / 86400:.0f} virtual days, {virtual / wall:,.0f} × real time")])
    return 0 if wall <= GOAL_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
