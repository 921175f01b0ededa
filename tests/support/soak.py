"""A crash soak: ``simulate install`` killed with SIGKILL at random moments, then finished.

Everything is real: nginx on 127.0.0.1 serves random files, the CLI runs as a child
process and dies by ``kill -9``, then runs again until the install is complete. What the
kills cost is measured by ``soak_report``. Shared by ``tests/service/test_crash_soak.py``
(short) and ``benchmarks/soak.py`` (long).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.nginx import nginx_server
from tests.support.soak_report import (
    BLOCK,
    FOLDER,
    GROUP,
    RESUME_BOUND_PER_CONNECTION,
    SOCKET_SLACK_PER_CONNECTION,
    MiB,
    Run,
    SoakFile,
    SoakReport,
    measure,
)
from tests.support.tools import find_tool

__all__ = ["RESUME_BOUND_PER_CONNECTION", "SOCKET_SLACK_PER_CONNECTION", "MiB", "Soak",
           "SoakFile", "SoakReport", "layout", "make_files", "run_soak", "soak_against_nginx",
           "write_app"]

APP_ID = "com.example.soak"
TEAM = "TEAM123456"


def write_random_file(path: Path, size: int, seed: int) -> str:
    """Write ``size`` seeded random bytes to ``path`` and return their sha256.

    Random rather than a repeated pattern: bytes merged at a wrong offset then change the
    file's hash. A file already there with its digest beside it is reused.
    """
    digest_file = path.with_name(f".{path.name}.{seed}.sha256")
    if path.exists() and path.stat().st_size == size and digest_file.exists():
        return digest_file.read_text().strip()
    rng, digest = random.Random(seed), hashlib.sha256()
    with open(path, "wb") as handle:
        for offset in range(0, size, BLOCK):
            block = rng.randbytes(min(BLOCK, size - offset))
            digest.update(block)
            handle.write(block)
    digest_file.write_text(digest.hexdigest())
    return digest.hexdigest()


def layout(total: int) -> list[tuple[str, int, bool]]:
    """Six assets totalling ``total`` bytes (a multiple of 16): two essential, four not."""
    sixteenth = total // 16
    return [("tutorial", 2 * sixteenth, True), ("level-1", 4 * sixteenth, True),
            ("music", sixteenth, False), ("level-2", 2 * sixteenth, False),
            ("voices", 3 * sixteenth, False), ("movie", 4 * sixteenth, False)]


def make_files(content: Path, sizes: list[tuple[str, int, bool]], seed: int) -> list[SoakFile]:
    """Write the assets ``(id, size, essential)`` under ``content``; priorities descend."""
    folder = content / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for index, (asset_id, size, essential) in enumerate(sizes):
        sha256 = write_random_file(folder / f"{asset_id}.bin", size, seed * 1000 + index)
        files.append(SoakFile(asset_id, size, sha256, essential, max(0, 90 - 10 * index)))
    return files


def write_app(root: Path, content: Path, base_url: str, files: list[SoakFile]) -> Path:
    """The catalog (served from ``content``), the App and its Extension; the App's path."""
    assets = [{"id": f.id, "url": f"{f.id}.bin", "size": f.size, "sha256": f.sha256,
               "essential": f.essential, "priority": f.priority} for f in files]
    (content / FOLDER / "catalog.json").write_text(json.dumps({"version": "1", "assets": assets}))
    essential = sum(f.size for f in files if f.essential)
    total = sum(f.size for f in files)
    manifests = root / "manifests"
    manifests.mkdir(parents=True, exist_ok=True)
    (manifests / "app.yaml").write_text(f"""\
apiVersion: bgassets/v1
kind: App
metadata: {{id: {APP_ID}, team: {TEAM}, name: Soak}}
spec:
  version: "1.0"
  appGroup: {GROUP}
  manifestURL: {base_url}{FOLDER}/catalog.json
  size: 1MiB
  maxInstallSize: {total + 64 * MiB}
  essentialMaxInstallSize: {essential + 32 * MiB}
  initialDownloadRestrictions:
    downloadAllowance: {total + 16 * MiB}
    essentialDownloadAllowance: {essential + 16 * MiB}
    domainAllowList: ["127.0.0.1"]
  extension: extension.yaml
""")
    (manifests / "extension.yaml").write_text(f"""\
apiVersion: bgassets/v1
kind: Extension
metadata: {{id: {APP_ID}.downloader, app: {APP_ID}, team: {TEAM}}}
spec:
  appGroup: {GROUP}
  rules:
    - {{destination: "assets/{{filename}}"}}
  onFailure: {{essential: reenqueue-nonessential, retries: 1}}
""")
    return manifests / "app.yaml"


# Running and killing ---------------------------------------------------------

class Progress:
    """Bytes this run moved, from its ``--json`` events; wakes a waiter at a threshold."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.first: dict[str, int] = {}
        self.latest: dict[str, int] = {}
        self.threshold: int | None = None
        self.reached = threading.Event()

    def new_bytes(self) -> int:
        return sum(self.latest[key] - self.first[key] for key in self.latest)

    def feed(self, line: str) -> None:
        try:
            event = json.loads(line)
        except ValueError:   # the last line of a killed run may be cut short
            return
        self.run.events.append(event)
        download, done = event.get("download"), event.get("bytes")
        if event.get("event", "").startswith("download.") and isinstance(done, int) and download:
            self.first.setdefault(download, done)
            self.latest[download] = max(done, self.latest.get(download, done))
        if self.threshold is not None and self.new_bytes() >= self.threshold:
            self.reached.set()


SENDFILE_MAX_CHUNK = "256k"


def nginx_processes(pid_file: Path) -> list[int]:
    """nginx's master (from its pid file) and its workers (the master's children)."""
    try:
        master = int(pid_file.read_text())
    except (OSError, ValueError):
        return []
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            children.append(int(stat.parent.name))
    return [master, *children]


def signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def socket_queues(port: int) -> dict[int, int]:
    """Bytes the kernel holds per client port on loopback connections to ``port``.

    The client's Recv-Q (received, not yet read) plus nginx's Send-Q (written, not yet
    acknowledged): sent as far as nginx's log is concerned, yet never seen by the client.
    """
    ss = find_tool("ss")
    if ss is None:
        return {}
    out = subprocess.run([ss, "-tnH", "state", "established"], capture_output=True,
                         text=True, timeout=5).stdout
    queued: dict[int, int] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        recv_q, send_q, local, peer = int(parts[0]), int(parts[1]), parts[2], parts[3]
        local_port, peer_port = int(local.rpartition(":")[2]), int(peer.rpartition(":")[2])
        if peer_port == port and local.startswith("127.0.0.1"):    # the client's end
            queued[local_port] = queued.get(local_port, 0) + recv_q
        elif local_port == port:                                     # nginx's end
            queued[peer_port] = queued.get(peer_port, 0) + send_q
    return queued


@dataclass
class Soak:
    """Runs of ``simulate install`` on one state dir against one server."""

    state: Path
    manifest: Path
    files: list[SoakFile]
    port: int
    run_timeout: float = 120.0
    say: Callable[[str], None] = lambda _: None
    server_processes: Callable[[], list[int]] = list
    runs: list[Run] = field(default_factory=list)
    reported: dict[str, int] = field(default_factory=dict)  # bytes on disk, as last told

    def remaining(self) -> int:
        """Bytes still to fetch as far as the runs' events tell."""
        return sum(max(0, f.size - self.reported.get(f.id, 0)) for f in self.files)

    def spawn(self) -> tuple[Run, subprocess.Popen[str], Progress, threading.Thread]:
        run = Run(len(self.runs), time.time())
        self.runs.append(run)
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "--state-dir", str(self.state), "simulate",
             "install", str(self.manifest), "--json", "--timeout", str(self.run_timeout)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, cwd=Path(__file__).resolve().parents[2])
        progress = Progress(run)

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                progress.feed(line)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        return run, process, progress, reader

    def kill_after(self, new_bytes: int | None, delay: float) -> Run:
        """A run killed ``delay`` s after it moved ``new_bytes`` (None: after its start).

        Should it end on its own first, it is recorded as a run that was not killed.
        """
        run, process, progress, reader = self.spawn()
        progress.threshold = new_bytes
        run.why = f"after {delay:.2f} s" if new_bytes is None else \
            f"{new_bytes / MiB:.1f} MiB in, then {delay:.2f} s"
        deadline = time.monotonic() + self.run_timeout
        if new_bytes is not None:
            progress.feed("")  # a threshold of 0 is reached at once
            while not progress.reached.wait(0.05):
                if process.poll() is not None or time.monotonic() > deadline:
                    break
        if process.poll() is None:
            time.sleep(delay)
        if process.poll() is None:
            # nginx is frozen first, then the run: what the kernel holds is then measured
            # at the moment of death. nginx hands the socket up to sendfile_max_chunk
            # (2 MiB) at a time; one push between a sample and the kill would be charged
            # to the engine, which never saw those bytes.
            frozen = self.server_processes()
            signal_all(frozen, signal.SIGSTOP)
            try:
                os.kill(process.pid, signal.SIGSTOP)
                run.killed = time.time()
                run.queued = socket_queues(self.port)
                os.kill(process.pid, signal.SIGKILL)
            finally:
                signal_all(frozen, signal.SIGCONT)
        self._reap(run, process, progress, reader)
        return run

    def finish(self) -> Run:
        """A run left to end on its own (killed at ``run_timeout``, which fails the soak)."""
        run, process, progress, reader = self.spawn()
        try:
            process.wait(timeout=self.run_timeout)
        except subprocess.TimeoutExpired:
            run.killed = time.time()
            process.kill()
        self._reap(run, process, progress, reader)
        return run

    def _reap(self, run: Run, process: subprocess.Popen[str], progress: Progress,
              reader: threading.Thread) -> None:
        assert process.stderr is not None
        run.stderr = process.stderr.read()
        run.returncode = process.wait(timeout=30)
        reader.join(timeout=30)
        for download, done in progress.latest.items():
            self.reported[download] = max(done, self.reported.get(download, 0))
        container = self.state / "containers" / GROUP
        for f in self.files:  # an event still buffered at the kill is never printed
            path = container / f.destination
            if f.id in run.finished() or path.is_file() and path.stat().st_size == f.size:
                self.reported[f.id] = f.size
        self.say(f"run {run.index:>3}: exit {run.returncode:>3}"
                 f"{'  killed ' + run.why if run.killed else ''}"
                 f"  finished so far {len(self.delivered_so_far())}/{len(self.files)}, "
                 f"{self.remaining() / MiB:.1f} MiB to go")

    def delivered_so_far(self) -> set[str]:
        return set().union(*(run.finished() for run in self.runs))


def run_soak(soak: Soak, kills: int, seed: int) -> None:
    """``kills`` runs, each killed at a seeded moment, then one run left to finish.

    Most runs die once they have moved a seeded share of what is left to fetch, so that
    kills spread over the whole transfer (essential files, the others, the last bytes)
    however fast the machine is; a few die at a seeded time after the start (catalog,
    journal recovery, planning).
    """
    rng = random.Random(seed)
    for done in range(kills):
        if not soak.remaining():
            break
        if rng.random() < 0.15:
            soak.kill_after(None, rng.uniform(0.3, 1.5))
        else:
            share = soak.remaining() / (kills - done + 1)
            soak.kill_after(int(share * rng.uniform(0.2, 1.2)), rng.uniform(0.0, 0.15))
    soak.finish()


def soak_against_nginx(work: Path, content: Path, files: list[SoakFile], *, rate: str,
                       kills: int, seed: int, run_timeout: float = 120.0,
                       say: Callable[[str], None] = lambda _: None) -> SoakReport:
    """The whole soak: nginx throttled to ``rate`` per connection, ``kills`` kills, a finish.

    ``work`` gets the state dir, the manifests and nginx's files; ``content`` holds the
    assets (see ``make_files``).
    """
    access_log = work / "access.log"
    began = time.monotonic()
    # nginx counts the bytes of a push into a connection whose client has just died (the
    # kernel takes them, then the peer's reset drops them): one sendfile_max_chunk, 2 MiB
    # by default, charged to the engine though no client ever read them. 256k keeps that
    # within the per-connection slack.
    with nginx_server(content, work / "nginx", limit_rate=rate, access_log=access_log,
                      sendfile_max_chunk=SENDFILE_MAX_CHUNK) as base:
        port = int(base.rstrip("/").rpartition(":")[2])
        manifest = write_app(work, content, base, files)
        soak = Soak(work / "state", manifest, files, port, run_timeout=run_timeout, say=say,
                    server_processes=lambda: nginx_processes(work / "nginx" / "nginx.pid"))
        try:
            run_soak(soak, kills, seed)
        finally:  # beside the access log, for a post-mortem
            (work / "runs.json").write_text(json.dumps(
                [{"index": r.index, "started": r.started, "killed": r.killed,
                  "returncode": r.returncode, "why": r.why, "queued": r.queued,
                  "finished": sorted(r.finished()), "stderr": r.stderr[-4000:],
                  "events": [e for e in r.events if e.get("event") != "download.progress"]}
                 for r in soak.runs], indent=1))
    return measure(files, soak.runs, soak.state, access_log, time.monotonic() - began)
