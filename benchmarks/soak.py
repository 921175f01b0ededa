"""Crash soak: ``simulate install`` killed with SIGKILL 30+ times, then finished.

For each nginx ``limit_rate`` (per connection) given, one app of six random files (two
essential) is installed from a real nginx on 127.0.0.1 while the CLI is killed at seeded
moments, ``--kills`` times, then left to finish. The checks and figures are those of
``tests/service/test_crash_soak.py`` (see ``tests/support/soak.py``): 0 wrong files,
0 missing, nothing left over, no ``download.finished`` of a killed run lost, and per kill
and file at most ``RESUME_BOUND_PER_CONNECTION`` + socket slack fetched again per
connection alive at the kill, as nginx's access log counts the bytes, and no file started
over from byte 0 within a run.

Sizes: ``--size-mib`` (default 1024) is the total at 30m per connection and above; a
slower rate gets it scaled by rate / 30m but at least 384 MiB (so 1m gets 384 MiB): at
1 MiB/s per connection, over the connections the engine opens, that still leaves 30 kills
a transfer to cut, in about a minute. Content is made once in ``.bench/soak`` and reused;
each rate's state dir is deleted after a clean run (kept, with nginx's access log and
``runs.json``, after a violation). Exit 1 on any violation.

    python benchmarks/soak.py                      # 30 kills at 30m (1 GiB) and 1m (384 MiB)
    python benchmarks/soak.py --rate 30m --kills 40 --seed 7
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.soak import (  # noqa: E402
    RESUME_BOUND_PER_CONNECTION,
    SOCKET_SLACK_PER_CONNECTION,
    MiB,
    SoakReport,
    layout,
    make_files,
    soak_against_nginx,
)

BENCH = ROOT / ".bench" / "soak"
REFERENCE_RATE = 30 * 1000 * 1000
MIN_SLOW_TOTAL = 384 * MiB
UNITS = {"": 1, "k": 1024, "m": 1024 * 1024, "g": 1024 ** 3}


def rate_bytes(rate: str) -> int:
    """nginx's size syntax (``512k``, ``30m``): bytes per second."""
    match = re.fullmatch(r"(\d+)([kmg]?)", rate.lower())
    if match is None:
        raise argparse.ArgumentTypeError(f"{rate}: not an nginx rate such as 1m or 512k")
    return int(match[1]) * UNITS[match[2]]


def total_for(rate: str, size_mib: int) -> int:
    """The soak's total size at ``rate``: ``size_mib`` from 30m up, scaled down below."""
    full = size_mib * MiB
    scaled = int(full * min(1.0, rate_bytes(rate) / REFERENCE_RATE))
    return max(min(full, MIN_SLOW_TOTAL), scaled) // (16 * MiB) * (16 * MiB) or 16 * MiB


def soak_one(rate: str, total: int, kills: int, seed: int, timeout: float) -> SoakReport:
    content = BENCH / f"content-{total // MiB}m-{seed}"
    print(f"\n== limit_rate {rate} per connection: {total / MiB:.0f} MiB in 6 files, "
          f"{kills} kills, seed {seed}", flush=True)
    files = make_files(content, layout(total), seed=seed)
    work = BENCH / f"work-{rate}"
    shutil.rmtree(work, ignore_errors=True)
    report = soak_against_nginx(work, content, files, rate=rate, kills=kills, seed=seed,
                                run_timeout=timeout, say=lambda line: print(line, flush=True))
    print(report.format(), flush=True)
    if not report.violations():
        shutil.rmtree(work / "state", ignore_errors=True)  # keep the logs for a post-mortem
    else:
        print(f"(state dir, access log and runs.json kept in {work})")
    return report


def table(rows: list[tuple[str, SoakReport]]) -> str:
    head = ["rate/conn", "size", "kills", "files", "wrong", "missing", "left", "lost fin",
            "again/kill/conn max", "median", "p95", "over bound", "started over",
            "served/size", "seconds"]
    lines = []
    for rate, report in rows:
        most, median, p95 = report.per_connection_figures()
        total = sum(f.size for f in report.files)
        lines.append([rate, f"{total / MiB:.0f} MiB", str(report.kills),
                      str(len(report.files)), str(len(report.wrong)),
                      str(len(report.missing)), str(len(report.leftovers)),
                      str(len(report.lost_finished)), f"{most / MiB:.2f} MiB",
                      f"{median / MiB:.2f} MiB", f"{p95 / MiB:.2f} MiB",
                      str(len(report.over_bound)), str(len(report.started_over)),
                      f"{report.served_total / total:.3f}",
                      f"{report.seconds:.0f}"])
    widths = [max(len(row[i]) for row in [head, *lines]) for i in range(len(head))]
    return "\n".join("  ".join(cell.rjust(width) for cell, width in zip(row, widths,
                                                                        strict=True))
                     for row in [head, *lines])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=30, help="kills per rate (default 30)")
    parser.add_argument("--size-mib", type=int, default=1024,
                        help="total MiB at 30m per connection; slower rates scale it down")
    parser.add_argument("--rate", action="append", type=str, metavar="RATE",
                        help="nginx limit_rate per connection, repeatable (default 30m and 1m)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--run-timeout", type=float, default=600,
                        help="seconds one run may take before the soak fails (default 600)")
    args = parser.parse_args()
    rates = args.rate or ["30m", "1m"]
    for rate in rates:
        rate_bytes(rate)
    commit = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"],
                            capture_output=True, text=True).stdout.strip()[:72]
    print(f"bound: {RESUME_BOUND_PER_CONNECTION / MiB:g} MiB per connection alive at a kill "
          f"+ {SOCKET_SLACK_PER_CONNECTION / 1024:g} KiB each (or the socket queues measured); "
          f"commit {commit or '?'}", flush=True)
    rows = [(rate, soak_one(rate, total_for(rate, args.size_mib), args.kills, args.seed,
                            args.run_timeout)) for rate in rates]
    print("\n" + table(rows))
    print(f"date UTC {rows[-1][1].summary()[-1][1]}, commit {commit or '?'}")
    failed = [(rate, problem) for rate, report in rows for problem in report.violations()]
    for rate, problem in failed:
        print(f"FAIL {rate}: {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
