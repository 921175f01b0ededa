"""What a crash soak cost, measured from outside in nginx's access log.

The bytes of a file that nginx sent to a killed run and sent again to a later run (the
overlap of the served byte ranges) are what that kill made the engine fetch again; the
connections still transferring the file at the kill are the ones that may cost it. The
files at their final paths are checked against the catalog's size and sha256.
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tests.support.nginx import AccessRecord, read_access_log

KiB, MiB = 1 << 10, 1 << 20
GROUP = "group.com.example.soak"
FOLDER = "soak"

# The goal: after kill -9 a resume fetches again at most this much per connection that was
# transferring the file at the kill (the engine's progress marks may trail the bytes it has
# received by this much).
RESUME_BOUND_PER_CONNECTION = 1 * MiB
# On top, per such connection: bytes nginx sent (and counted in $body_bytes_sent) that the
# client never read. Loopback sockets start at tcp_wmem 16 KiB + tcp_rmem 128 KiB, and
# aiohttp reads up to 2 x 64 KiB ahead of the engine: 256 KiB covers a client that keeps
# up with a throttled server. A client starved of CPU lets the kernel queue more (autotuned
# buffers reach MiBs); what ``ss`` measured in the queues just before the kill then counts
# instead, so that bytes the engine never received are not held against it.
SOCKET_SLACK_PER_CONNECTION = 256 * KiB
# nginx logs $msec to the millisecond: a request it logged up to this long before the kill
# may have been cut by the kill.
LOG_CLOCK_SLACK = 0.002
BLOCK = 16 * MiB


@dataclass(frozen=True)
class SoakFile:
    """One asset of the soak app, as its catalog entry says it is."""

    id: str
    size: int
    sha256: str
    essential: bool
    priority: int

    @property
    def uri(self) -> str:
        return f"/{FOLDER}/{self.id}.bin"

    @property
    def destination(self) -> str:
        return f"assets/{self.id}.bin"


@dataclass
class Run:
    """One ``simulate install`` process, killed or left to finish."""

    index: int
    started: float                      # epoch seconds, just before the spawn
    killed: float | None = None         # epoch seconds, just before SIGKILL
    returncode: int | None = None
    events: list[dict] = field(default_factory=list)
    stderr: str = ""
    queued: dict[int, int] = field(default_factory=dict)  # client port -> bytes in kernel
    why: str = ""                       # what the kill waited for

    def finished(self) -> set[str]:
        return {e["download"] for e in self.events if e.get("event") == "download.finished"}


def _union(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(r for r in ranges if r[1] > r[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def overlap(ranges: Iterable[tuple[int, int]], others: Iterable[tuple[int, int]]) -> int:
    """Bytes in both unions of half-open ranges."""
    mine, theirs = _union(ranges), _union(others)
    total, j = 0, 0
    for start, end in mine:
        while j < len(theirs) and theirs[j][1] <= start:
            j += 1
        k = j
        while k < len(theirs) and theirs[k][0] < end:
            total += min(end, theirs[k][1]) - max(start, theirs[k][0])
            k += 1
    return total


def size(count: float) -> str:
    """Bytes for a reader: KiB below 1 MiB, else MiB with two decimals."""
    return f"{count / KiB:.0f} KiB" if count < MiB else f"{count / MiB:.2f} MiB"


@dataclass(frozen=True)
class KillCost:
    """What one kill cost one file."""

    kill: int              # the run's index
    file: str
    alive: int             # connections transferring the file at the kill
    served: int            # bytes nginx sent for the file in that run
    again: int             # bytes later runs were sent again (see kill_costs)
    in_kernel: int         # bytes of its alive connections in socket queues at the kill

    @property
    def bound(self) -> int:
        slack = max(self.alive * SOCKET_SLACK_PER_CONNECTION, self.in_kernel)
        return self.alive * RESUME_BOUND_PER_CONNECTION + slack

    @property
    def per_connection(self) -> float:
        return self.again / max(1, self.alive)


@dataclass
class SoakReport:
    """The figures of a soak and every way it went wrong."""

    files: list[SoakFile]
    runs: list[Run]
    costs: list[KillCost]
    wrong: list[str]
    missing: list[str]
    leftovers: list[str]
    lost_finished: list[str]
    failed_final: str | None
    served_total: int
    seconds: float
    started_over: list[str] = field(default_factory=list)

    @property
    def kills(self) -> int:
        return sum(1 for run in self.runs if run.killed is not None)

    @property
    def over_bound(self) -> list[KillCost]:
        return [c for c in self.costs if c.again > c.bound]

    def violations(self) -> list[str]:
        problems = [f"wrong: {name}" for name in self.wrong]
        problems += [f"missing: {name}" for name in self.missing]
        problems += [f"left over: {name}" for name in self.leftovers]
        problems += [f"lost after download.finished: {name}" for name in self.lost_finished]
        problems += [f"started over: {what}" for what in self.started_over]
        if self.failed_final:
            problems.append(f"the last run did not finish: {self.failed_final}")
        problems += [f"kill {c.kill} {c.file}: fetched {size(c.again)} again, bound "
                     f"{size(c.bound)} ({c.alive} connections alive, "
                     f"{size(c.in_kernel)} in socket queues)" for c in self.over_bound]
        return problems

    def per_connection(self) -> list[float]:
        return sorted(c.per_connection for c in self.costs if c.alive)

    def per_connection_figures(self) -> tuple[float, float, float]:
        """Bytes fetched again per kill per alive connection: max, median, p95."""
        values = self.per_connection() or [0.0]
        p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
        return values[-1], statistics.median(values), p95

    def summary(self) -> list[tuple[str, str]]:
        most, median, p95 = self.per_connection_figures()
        total = sum(f.size for f in self.files)
        worst = max((c for c in self.costs if c.alive), key=lambda c: c.again / c.bound,
                    default=None)
        return [
            ("kills", str(self.kills)),
            ("runs", str(len(self.runs))),
            ("files", f"{len(self.files)} ({total / MiB:.0f} MiB)"),
            ("wrong / missing / left over", f"{len(self.wrong)} / {len(self.missing)} / "
                                            f"{len(self.leftovers)}"),
            ("lost after download.finished", str(len(self.lost_finished))),
            ("files started over from byte 0 within a run", str(len(self.started_over))),
            ("(kill, file) pairs with a connection alive", str(len(self.per_connection()))),
            ("re-download per kill per connection, max", f"{most / MiB:.2f} MiB"),
            ("  median / p95", f"{median / MiB:.2f} / {p95 / MiB:.2f} MiB"),
            ("re-download per file per kill, max",
             f"{max((c.again for c in self.costs), default=0) / MiB:.2f} MiB"),
            ("over the bound (1 MiB + slack per alive connection)", str(len(self.over_bound))),
            ("worst against its bound", "-" if worst is None else
             f"kill {worst.kill} {worst.file}: {worst.again / MiB:.2f} MiB vs "
             f"{worst.bound / MiB:.2f} MiB, {worst.alive} alive, "
             f"{worst.in_kernel / KiB:.0f} KiB in kernel"),
            ("in socket queues at a kill, max per connection",
             f"{max((c.in_kernel / c.alive for c in self.costs if c.alive), default=0) / KiB:.0f}"
             " KiB"),
            ("served / total size", f"{self.served_total / MiB:.1f} / {total / MiB:.1f} MiB "
                                    f"({self.served_total / max(1, total):.3f})"),
            ("seconds", f"{self.seconds:.1f}"),
            ("date UTC", datetime.now(UTC).strftime("%Y-%m-%d %H:%M")),
        ]

    def format(self) -> str:
        width = max(len(name) for name, _ in self.summary())
        lines = [f"{name:<{width}}  {value}" for name, value in self.summary()]
        lines.append("kills (run: moment, alive connections per file, MiB again per file):")
        for run in self.runs:
            if run.killed is None:
                continue
            mine = [c for c in self.costs if c.kill == run.index and (c.alive or c.again)]
            detail = ", ".join(f"{c.file} {c.alive}x {c.again / MiB:.2f}" for c in mine)
            lines.append(f"  {run.index:>3}: {run.why:<24} {detail or '-'}")
        problems = self.violations()
        lines += ["violations:", *(f"  {p}" for p in problems)] if problems else ["violations: 0"]
        return "\n".join(lines)


def _by_run(records: list[AccessRecord], runs: list[Run]) -> dict[int, list[AccessRecord]]:
    """The requests each run made, by run index, in log order."""
    asked: dict[int, list[AccessRecord]] = {}
    for record in records:
        run = _run_of(record, runs)
        if run is not None:
            asked.setdefault(run.index, []).append(record)
    return asked


def _run_of(record: AccessRecord, runs: list[Run]) -> Run | None:
    """The run that made the request: the last one started before the request was."""
    owner = None
    for run in runs:
        if run.started <= record.started + LOG_CLOCK_SLACK:
            owner = run
    return owner


def _alive(mine: list[AccessRecord], run: Run,
           everything: list[AccessRecord]) -> list[AccessRecord]:
    """Those of ``mine`` (one file's requests in a killed run) in transfer at the kill.

    nginx was still sending (it logged the request only after the kill), or the kernel
    still held bytes of the connection for the client: then the last request on that port
    in ``everything`` the run asked (a kept-alive connection serves one file after another).
    """
    assert run.killed is not None
    alive = {id(r) for r in mine if r.ended >= run.killed - LOG_CLOCK_SLACK}
    for port, queued in run.queued.items():
        on_port = [r for r in everything if r.client_port == port and r.started <= run.killed]
        if queued and on_port:
            alive.add(id(max(on_port, key=lambda r: r.started)))
    return [r for r in mine if id(r) in alive]


def _charge(last_sent: list[tuple[int, int, int]], ranges: list[tuple[int, int]], run: int,
            again: dict[int, int]) -> list[tuple[int, int, int]]:
    """Charge the bytes of ``ranges`` found in ``last_sent`` (start, end, run that was sent
    them last) to that run in ``again``; return ``last_sent`` with ``ranges`` now ``run``'s."""
    mine = _union(ranges)
    for start, end, earlier in last_sent:
        shared = overlap([(start, end)], mine)
        if shared:
            again[earlier] = again.get(earlier, 0) + shared
    kept = []
    for start, end, earlier in last_sent:  # cut ``mine`` out of the older pieces
        pieces = [(start, end)]
        for cut_start, cut_end in mine:
            pieces = [piece for a, b in pieces
                      for piece in ((a, min(b, cut_start)), (max(a, cut_end), b))
                      if piece[1] > piece[0]]
        kept += [(a, b, earlier) for a, b in pieces]
    return sorted(kept + [(a, b, run) for a, b in mine])


def kill_costs(files: list[SoakFile], runs: list[Run],
               records: list[AccessRecord]) -> list[KillCost]:
    """For every kill and file: connections alive at the kill, and bytes fetched again.

    A byte of a file that a run is sent although an earlier run was sent it already is
    charged to the last run that was sent it: that run's kill lost it. Each byte sent
    again is so charged once, even when a later loss makes a run fetch it a third time.
    """
    asked = _by_run(records, runs)
    served = {(index, f.id): [r for r in mine if r.uri == f.uri]
              for index, mine in asked.items() for f in files}
    again: dict[str, dict[int, int]] = {}
    for f in files:
        last_sent: list[tuple[int, int, int]] = []
        for run in runs:
            ranges = [r.served(f.size) for r in served.get((run.index, f.id), [])]
            if ranges:
                last_sent = _charge(last_sent, ranges, run.index, again.setdefault(f.id, {}))
    costs = []
    for run in runs:
        if run.killed is None:
            continue
        for f in files:
            mine = served.get((run.index, f.id), [])
            alive = _alive(mine, run, asked.get(run.index, []))
            costs.append(KillCost(
                run.index, f.id, len(alive), sum(r.body_bytes_sent for r in mine),
                again.get(f.id, {}).get(run.index, 0),
                sum(run.queued.get(r.client_port, 0) for r in alive)))
    return costs


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def measure(files: list[SoakFile], runs: list[Run], state: Path, access_log: Path,
            seconds: float) -> SoakReport:
    """Check the state dir and the access log once the last run has ended."""
    container = state / "containers" / GROUP
    wrong, missing, intact = [], [], set()
    for f in files:
        path = container / f.destination
        if not path.is_file():
            missing.append(f.id)
        elif path.stat().st_size != f.size or _sha256(path) != f.sha256:
            wrong.append(f.id)
        else:
            intact.add(f.id)
    expected = {container / f.destination for f in files}
    leftovers = sorted(str(p.relative_to(state)) for p in container.rglob("*")
                       if p.is_file() and p not in expected)
    leftovers += sorted(str(p.relative_to(state))
                        for p in (state / "staging").rglob("*") if p.is_file())
    records = read_access_log(access_log)
    final = runs[-1]
    failed_final = None
    if final.killed is not None or final.returncode != 0:
        failed_final = f"exit {final.returncode}: {final.stderr.strip()[-2000:]}"
    by_uri = {f.uri for f in files}
    return SoakReport(
        files, runs, kill_costs(files, runs, records), wrong, missing, leftovers,
        _lost_finished(runs, records, intact), failed_final,
        sum(r.body_bytes_sent for r in records if r.uri in by_uri), seconds,
        _started_over(files, runs, records))


def _started_over(files: list[SoakFile], runs: list[Run],
                  records: list[AccessRecord]) -> list[str]:
    """Runs that asked a file from byte 0 after one of its requests in that run had ended:
    the engine threw the file's bytes away mid-run (a sha256 mismatch, say), which the
    per-kill figures spread over every kill whose bytes it fetched again."""
    found, asked = [], _by_run(records, runs)
    for f in files:
        for run in runs:
            mine = [r for r in asked.get(run.index, []) if r.uri == f.uri]
            for record in mine:
                if record.requested(f.size)[0] == 0 and any(
                        other.ended <= record.started for other in mine):
                    found.append(f"{f.id} in run {run.index} "
                                 f"({size(record.body_bytes_sent)} from byte 0)")
                    break
    return found


def _lost_finished(runs: list[Run], records: list[AccessRecord], intact: set[str]) -> list[str]:
    """Downloads a killed run announced as finished that are not intact at the end, or
    that a later run fetched again (the announcement did not hold)."""
    lost, asked = [], _by_run(records, runs)
    for run in runs[:-1]:
        for download in sorted(run.finished()):
            later = [r for index, mine in asked.items() if index > run.index
                     for r in mine if r.uri == f"/{FOLDER}/{download}.bin"]
            if download not in intact or later:
                lost.append(f"{download} (finished in run {run.index}; "
                            f"{'intact' if download in intact else 'not intact'} at the end, "
                            f"requested {len(later)} times later)")
    return lost
