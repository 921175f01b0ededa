"""Fuzz harness: thousands of generated manifests and catalogs through validate and plan.

Every kind of document (App, Extension, Device, catalog) is made by every
generator of ``tests/support/fuzzdocs.py`` (random bytes, byte mutations of the
bundled examples, structural mutations, hostile values such as 10**400, tags,
lone surrogates and deep nesting, whole-file oddities such as BOMs, other
encodings and alias bombs, edge values the schemas accept) and run through the
real ``bgassets validate`` and ``bgassets plan`` commands in worker processes, as
``tests/support/fuzzcases.py`` judges them; some plans fetch their catalog from a
loopback asset server, as ``plan`` without ``--catalog`` does. Counted: located errors,
accepted documents, tracebacks (anything but a located error naming the file)
and hangs (a document that takes longer than ``--timeout``). Each worker has an
address-space limit, so that a document that swells memory fails alone.

    python benchmarks/fuzz.py [--count 10000] [--seed 1] [--timeout 10] [--workers 2]

Failing documents are saved with their command lines under ``.bench/fuzz/``.
Exit status 0 when there was no traceback and no hang, else 1.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.fuzzcases import FUZZED as KINDS  # noqa: E402
from tests.support.fuzzcases import (  # noqa: E402
    Verdict,
    case_for,
    command_lines,
    judge,
    kind_and_generator,
    write_case,
)
from tests.support.fuzzdocs import GENERATORS  # noqa: E402

FAILURES = ROOT / ".bench" / "fuzz"
PROGRESS_EVERY = 1000


def _worker(connection: Connection, seed: int, memory_limit: int) -> None:
    """Judge the documents whose indexes arrive on ``connection``, one answer each.

    Each document may add ``memory_limit`` bytes of address space to what the worker
    holds before it (0: no limit), so that one that swells fails alone.
    """
    from orchestrator.devserver.thread import serve_in_thread

    with tempfile.TemporaryDirectory(prefix="bgassets-fuzz-") as scratch, \
            serve_in_thread(Path(scratch) / "case") as server:
        while (index := connection.recv()) is not None:
            # The catalog loader pauses the cyclic collector and then moves every object
            # to the oldest generation, garbage included, which the interpreter then
            # seldom collects: without this, the argument parsers that each command
            # builds pile up by 0.16 MB per document.
            gc.collect()
            if memory_limit:
                resource.setrlimit(resource.RLIMIT_AS, (_address_space_now() + memory_limit,
                                                        resource.RLIM_INFINITY))
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            try:
                verdict = judge(case_for(seed, index), Path(scratch) / "case", server.url)
            except Exception:  # the generator's or the judge's own bug, not bgassets'
                verdict = Verdict(failure=f"the harness failed:\n{traceback.format_exc()}")
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            connection.send((index, verdict.validate_code, verdict.plan_code, verdict.failure,
                             verdict.output if verdict.failure else [], peak,
                             peak - before))


def _address_space_now() -> int:
    """This process's virtual memory size in bytes (what RLIMIT_AS counts)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


@dataclass
class _Slot:
    """One worker process, the document it is judging and since when."""

    process: multiprocessing.process.BaseProcess
    connection: Connection
    index: int | None = None
    started: float = 0.0


@dataclass
class Tally:
    """Counts per (kind, generator) and overall."""

    rows: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    peak_kib: int = 0
    # The document that raised its worker's peak the most, and by how much.
    hungriest: tuple[int, int] = (0, -1)
    failures: list[tuple[int, str]] = field(default_factory=list)

    def count(self, index: int, outcome: str) -> None:
        self.rows.setdefault(kind_and_generator(index), Counter())[outcome] += 1


class Harness:
    """Hands document indexes to workers, restarts the ones that hang or die."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.context = multiprocessing.get_context("fork")
        self.memory_limit = args.memory_limit << 20
        self.tally = Tally()
        self.out = FAILURES / f"seed-{args.seed}"

    def start(self) -> _Slot:
        ours, theirs = self.context.Pipe()
        process = self.context.Process(target=_worker, daemon=True,
                                       args=(theirs, self.args.seed, self.memory_limit))
        process.start()
        theirs.close()
        return _Slot(process, ours)

    def give(self, slot: _Slot, index: int) -> None:
        slot.index, slot.started = index, time.monotonic()
        slot.connection.send(index)

    def stop(self, slot: _Slot) -> None:
        slot.process.kill()
        slot.process.join()
        slot.connection.close()

    def run(self) -> float:
        started = time.monotonic()
        shutil.rmtree(self.out, ignore_errors=True)
        pending = iter(range(self.args.count))
        busy: list[_Slot] = []
        for _ in range(self.args.workers):
            index = next(pending, None)
            if index is not None:
                slot = self.start()
                self.give(slot, index)
                busy.append(slot)
        done = 0
        while busy:
            ready = wait([slot.connection for slot in busy], timeout=0.5)
            for slot in list(busy):
                if not self.settle(slot, slot.connection in ready):
                    continue
                done += 1
                if done % PROGRESS_EVERY == 0:
                    print(f"fuzz: {done}/{self.args.count} documents, "
                          f"{len(self.tally.failures)} failing, "
                          f"{time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
                busy.remove(slot)
                if not slot.process.is_alive():
                    slot = self.start()
                following = next(pending, None)
                if following is None:
                    slot.connection.send(None)
                    slot.process.join()
                else:
                    self.give(slot, following)
                    busy.append(slot)
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        self.tally.peak_kib = max(self.tally.peak_kib, children)
        return time.monotonic() - started

    def settle(self, slot: _Slot, ready: bool) -> bool:
        """Record the answer of ``slot``'s document, or its hang or death; False while it
        is still being judged. A worker that hung or died is stopped."""
        assert slot.index is not None
        if ready:
            try:
                self.record(slot.connection.recv())
                return True
            except EOFError:
                slot.process.join()
                self.record_failure(slot.index, "crash", "the worker died (exit status "
                                    f"{slot.process.exitcode})", [])
        elif time.monotonic() - slot.started > self.args.timeout:
            self.record_failure(slot.index, "hang", f"more than {self.args.timeout} s", [])
        else:
            return False
        self.stop(slot)
        return True

    def record(self, answer: tuple) -> None:
        index, validate_code, plan_code, failure, output, peak, growth = answer
        self.tally.peak_kib = max(self.tally.peak_kib, peak)
        self.tally.hungriest = max(self.tally.hungriest, (growth, index))
        if failure is not None:
            self.record_failure(index, "traceback", failure, output)
            return
        self.tally.count(index, "accepted" if validate_code == 0 else "errors")
        self.tally.count(index, "planned" if plan_code == 0 else "plan-errors")

    def record_failure(self, index: int, outcome: str, reason: str, output: list[str]) -> None:
        self.tally.count(index, outcome)
        case = case_for(self.args.seed, index)
        folder = self.out / f"{index:05d}-{case.kind}-{case.generator}"
        # Fetched from `bgassets serve FOLDER` (port 8470) when reproduced.
        paths = write_case(case, folder, "http://127.0.0.1:8470/catalog.json")
        validate, plan = command_lines(case, paths, fetched=case.fetch)
        serve = f"  python -m orchestrator serve {folder} &\n" if case.fetch else ""
        (folder / "README.txt").write_text(
            f"{outcome}: {reason}\n\nReproduce from {ROOT}:\n"
            f"  python -m orchestrator {' '.join(validate)}\n{serve}"
            f"  python -m orchestrator {' '.join(plan)}\n\n" + "\n".join(output),
            encoding="utf-8", errors="backslashreplace")
        shown = reason.splitlines()[-1][:200].encode("utf-8", "backslashreplace").decode()
        self.tally.failures.append((index, f"{outcome}: {shown}"))


COLUMNS = ("docs", "errors", "accepted", "plan-errors", "planned", "traceback", "hang", "crash")


def print_summary(tally: Tally, seconds: float, args: argparse.Namespace, out: Path) -> None:
    print(f"{'kind':<10} {'generator':<17}" + "".join(f"{name:>12}" for name in COLUMNS))
    total: Counter[str] = Counter()
    for kind in KINDS:
        for generator in GENERATORS:
            row = tally.rows.get((kind, generator), Counter())
            row["docs"] = row["errors"] + row["accepted"] + row["traceback"] + row["hang"] \
                + row["crash"]
            total.update(row)
            print(f"{kind:<10} {generator:<17}" + "".join(f"{row[name]:>12}" for name in COLUMNS))
    print(f"{'all':<28}" + "".join(f"{total[name]:>12}" for name in COLUMNS))
    print(f"errors: reported as located problems by validate; plan-errors: a located error "
          f"from plan. seed {args.seed}, timeout {args.timeout} s per document, "
          f"{args.workers} workers")
    print(f"peak memory {tally.peak_kib / 1024:.0f} MiB (largest worker), {seconds:.1f} s, "
          f"{total['docs'] / max(seconds, 1e-9):.0f} documents/s")
    commit = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"],
                            capture_output=True, text=True).stdout.strip()[:72]
    print(f"date UTC {time.strftime('%Y-%m-%d %H:%M', time.gmtime())}, commit {commit or '?'}")
    growth, index = tally.hungriest
    if index >= 0:
        kind, generator = kind_and_generator(index)
        print(f"hungriest document #{index} ({kind}, {generator}) raised its worker's peak "
              f"by {growth / 1024:.0f} MiB")
    for index, reason in tally.failures[:20]:
        print(f"  #{index}: {reason}")
    if tally.failures:
        print(f"{len(tally.failures)} failing documents saved under {out}")


def _warm_up() -> None:
    """Import the commands and compile the schemas once, before the workers fork."""
    from orchestrator.cli.main import build_parser
    from orchestrator.manifests.schema import compiled, explainer

    build_parser()
    for kind in KINDS:
        compiled(kind)
        explainer(kind)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="documents (default 10000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds one document may take before it counts as a hang")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--memory-limit", type=int, default=1024, metavar="MIB",
                        help="address space one document may add (default 1024; 0: no limit)")
    args = parser.parse_args(argv)
    _warm_up()
    harness = Harness(args)
    seconds = harness.run()
    print_summary(harness.tally, seconds, args, harness.out)
    return 1 if harness.tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
