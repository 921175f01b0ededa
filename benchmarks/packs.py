"""Pack build benchmark: ``bgassets pack build`` of 10,000 files (500 MB) next to ``tar``.

The source is 9,000 small files (4-12 KiB, levels and scripts) and 1,000 large ones
(about 430 KiB, textures): 500 MB in all. Three packs select them. Each run builds
into an empty folder (every object written) and is interleaved with ``tar -cf`` of the
same folder (the peer: one archive, no hashes, no catalog); medians are printed, with
the requests a client makes for the packs (one per object) per 1,000 small files.
Installing the packs from nginx is measured once the orchestrator manages packs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KiB = 1024


def write_source(source: Path, small: int, large: int) -> int:
    """The benchmark's files; their total size."""
    total = 0
    for index in range(small):
        path = source / "levels" / f"world-{index % 20:02d}" / f"level-{index:05d}.level"
        path.parent.mkdir(parents=True, exist_ok=True)
        size = 4 * KiB + (index * 7919) % (8 * KiB)
        path.write_bytes(hashlib.shake_128(path.name.encode()).digest(size))
        total += size
    for index in range(large):
        path = source / "textures" / f"set-{index % 10}" / f"texture-{index:04d}.tex"
        path.parent.mkdir(parents=True, exist_ok=True)
        size = 400 * KiB + (index * 104729) % (64 * KiB)
        path.write_bytes(hashlib.shake_128(path.name.encode()).digest(size))
        total += size
    return total


def write_packs(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    packs = {"levels-a": ('{essential: {installationEventTypes: [firstInstallation]}}',
                          '- directory: levels\n      include: ["world-0*/**"]\n'),
             "levels-b": ('{prefetch: {installationEventTypes: [firstInstallation]}}',
                          '- directory: levels\n      exclude: ["world-0*/**"]\n'),
             "textures": ("{onDemand: {}}", "- directory: textures\n")}
    paths = []
    for pack_id, (policy, files) in packs.items():
        path = folder / f"{pack_id}.yaml"
        path.write_text(f"apiVersion: bgassets/v1\nkind: AssetPack\nmetadata: {{id: {pack_id}}}"
                        f"\nspec:\n  downloadPolicy: {policy}\n  files:\n    {files}")
        paths.append(path)
    return paths


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 files, one run each")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    small, large, runs = (900, 100, 1) if args.quick else (9000, 1000, args.runs)
    times: dict[str, list[float]] = {"pack build": [], "tar -cf": []}
    with tempfile.TemporaryDirectory(dir=ROOT / ".bench" if (ROOT / ".bench").is_dir()
                                     else None) as folder:
        work = Path(folder)
        total = write_source(work / "source", small, large)
        packs = write_packs(work / "packs")
        for run in range(runs):
            out = work / f"out-{run}"
            times["pack build"].append(timed(
                [sys.executable, "-m", "orchestrator", "pack", "build", *map(str, packs),
                 "--source", str(work / "source"), "--out", str(out), "--quiet"]))
            times["tar -cf"].append(timed(["tar", "-cf", str(work / f"source-{run}.tar"),
                                           "-C", str(work), "source"]))
            catalog = json.loads((out / "packs.json").read_text())
            if run < runs - 1:
                shutil.rmtree(out)
            (work / f"source-{run}.tar").unlink()
    objects = {o["url"] for pack in catalog["packs"] for o in pack["objects"]}
    small_objects = {f["object"] for pack in catalog["packs"] for f in pack["files"]
                     if "offset" in f}
    build, tar = (statistics.median(times[name]) for name in ("pack build", "tar -cf"))
    print(f"{small + large:,} files, {total / 1e6:.0f} MB; medians of {runs}")
    print(f"{'what':12} {'seconds':>8} {'MB/s':>8}")
    for name, value in (("pack build", build), ("tar -cf", tar)):
        print(f"{name:12} {value:8.2f} {total / 1e6 / value:8.0f}")
    print(f"pack build / tar: {build / tar:.2f}; {len(objects):,} objects to fetch; "
          f"{1000 * len(small_objects) / small:.1f} requests per 1,000 small files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
