"""Engine benchmarks P1-P3: ``bgassets fetch`` side by side with curl and aria2c.

Every tool downloads the same files from the same nginx on 127.0.0.1 in the
same run; runs are interleaved (ours, theirs, ours, ...) so that a busy
moment hurts everyone alike, and each figure is the median wall time of a
whole command, Python start-up included. Data lives in ``.bench/engine``
(created once, reused); downloaded files are deleted after every run.

- P1: 1 GiB, unthrottled: ``bgassets fetch --sha256`` vs ``curl -s -o``. Goal <= 1.15.
- P2: 256 MiB, nginx ``limit_rate 20m`` per connection: ``bgassets fetch`` with
  no tuning flags vs ``aria2c -x8 -s8`` (curl for reference). Goal <= 1.0.
- P3: 20,000 files of 16 KiB, 16 at a time: ``bgassets fetch -i --jobs 16`` with each
  file's size and sha256 in the list (as a catalog gives them; every file verified and
  durable before it is in place) vs ``curl --parallel --parallel-max 16`` and
  ``aria2c -j16`` on the bare list. Goals: <= 2.5 x curl, and 3 x faster than aria2c.
  For reference: the same list without sizes and sha256, and a bare aiohttp loop
  (``bare_aiohttp.py``: no verification, no durability) on the bare list.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import figures  # noqa: E402
from quiet_disk import delete_many, settle, wait_for_free_inodes  # noqa: E402

from tests.support.nginx import nginx_server  # noqa: E402
from tests.support.tools import find_tool  # noqa: E402

BENCH = ROOT / ".bench" / "engine"
MIB = 1 << 20
BLOCK = 16 * MIB


@dataclass(frozen=True)
class Scale:
    """Sizes for one mode: the full benchmark or ``--quick``."""

    runs: int
    p1_size: int
    p2_size: int
    p3_files: int
    p3_file_size: int = 16 * 1024


FULL = Scale(runs=3, p1_size=1024 * MIB, p2_size=256 * MIB, p3_files=20_000)
QUICK = Scale(runs=1, p1_size=128 * MIB, p2_size=64 * MIB, p3_files=2_000)


@dataclass
class Case:
    """One benchmark: named commands run on the same data, and the goals on their ratios."""

    name: str
    what: str
    commands: dict[str, Callable[[Path], list[str]]]
    check: Callable[[Path], str | None]
    goals: list[tuple[str, str, float | None, str]]   # (ours, theirs, max ratio, text)
    times: dict[str, list[float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


# Data -----------------------------------------------------------------------

def random_file(path: Path, size: int) -> str:
    """Create ``path`` with ``size`` random bytes once; its sha256 is cached beside it."""
    digest_file = path.with_name(path.name + ".sha256")
    if path.exists() and path.stat().st_size == size and digest_file.exists():
        return digest_file.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with open(path, "wb") as handle:
        remaining = size
        while remaining:
            block = os.urandom(min(BLOCK, remaining))
            digest.update(block)
            handle.write(block)
            remaining -= len(block)
    digest_file.write_text(digest.hexdigest() + "\n")
    return digest.hexdigest()


def small_files(folder: Path, count: int, size: int) -> list[str]:
    """``count`` distinct files of ``size`` bytes in ``folder``; their names, sorted."""
    names = [f"f{index:05d}.bin" for index in range(count)]
    stamp = folder / f".complete-{count}-{size}"
    if stamp.exists():
        return names
    folder.mkdir(parents=True, exist_ok=True)
    seed = os.urandom(size)
    for index, name in enumerate(names):
        (folder / name).write_bytes(index.to_bytes(8, "big") + seed[8:])
    stamp.touch()
    return names


# Running --------------------------------------------------------------------

def bgassets(*args: str) -> list[str]:
    return [sys.executable, "-m", "orchestrator", "fetch", "--quiet", *args]


def clean(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)


def time_command(command: list[str], out: Path) -> tuple[float, str | None]:
    """Wall seconds of ``command`` in a fresh ``out``; an error text when it failed."""
    clean(out)
    settle()
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        return elapsed, f"exit {result.returncode}: {' | '.join(tail)}"
    return elapsed, None


# Outputs of many files are kept until the benchmark ends (see quiet_disk.py): every run
# starts on a fresh folder and no run follows a deletion of thousands of files.
MANY_FILES = 1000
LATER: list[Path] = []


def run_case(case: Case, runs: int, out: Path) -> None:
    """Interleave the commands ``runs`` times; keep times of successful, checked runs."""
    wait_for_free_inodes()
    for run in range(runs):
        for index, (label, command) in enumerate(case.commands.items()):
            folder = out / f"{case.name}-{index}-{run}"
            elapsed, problem = time_command(command(folder), folder)
            problem = problem or case.check(folder)
            if problem:
                case.failures.append(f"{label}: {problem}")
            else:
                case.times.setdefault(label, []).append(elapsed)
            print(f"  {case.name} {label:28} {elapsed:7.2f} s{'  FAILED' if problem else ''}",
                  flush=True)
            if sum(1 for _ in folder.iterdir()) >= MANY_FILES:
                LATER.append(folder)
            else:
                shutil.rmtree(folder, ignore_errors=True)


def file_check(path_in_out: str, size: int) -> Callable[[Path], str | None]:
    def check(out: Path) -> str | None:
        path = out / path_in_out
        if not path.is_file() or path.stat().st_size != size:
            return f"{path_in_out} missing or of the wrong size"
        return None
    return check


def files_check(names: list[str], size: int) -> Callable[[Path], str | None]:
    def check(out: Path) -> str | None:
        wrong = [name for name in names if not (out / name).is_file()
                 or (out / name).stat().st_size != size]
        return f"{len(wrong)} of {len(names)} files missing or wrong" if wrong else None
    return check


@contextmanager
def nginx(data: Path, name: str, limit_rate: str | None = None) -> Iterator[str]:
    with nginx_server(data, BENCH / f"nginx-{name}", limit_rate=limit_rate) as url:
        yield url


# Cases ----------------------------------------------------------------------

def case_p1(base: str, data: Path, scale: Scale, tools: dict[str, str]) -> Case:
    size = scale.p1_size
    name = f"p1-{size // MIB}MiB.bin"
    digest = random_file(data / name, size)
    url = base + name
    return Case(
        name="P1", what=f"{size // MIB} MiB, unthrottled",
        commands={
            "bgassets fetch --sha256": lambda out: bgassets(
                url, "-d", str(out), "--sha256", digest, "--size", str(size)),
            "curl -s -o": lambda out: [tools["curl"], "-s", "-f", "-o", str(out / name), url],
        },
        check=file_check(name, size),
        goals=[("bgassets fetch --sha256", "curl -s -o", 1.15, "<= 1.15 x curl")],
    )


def case_p2(base: str, data: Path, scale: Scale, tools: dict[str, str]) -> Case:
    size = scale.p2_size
    name = f"p2-{size // MIB}MiB.bin"
    digest = random_file(data / name, size)
    url = base + name
    return Case(
        name="P2", what=f"{size // MIB} MiB, limit_rate 20m per connection",
        commands={
            "bgassets fetch (no flags)": lambda out: bgassets(url, "-d", str(out),
                                                              "--sha256", digest),
            "aria2c -x8 -s8": lambda out: [
                tools["aria2c"], "-x8", "-s8", "--allow-overwrite=true",
                "--auto-file-renaming=false", "-q", "-d", str(out), url],
            "curl -s -o": lambda out: [tools["curl"], "-s", "-f", "-o", str(out / name), url],
        },
        check=file_check(name, size),
        goals=[("bgassets fetch (no flags)", "aria2c -x8 -s8", 1.0, "<= 1.0 x aria2c")],
    )


def sized_list(path: Path, base: str, folder: Path, names: list[str]) -> Path:
    """The list with ``size=`` and ``sha256=`` on every line, as a catalog gives them."""
    lines = []
    for name in names:
        body = (folder / name).read_bytes()
        lines.append(f"{base}p3/{name} size={len(body)} "
                     f"sha256={hashlib.sha256(body).hexdigest()}\n")
    path.write_text("".join(lines))
    return path


def case_p3(base: str, data: Path, scale: Scale, tools: dict[str, str]) -> Case:
    names = small_files(data / "p3", scale.p3_files, scale.p3_file_size)
    lists = BENCH / "lists"
    lists.mkdir(parents=True, exist_ok=True)
    url_list = lists / f"p3-{len(names)}.txt"
    url_list.write_text("".join(f"{base}p3/{name}\n" for name in names))
    pinned = sized_list(lists / f"p3-{len(names)}-sized.txt", base, data / "p3", names)
    bare = [sys.executable, str(ROOT / "benchmarks" / "bare_aiohttp.py"), "--uvloop",
            "--jobs", "16", str(url_list)]

    def curl_config(out: Path) -> Path:
        config = lists / f"p3-{len(names)}.curl"
        config.write_text("".join(f'url = "{base}p3/{name}"\noutput = "{out / name}"\n'
                                  for name in names))
        return config

    return Case(
        name="P3", what=f"{len(names):,} files of {scale.p3_file_size // 1024} KiB",
        commands={
            "bgassets fetch -i --jobs 16": lambda out: bgassets(
                "-i", str(pinned), "--jobs", "16", "-d", str(out)),
            "curl --parallel-max 16": lambda out: [
                tools["curl"], "-s", "-f", "--parallel", "--parallel-max", "16",
                "-K", str(curl_config(out))],
            "aria2c -j16 -i": lambda out: [
                tools["aria2c"], "-j16", "-i", str(url_list), "--allow-overwrite=true",
                "--auto-file-renaming=false", "-q", "-d", str(out)],
            "bare aiohttp loop": lambda out: [*bare, "-d", str(out)],
            "bgassets fetch -i, no size or sha256": lambda out: bgassets(
                "-i", str(url_list), "--jobs", "16", "-d", str(out)),
        },
        check=files_check(names, scale.p3_file_size),
        goals=[("bgassets fetch -i --jobs 16", "curl --parallel-max 16", 2.5,
                "<= 2.5 x curl"),
               ("bgassets fetch -i --jobs 16", "aria2c -j16 -i", 1 / 3,
                "3 x faster than aria2c"),
               ("bgassets fetch -i --jobs 16", "bare aiohttp loop", None, ""),
               ("bgassets fetch -i, no size or sha256", "curl --parallel-max 16", None, "")],
    )


# Report ---------------------------------------------------------------------

def median(case: Case, label: str) -> float | None:
    samples = case.times.get(label)
    return statistics.median(samples) if samples else None


def machine() -> str:
    versions = []
    for tool, flag in (("curl", "--version"), ("aria2c", "--version"), ("nginx", "-v")):
        path = find_tool(tool)
        if path:
            result = subprocess.run([path, flag], capture_output=True, text=True)
            found = re.search(r"\d+\.\d+(\.\d+)?", result.stdout + result.stderr)
            versions.append(f"{tool} {found.group(0) if found else '?'}")
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}, " + ", ".join(versions))


def report(cases: list[Case], runs: int) -> list[figures.Figure]:
    """Print the markdown table; the figures, one per pair of commands compared."""
    print(f"\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {machine()}; "
          f"median of {runs} run{'s' if runs > 1 else ''} each, wall time of the whole command\n")
    print("| case | command | seconds |")
    print("|---|---|---:|")
    for case in cases:
        for label in case.commands:
            value = median(case, label)
            seconds = f"{value:.2f}" if value is not None else "failed"
            print(f"| {case.name}: {case.what} | `{label}` | {seconds} |")
    found = []
    for case in cases:
        for mine, theirs, limit, text in case.goals:
            ours, peer = median(case, mine), median(case, theirs)
            met = None if limit is None else (
                ours is not None and peer is not None and ours / peer <= limit)
            found.append(figures.Figure(f"{case.name}: {case.what}", f"`{mine}`", ours, "s",
                                        f"`{theirs}`", peer, text, met))
            ratio = f"{ours / peer:.2f}" if ours is not None and peer else "?"
            verdict = "" if met is None else f": {'met' if met else 'NOT met'}"
            print(f"{case.name}: {mine} / {theirs} = {ratio} {text}{verdict}")
    for case in cases:
        for failure in case.failures:
            print(f"{case.name} failure: {failure}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="one run each on smaller data (128 MiB, 64 MiB, 2,000 files)")
    parser.add_argument("--only", choices=("P1", "P2", "P3"), action="append",
                        help="run only these cases (repeatable)")
    figures.add_argument(parser)
    args = parser.parse_args()
    scale = QUICK if args.quick else FULL
    tools = {name: find_tool(name) for name in ("curl", "aria2c", "nginx")}
    missing = [name for name, path in tools.items() if path is None]
    if missing:
        print(f"engine benchmark skipped: {', '.join(missing)} not installed "
              "(.ci/run installs them with apt-get)")
        return 0
    data = BENCH / "data"
    out = BENCH / "out"
    cases = []
    plan = [("P1", None, case_p1), ("P2", "20m", case_p2), ("P3", None, case_p3)]
    for name, limit_rate, build in plan:
        if args.only and name not in args.only:
            continue
        with nginx(data, name.lower(), limit_rate) as base:
            case = build(base, data, scale, tools)  # type: ignore[arg-type]
            print(f"{case.name}: {case.what}", flush=True)
            run_case(case, scale.runs, out)
        cases.append(case)
    delete_many([*LATER, out])
    found = report(cases, scale.runs)
    figures.write(args.figures, found)
    met = all(figure.met is not False for figure in found) and not any(
        case.failures for case in cases)
    print(f"goals: {'all met' if met else 'NOT all met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
