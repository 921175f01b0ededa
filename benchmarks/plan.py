"""Orchestrator benchmarks: planning large catalogs, and the orchestrator's overhead.

- plan: load (validate + model) a JSON catalog of 100,000, 300,000 and 1,000,000
  assets, run the declarative extension and the plan checks, in a fresh process each
  run; seconds and the process's peak RSS (the catalog's bytes included), beside the
  floor (``json.loads`` + the compiled jsonschema-rs validator) of the same file. The
  ratio 1,000,000 / 100,000 shows whether the cost grows with the catalog (10 x) or
  faster. Goals: 100,000 assets <= 1 s; 1,000,000 assets <= 8 s and <= 1 GiB peak
  (the child's own VmHWM, ``benchmarks/peak.py``; in MiB as benchmarks/validate.py
  counts).
- simulate: 20,000 files of 16 KiB installed through ``bgassets simulate install``
  (journal, events, handover) versus ``bgassets fetch -i`` of the same files from the
  same nginx. Goal <= 1.3 x fetch.
Medians of interleaved runs (``--quick``: one run, 100,000 assets only, 2,000 files).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import figures  # noqa: E402
from peak import IMPORTABLE  # noqa: E402
from quiet_disk import delete_many, settle, wait_for_free_inodes  # noqa: E402

from tests.support.nginx import nginx_server  # noqa: E402

BENCH = ROOT / ".bench" / "plan"

PLAN_SCRIPT = IMPORTABLE + """
import json, sys, time
from peak import peak_kib
from pathlib import Path
from orchestrator.manifests import load_app, load_catalog
from orchestrator.model.enums import ContentRequest
from orchestrator.scheduler.checks import PlanContext, check_plan
from orchestrator.scheduler.rules import decide_downloads
data = Path(sys.argv[1]).read_bytes()
app, extension = load_app(Path(sys.argv[2]))
start = time.perf_counter()
catalog = load_catalog(data, sys.argv[1], app.manifest_url)
downloads = decide_downloads(extension, catalog, ContentRequest.INSTALL)
plan = check_plan(PlanContext(app, ContentRequest.INSTALL), downloads)
print(json.dumps({"seconds": time.perf_counter() - start, "accepted": len(plan.accepted),
                  "peak_kib": peak_kib()}))
"""

FLOOR_SCRIPT = IMPORTABLE + """
import json, sys, time
from peak import peak_kib
from pathlib import Path
import jsonschema_rs
validator = jsonschema_rs.validator_for(json.loads(Path(sys.argv[2]).read_text()))
data = Path(sys.argv[1]).read_bytes()
start = time.perf_counter()
assert validator.is_valid(json.loads(data))
print(json.dumps({"seconds": time.perf_counter() - start, "peak_kib": peak_kib()}))
"""

PLAN_SIZES = (100_000, 300_000, 1_000_000)


def big_catalog(count: int) -> Path:
    path = BENCH / f"catalog-{count}.json"
    if not path.exists():
        BENCH.mkdir(parents=True, exist_ok=True)
        assets = [{"id": f"asset-{i:06d}", "url": f"assets/asset-{i:06d}.bin", "size": 4096 + i,
                   "sha256": hashlib.sha256(str(i).encode()).hexdigest(),
                   "essential": i < 16, "priority": i % 101} for i in range(count)]
        path.write_text(json.dumps({"version": "1", "assets": assets}))
    return path


def _child(script: str, *arguments: Path) -> tuple[float, float]:
    """Seconds and peak RSS in MiB of one run of ``script`` in a fresh process."""
    out = subprocess.run([sys.executable, "-c", script, *map(str, arguments)],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    result = json.loads(out)
    return result["seconds"], result["peak_kib"] / 1024


def bench_plan(runs: int, sizes: tuple[int, ...]) -> dict[int, dict[str, float]]:
    """Per size the medians of plan and floor seconds and peak MB, runs interleaved
    (plan, floor, next size, ... then again) so that noise from others spreads evenly."""
    app = ROOT / "manifests" / "wwdc-sessions" / "app.yaml"
    schema = ROOT / "schemas" / "catalog.schema.json"
    catalogs = {size: big_catalog(size) for size in sizes}
    samples: dict[int, dict[str, list[float]]] = {
        size: {"plan": [], "plan_mb": [], "floor": [], "floor_mb": []} for size in sizes}
    for _ in range(runs):
        for size in sizes:
            seconds, peak = _child(PLAN_SCRIPT, catalogs[size], app)
            samples[size]["plan"].append(seconds)
            samples[size]["plan_mb"].append(peak)
            seconds, peak = _child(FLOOR_SCRIPT, catalogs[size], schema)
            samples[size]["floor"].append(seconds)
            samples[size]["floor_mb"].append(peak)
    return {size: {name: statistics.median(values) for name, values in rows.items()}
            for size, rows in samples.items()}


def print_plan(rows: dict[int, dict[str, float]], runs: int) -> bool:
    """The plan table, the growth from the smallest to the largest size, and the goals."""
    print(f"plan (load + rules + checks) vs floor (json.loads + jsonschema-rs); medians of {runs}")
    print(f"{'assets':>10} {'seconds':>8} {'peak MiB':>8} {'floor s':>8} {'floor MiB':>9} "
          f"{'x floor':>8}")
    for size, row in rows.items():
        print(f"{size:>10,} {row['plan']:8.3f} {row['plan_mb']:8.0f} {row['floor']:8.3f} "
              f"{row['floor_mb']:9.0f} {row['plan'] / row['floor']:8.2f}")
    smallest, largest = min(rows), max(rows)
    if largest != smallest:
        growth = largest / smallest
        print(f"{largest:,} / {smallest:,} assets ({growth:.0f} x): plan "
              f"{rows[largest]['plan'] / rows[smallest]['plan']:.1f} x the seconds, "
              f"{rows[largest]['plan_mb'] / rows[smallest]['plan_mb']:.1f} x the peak; floor "
              f"{rows[largest]['floor'] / rows[smallest]['floor']:.1f} x the seconds")
    met = True
    if 100_000 in rows:
        seconds = rows[100_000]["plan"]
        met = seconds <= 1.0
        print(f"goal 100,000 assets <= 1 s: {seconds:.2f} s, {'met' if met else 'NOT met'}")
    if 1_000_000 in rows:
        seconds, peak = rows[1_000_000]["plan"], rows[1_000_000]["plan_mb"]
        big = seconds <= 8.0 and peak <= 1024
        met = met and big
        print(f"goal 1,000,000 assets <= 8 s and <= 1 GiB peak: {seconds:.2f} s, {peak:.0f} MiB, "
              f"{'met' if big else 'NOT met'}")
    return met


def small_files(count: int) -> Path:
    root = BENCH / f"small-{count}"
    marker = root / ".complete"
    if not marker.exists():
        files = root / "app" / "files"
        files.mkdir(parents=True, exist_ok=True)
        assets = []
        for i in range(count):
            data = hashlib.sha256(str(i).encode()).digest() * 512
            (files / f"f{i:05d}.bin").write_bytes(data)
            assets.append({"id": f"f{i:05d}", "url": f"files/f{i:05d}.bin", "size": len(data),
                           "sha256": hashlib.sha256(data).hexdigest(), "priority": 50})
        (root / "app" / "catalog.json").write_text(json.dumps({"version": "1",
                                                               "assets": assets}))
        marker.touch()
    return root


def manifests(folder: Path, base_url: str, total: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.yaml").write_text(f"""apiVersion: bgassets/v1
kind: App
metadata: {{id: com.example.bench, team: BENCH12345}}
spec:
  version: "1"
  appGroup: group.com.example.bench
  manifestURL: {base_url}app/catalog.json
  size: 1MiB
  maxInstallSize: 1GiB
  essentialMaxInstallSize: 1MiB
  initialDownloadRestrictions:
    downloadAllowance: {total * 2}
    essentialDownloadAllowance: 1MiB
    domainAllowList: ["127.0.0.1"]
  extension: extension.yaml
""")
    (folder / "extension.yaml").write_text("""apiVersion: bgassets/v1
kind: Extension
metadata: {id: com.example.bench.downloader, app: com.example.bench, team: BENCH12345}
spec:
  appGroup: group.com.example.bench
  rules: [{destination: "files/{filename}"}]
""")
    return folder / "app.yaml"


def timed(command: list[str]) -> float:
    """Seconds ``command`` takes, started on a quiet disk (see quiet_disk.settle)."""
    settle()
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def bench_simulate(runs: int, count: int) -> tuple[float, float]:
    root = small_files(count)
    work = BENCH / "work"
    catalog = json.loads((root / "app" / "catalog.json").read_text())
    total = sum(a["size"] for a in catalog["assets"])
    ours, theirs = [], []
    wait_for_free_inodes()
    outputs: list[Path] = []
    with nginx_server(root, BENCH / "nginx") as base_url:
        listing = work / "list.txt"
        work.mkdir(parents=True, exist_ok=True)
        listing.write_text("".join(f"{base_url}app/{a['url']} sha256={a['sha256']} "
                                   f"size={a['size']}\n" for a in catalog["assets"]))
        app = manifests(work / "manifests", base_url, total)
        # Every run on fresh folders, all deleted at the end (see quiet_disk.py).
        for run in range(runs):
            outputs += [work / f"fetched-{run}", work / f"state-{run}"]
            theirs.append(timed([sys.executable, "-m", "orchestrator", "fetch", "-q", "-i",
                                 str(listing), "-d", str(outputs[-2])]))
            ours.append(timed([sys.executable, "-m", "orchestrator", "--state-dir",
                               str(outputs[-1]), "simulate", "install", str(app), "--json"]))
    delete_many([*outputs, work])
    return statistics.median(ours), statistics.median(theirs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="one run, 100,000 assets only, 2,000 files")
    parser.add_argument("--only", choices=("plan", "simulate"), help="run one of the two")
    figures.add_argument(parser)
    args, _ = parser.parse_known_args()
    found: list[figures.Figure] = []
    runs, count = (1, 2_000) if args.quick else (3, 20_000)
    met = True
    if args.only != "simulate":
        sizes = PLAN_SIZES[:1] if args.quick else PLAN_SIZES
        rows = bench_plan(runs, sizes)
        met = print_plan(rows, runs)
        for size, row in rows.items():
            goal, ok = {100_000: ("<= 1 s", row["plan"] <= 1.0),
                        1_000_000: ("<= 8 s, <= 1 GiB",
                                    row["plan"] <= 8.0 and row["plan_mb"] <= 1024),
                        }.get(size, ("", None))
            found.append(figures.Figure(f"plan: {size:,}-asset catalog", "load, rules, checks",
                                        row["plan"], "s", "json.loads + jsonschema-rs",
                                        row["floor"], goal, ok,
                                        f"{row['plan_mb']:.0f} MiB peak"))
    if args.only != "plan":
        print(f"\n{'benchmark':<52} {'seconds':>8} {'goal':>10}", flush=True)
        simulate_seconds, fetch_seconds = bench_simulate(runs, count)
        ratio = simulate_seconds / fetch_seconds
        met = met and ratio <= 1.3
        print(f"{f'fetch -i: {count:,} files of 16 KiB':<52} {fetch_seconds:8.3f}")
        print(f"{f'simulate install: the same {count:,} files':<52} {simulate_seconds:8.3f} "
              f"{'<= 1.3 x':>10} {ratio:.2f} x fetch, {'met' if ratio <= 1.3 else 'MISSED'}")
        found.append(figures.Figure(f"{count:,} small downloads", "simulate install",
                                    simulate_seconds, "s", "bgassets fetch -i", fetch_seconds,
                                    "<= 1.3 x fetch", ratio <= 1.3))
    figures.write(args.figures, found)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
