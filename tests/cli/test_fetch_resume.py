"""A killed or interrupted `bgassets fetch` resumes from the bytes on disk.

The server is throttled so that a 256 MiB download takes a few seconds and the
client keeps up with it (socket buffers stay nearly empty). The engine's goal
is the strict one: body bytes the server had sent when the first run died, plus
everything the second run fetched, exceed the file's size by at most 1 MiB;
bytes the dead client had received but not yet written or checkpointed count
against it. See ``check_resumed`` for what fails the test and what only xfails it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.devserver import DevServer
from orchestrator.engine.transfer import CHECKPOINT_BYTES

ROOT = Path(__file__).resolve().parents[2]
MIB = 1 << 20
SIZE = 256 * MIB
BLOCK = 16 << 20
SLACK = 1 << 20
STEAL_ALLOWANCE = 8 << 20
COMPARE_BLOCK = 64 << 10


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> tuple[Path, str]:
    """A 256 MiB file of random 16 MiB blocks, each made distinct by a counter; its sha256."""
    root = tmp_path_factory.mktemp("www")
    digest = hashlib.sha256()
    block = bytearray(os.urandom(BLOCK))
    with open(root / "big.bin", "wb") as handle:
        for index in range(SIZE // BLOCK):
            block[:8] = index.to_bytes(8, "big")
            digest.update(block)
            handle.write(block)
    return root, digest.hexdigest()


async def start_fetch(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator", "fetch", "--quiet", *args, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


async def settle(server: DevServer) -> int:
    """Body bytes once the handlers of a dead client have noticed and stopped writing."""
    last, steady = -1, 0
    while steady < 5:
        current = server.stats.body_bytes_sent
        steady = steady + 1 if current == last else 0
        last = current
        await asyncio.sleep(0.02)
    return last


def bytes_on_disk(part: Path, source: Path) -> int:
    """Bytes of the ``.part`` that already hold the source's bytes at the same offsets.

    A block that differs is where a segment's written bytes end or the next one's start:
    its matching head and tail count (random data matches a hole only by chance).
    """
    matching = 0
    with open(part, "rb") as staged, open(source, "rb") as original:
        while block := original.read(COMPARE_BLOCK):
            mine = staged.read(len(block))
            if mine == block:
                matching += len(block)
                continue
            head = len(os.path.commonprefix([mine, block]))
            tail = len(os.path.commonprefix([mine[head:][::-1], block[head:][::-1]]))
            matching += head + tail
    return matching


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Resumed:
    """What one interrupted-then-resumed fetch cost, in body bytes."""

    stopped_code: int | None
    stopped_stdout: str
    stopped_stderr: str
    sent_when_stopped: int    # by the server when the first run was stopped
    on_disk: int              # bytes of the .part already right when the first run was gone
    fetched_again: int        # by the second run

    def excess(self) -> str:
        return (f"on disk {self.on_disk / MIB:.2f} MiB, sent before the stop "
                f"{self.sent_when_stopped / MIB:.2f} MiB, fetched again "
                f"{self.fetched_again / MIB:.2f} MiB: "
                f"{(self.fetched_again - SIZE + self.on_disk) / MIB:.2f} MiB beyond the disk")


async def interrupt_then_resume(big_file, tmp_path, stop: signal.Signals, rate: int,
                                *flags: str) -> Resumed:
    """Fetch, stop the client with ``stop`` at a third of the file, then run the same command."""
    root, digest = big_file
    out = tmp_path / "out"
    async with DevServer(root, rate_per_connection=rate) as server:
        args = (server.url + "big.bin", "-d", str(out), "--sha256", digest, *flags)
        first = await start_fetch(*args)
        await wait_until(lambda: server.stats.body_bytes_sent >= SIZE // 3)
        sent_when_stopped = server.stats.body_bytes_sent
        first.send_signal(stop)
        first_stdout, first_stderr = await first.communicate()
        on_disk = bytes_on_disk(out / "big.bin.part", root / "big.bin")
        before_second = await settle(server)
        second = await start_fetch(*args)
        _, second_stderr = await second.communicate()
        fetched_again = server.stats.body_bytes_sent - before_second
    assert second.returncode == 0, second_stderr.decode()
    assert file_sha256(out / "big.bin") == digest
    assert sorted(p.name for p in out.iterdir()) == ["big.bin"]
    # The server counts a chunk once written, so its count may trail the wire by a chunk.
    return Resumed(first.returncode, first_stdout.decode(), first_stderr.decode(),
                   max(sent_when_stopped, on_disk),
                   on_disk, fetched_again)


def check_resumed(resumed: Resumed, may_lose: int) -> None:
    """It resumed, within the engine's stated bound; then the goal of 1 MiB.

    ``may_lose`` is what the engine says a stop may cost: nothing after Ctrl-C (the
    state is saved as it pauses), up to a checkpoint interval after ``kill -9``.
    Segmented downloads also waste a little when one connection takes over half of
    another's range (bytes already in flight to the first): STEAL_ALLOWANCE.
    When only the 1 MiB goal is missed, the test is reported as xfailed with
    the numbers, so the gap stays visible without failing every run of the suite.
    """
    assert resumed.on_disk >= SIZE // 4, resumed.excess()
    assert resumed.fetched_again <= SIZE - resumed.on_disk + may_lose + STEAL_ALLOWANCE, (
        resumed.excess())
    within_goal = (resumed.fetched_again <= SIZE - resumed.on_disk + SLACK
                   and resumed.sent_when_stopped + resumed.fetched_again <= SIZE + SLACK)
    if not within_goal:
        pytest.xfail(f"the goal is at most 1 MiB beyond the disk; {resumed.excess()}")


@pytest.mark.parametrize(("connections", "rate"), [("1", 64 << 20), ("4", 16 << 20)])
async def test_kill_9_in_the_middle_then_the_same_command_resumes(big_file, tmp_path,
                                                                  connections, rate):
    resumed = await interrupt_then_resume(big_file, tmp_path, signal.SIGKILL, rate,
                                          "--connections", connections)
    assert resumed.stopped_code == -signal.SIGKILL
    check_resumed(resumed, may_lose=CHECKPOINT_BYTES)


async def test_ctrl_c_saves_state_exits_130_and_the_same_command_resumes(big_file, tmp_path):
    resumed = await interrupt_then_resume(big_file, tmp_path, signal.SIGINT, 24 << 20, "--json")
    assert resumed.stopped_code == 130
    assert "interrupted; run the same command again to resume" in resumed.stopped_stderr
    assert "Traceback" not in resumed.stopped_stderr
    events = [json.loads(line) for line in resumed.stopped_stdout.splitlines()]
    assert events[-1]["event"] == "download.paused"
    assert 0 < events[-1]["bytes"] <= resumed.on_disk
    check_resumed(resumed, may_lose=0)
