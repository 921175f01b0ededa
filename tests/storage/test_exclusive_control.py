"""Exclusive control across real processes: ordering, deadlines, and release when a holder dies."""

import asyncio
import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

import orchestrator
from orchestrator.errors import BackgroundAssetsError, ErrorCode, LockTimeout
from orchestrator.storage.lock import exclusive_control, exclusive_control_sync

GROUP = "group.com.example.locks"
ROOT = str(Path(orchestrator.__file__).resolve().parent.parent)

HOLDER = '''
import asyncio, sys, time
from pathlib import Path
from orchestrator.storage.lock import exclusive_control
from orchestrator.errors import LockTimeout

state, group, name, hold, log, offset = sys.argv[1:]
deadline = None if offset == "none" else time.monotonic() + float(offset)


def note(line):
    with open(log, "a") as file:
        file.write(line + "\\n")


async def hold_lock():
    if hold.startswith("until "):  # hold until the named process is waiting, then a bit more
        while f"trying {hold.split()[1]}" not in Path(log).read_text():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
    else:
        await asyncio.sleep(float(hold))


async def main():
    note(f"trying {name}")
    tried = time.monotonic()
    try:
        async with exclusive_control(Path(state), group, deadline) as held:
            note(f"acquired {name} {time.time()} {held.waited}")
            await hold_lock()
            note(f"released {name} {time.time()}")
    except LockTimeout as error:
        note(f"timeout {name} {int(error.code)} {time.monotonic() - tried}")
        sys.exit(1)

asyncio.run(main())
'''


@pytest.fixture
def holder(tmp_path):
    script = tmp_path / "holder.py"
    script.write_text(textwrap.dedent(HOLDER))
    log = tmp_path / "log.txt"
    log.touch()
    processes = []

    async def start(name, hold, offset="none"):
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(script), str(tmp_path / "state"), GROUP, name, str(hold),
            str(log), str(offset), env={**os.environ, "PYTHONPATH": ROOT})
        processes.append(process)
        return process

    start.log = log
    yield start
    for process in processes:
        if process.returncode is None:
            process.kill()


async def wait_for_line(log, prefix, timeout=10.0):
    """The first log line starting with ``prefix``, split into words (polls the file)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if line.startswith(prefix):
                return line.split()
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {prefix!r} line in {log.read_text()!r}")


async def test_second_process_waits_until_the_first_releases(holder):
    first = await holder("A", hold="until B")
    await wait_for_line(holder.log, "acquired A")
    second = await holder("B", hold=0)
    assert await first.wait() == 0
    assert await second.wait() == 0
    released_a = float((await wait_for_line(holder.log, "released A"))[2])
    acquired_b = await wait_for_line(holder.log, "acquired B")
    assert float(acquired_b[2]) >= released_a
    assert float(acquired_b[3]) > 0.1, "B did not have to wait"


async def test_deadline_in_the_past_fails_at_once_with_lock_timeout(holder, tmp_path):
    async with exclusive_control(tmp_path / "state", GROUP) as held:
        other = await holder("B", hold=0, offset=-1)
        assert await other.wait() == 1
        _, _, code, waited = await wait_for_line(holder.log, "timeout B")
        assert int(code) == ErrorCode.LOCK_TIMEOUT == 1052
        assert float(waited) < 0.1

        started = time.monotonic()
        with pytest.raises(LockTimeout) as raised:
            async with exclusive_control(tmp_path / "state", GROUP, time.monotonic()):
                pass
        assert time.monotonic() - started < 0.1
        assert raised.value.code.title == "lockTimeout"
        assert GROUP in raised.value.message
    assert held.held > 0


async def test_future_deadline_waits_then_gives_up(tmp_path):
    with exclusive_control_sync(tmp_path / "state", GROUP):
        started = time.monotonic()
        with pytest.raises(LockTimeout):
            async with exclusive_control(tmp_path / "state", GROUP, started + 0.3):
                pass
        assert 0.3 <= time.monotonic() - started < 1.0


async def test_holder_killed_with_sigkill_releases_the_lock(holder, tmp_path):
    process = await holder("A", hold=60)
    await wait_for_line(holder.log, "acquired A")
    process.send_signal(signal.SIGKILL)
    assert await process.wait() == -signal.SIGKILL
    async with exclusive_control(tmp_path / "state", GROUP, time.monotonic() + 5) as held:
        assert held.waited < 1.0
    assert "released A" not in holder.log.read_text()


async def test_app_groups_do_not_contend_and_holds_are_timed(tmp_path):
    async with exclusive_control(tmp_path / "state", GROUP):
        other_group = "group.com.example.other"
        async with exclusive_control(tmp_path / "state", other_group, time.monotonic()) as held:
            await asyncio.sleep(0.05)
        assert 0.05 <= held.held < 1.0
        assert held.waited < 0.05


@pytest.mark.parametrize("group", ["", "../escape", "a/b", ".hidden"])
def test_app_group_that_cannot_name_a_lock_file_is_refused(tmp_path, group):
    with pytest.raises(BackgroundAssetsError, match="cannot name a lock file"), \
            exclusive_control_sync(tmp_path / "state", group):
        pass
    assert not (tmp_path / "escape.lock").exists()
