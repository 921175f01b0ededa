"""Pack benchmark: ``pack build`` of 10,000 files (500 MB) and their install from nginx.

The source is 9,000 small files (4-12 KiB, levels and scripts) and 1,000 large ones
(about 430 KiB, textures): 500 MB in all. Three packs select them.

- **Build**: ``bgassets pack build`` into an empty folder (every object written),
  interleaved with ``tar -cf`` of the same folder (one archive, no hashes, no catalog).
- **Install**: ``bgassets simulate install`` of an app whose three packs come at its
  first installation, from nginx on 127.0.0.1 (every object verified, fsynced and taken
  apart into the pack store), interleaved with ``curl`` of the tar from the same nginx
  piped into ``tar -x``, with and without a ``sync`` after it.

Medians are printed, with the requests the install made per 1,000 small files.
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

import figures

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
             "textures": ('{prefetch: {installationEventTypes: [firstInstallation]}}',
                          "- directory: textures\n")}
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


def write_app(folder: Path, base_url: str) -> Path:
    """An app whose catalog is empty and whose packs are at ``base_url``packs.json."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.yaml").write_text(f"""\
apiVersion: bgassets/v1
kind: App
metadata: {{id: com.example.packbench, team: TEAM123456}}
spec:
  version: "1"
  appGroup: group.com.example.packbench
  manifestURL: {base_url}catalog.json
  size: 1MiB
  maxInstallSize: 2GiB
  essentialMaxInstallSize: 1GiB
  initialDownloadRestrictions:
    downloadAllowance: 2GiB
    essentialDownloadAllowance: 1GiB
    domainAllowList: ["127.0.0.1"]
  extension: extension.yaml
  assetPacks: {{manifestURL: {base_url}packs.json}}
""")
    (folder / "extension.yaml").write_text("""\
apiVersion: bgassets/v1
kind: Extension
metadata: {id: com.example.packbench.downloader, app: com.example.packbench, team: TEAM123456}
spec:
  appGroup: group.com.example.packbench
""")
    return folder / "app.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 files, one run each")
    parser.add_argument("--runs", type=int, default=3)
    figures.add_argument(parser)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.support.nginx import nginx_server, read_access_log

    small, large, runs = (900, 100, 1) if args.quick else (9000, 1000, args.runs)
    times: dict[str, list[float]] = {name: [] for name in (
        "pack build", "tar -cf", "install", "curl | tar -x", "curl | tar -x; sync")}
    requests = 0
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
            times["tar -cf"].append(timed(["tar", "-cf", str(out / "all.tar"),
                                           "-C", str(work), "source"]))
            if run < runs - 1:
                shutil.rmtree(out)
        served = work / f"out-{runs - 1}"
        (served / "catalog.json").write_text('{"version": "1", "assets": []}')
        catalog = json.loads((served / "packs.json").read_text())
        log = work / "access.log"
        with nginx_server(served, work / "nginx", access_log=log) as base:
            manifest = write_app(work / "app", base)
            for run in range(runs):
                state = work / f"state-{run}"
                before = len(read_access_log(log)) if log.exists() else 0
                times["install"].append(timed(
                    [sys.executable, "-m", "orchestrator", "--state-dir", str(state),
                     "simulate", "install", str(manifest), "--wait", "all"]))
                requests = len(read_access_log(log)) - before
                shutil.rmtree(state)
                for name, extra in (("curl | tar -x", ""), ("curl | tar -x; sync", "; sync")):
                    target = work / f"untar-{run}"
                    target.mkdir()
                    times[name].append(timed(["sh", "-c", f"curl -s {base}all.tar | tar -x -C "
                                                          f"{target}{extra}"]))
                    shutil.rmtree(target)
    small_objects = {f["object"] for pack in catalog["packs"] for f in pack["files"]
                     if "offset" in f}
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"{small + large:,} files, {total / 1e6:.0f} MB; medians of {runs}")
    print(f"{'what':22} {'seconds':>8} {'MB/s':>8}")
    for name, value in medians.items():
        print(f"{name:22} {value:8.2f} {total / 1e6 / value:8.0f}")
    print(f"build: pack build / tar -cf {medians['pack build'] / medians['tar -cf']:.2f}")
    print(f"install: / curl | tar -x {medians['install'] / medians['curl | tar -x']:.2f}, "
          f"/ with sync {medians['install'] / medians['curl | tar -x; sync']:.2f}; "
          f"{requests:,} requests ({requests - 2:,} objects and 2 catalogs), "
          f"{1000 * len(small_objects) / small:.1f} bundles per 1,000 small files")
    what = f"asset packs: {small + large:,} files, {total / 1e6:.0f} MB"
    figures.write(args.figures, [
        figures.Figure(what, "`pack build`", medians["pack build"], "s", "`tar -cf`",
                       medians["tar -cf"]),
        figures.Figure(what, "install from nginx", medians["install"], "s",
                       "`curl | tar -x; sync`", medians["curl | tar -x; sync"]),
        figures.Figure(what, "install from nginx", medians["install"], "s",
                       "`curl | tar -x`", medians["curl | tar -x"])])
    return 0


if __name__ == "__main__":
    sys.exit(main())
