"""Validation benchmark: validating a 100,000-asset JSON catalog in-process.

Goal: at most 0.5 s and 300 MB peak memory. Printed next to the floor
(``json.loads`` + the compiled jsonschema-rs validator alone) and, for
orientation, the pure-Python jsonschema validator. Each figure is the median
of several runs in a fresh process, so peak memory is that run's own (its VmHWM:
``benchmarks/peak.py``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import figures
from peak import IMPORTABLE

ROOT = Path(__file__).resolve().parents[1]

MEASURE = IMPORTABLE + r"""
import json, sys, time
from pathlib import Path
from peak import peak_kib
data = Path(sys.argv[1]).read_bytes()
mode = sys.argv[2]
if mode == "bgassets":
    from orchestrator.manifests import validate_catalog_bytes
    run = lambda: validate_catalog_bytes(data, sys.argv[1])
else:
    schema = json.loads(Path(sys.argv[3]).read_text())
    if mode == "floor":
        import jsonschema_rs
        validator = jsonschema_rs.validator_for(schema)
        run = lambda: validator.is_valid(json.loads(data))
    else:
        import jsonschema
        validator = jsonschema.Draft202012Validator(schema)
        run = lambda: list(validator.iter_errors(json.loads(data)))
start = time.perf_counter()
result = run()
elapsed = time.perf_counter() - start
peak = peak_kib() / 1024
ok = not result if isinstance(result, list) else bool(result)
print(json.dumps({"seconds": elapsed, "peak_mb": peak, "ok": ok}))
"""


def make_catalog(count: int) -> bytes:
    assets = [
        {
            "id": f"asset-{index:06d}",
            "url": f"assets/{index // 1000:03d}/asset-{index:06d}.bin",
            "size": 1024 + index,
            "sha256": f"{index:064x}",
            "essential": index % 50 == 0,
            "priority": index % 101,
        }
        for index in range(count)
    ]
    return json.dumps({"version": "1", "assets": assets}).encode()


def measure(path: Path, mode: str, runs: int) -> dict:
    schema = ROOT / "schemas" / "catalog.schema.json"
    samples = []
    for _ in range(runs):
        output = subprocess.run(
            [sys.executable, "-c", MEASURE, str(path), mode, str(schema)],
            capture_output=True, text=True, cwd=ROOT, check=True,
        ).stdout
        samples.append(json.loads(output))
    return {
        "seconds": statistics.median(sample["seconds"] for sample in samples),
        "peak_mb": max(sample["peak_mb"] for sample in samples),
        "ok": all(sample["ok"] for sample in samples),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one run each, skip jsonschema")
    parser.add_argument("--assets", type=int, default=100_000)
    figures.add_argument(parser)
    args = parser.parse_args()
    runs = 1 if args.quick else 5
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "catalog.json"
        path.write_bytes(make_catalog(args.assets))
        size_mb = path.stat().st_size / 1e6
        rows = [("bgassets validate_catalog_bytes", measure(path, "bgassets", runs)),
                ("floor: json.loads + jsonschema-rs", measure(path, "floor", runs))]
        if not args.quick:
            rows.append(("pure-Python jsonschema", measure(path, "jsonschema", 1)))
    floor = rows[1][1]["seconds"]
    print(f"catalog: {args.assets:,} assets, {size_mb:.1f} MB JSON; medians of {runs}")
    print(f"{'what':38} {'seconds':>8} {'x floor':>8} {'peak MB':>8} valid")
    for name, row in rows:
        print(f"{name:38} {row['seconds']:8.3f} {row['seconds'] / floor:8.2f} "
              f"{row['peak_mb']:8.0f} {row['ok']}")
    ours = rows[0][1]
    met = ours["seconds"] <= 0.5 and ours["peak_mb"] <= 300 and ours["ok"]
    print(f"goal (<= 0.5 s, <= 300 MB peak, valid): {'met' if met else 'NOT met'}")
    what = f"validate: {args.assets:,}-asset JSON catalog ({size_mb:.0f} MB)"
    found = [figures.Figure(what, "validate_catalog_bytes", ours["seconds"], "s",
                            "json.loads + jsonschema-rs", floor, "<= 0.5 s, <= 300 MB", met,
                            f"{ours['peak_mb']:.0f} MB peak")]
    if len(rows) > 2:
        found.append(figures.Figure(what, "validate_catalog_bytes", ours["seconds"], "s",
                                    "pure-Python jsonschema", rows[2][1]["seconds"]))
    figures.write(args.figures, found)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
