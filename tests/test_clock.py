"""The orchestrator's clock: virtual time runs at the machine's pace, skips ahead when told
to, and wakes exactly the sleepers whose moment it reaches."""

from __future__ import annotations

import asyncio
import time

import pytest

from orchestrator.clock import SYSTEM_CLOCK, VirtualClock

START = 1_764_547_200.0  # 2025-12-01 00:00:00 UTC


async def sleeping(clock: VirtualClock, seconds: float) -> asyncio.Task[None]:
    """A task asleep on ``clock`` for ``seconds``, once its sleep has begun."""
    clock.changed.clear()
    task = asyncio.create_task(clock.sleep(seconds))
    await asyncio.wait_for(clock.changed.wait(), timeout=5)
    return task


async def test_virtual_time_moves_with_real_time_from_its_start():
    clock = VirtualClock(START)
    first_time, first_monotonic = clock.time(), clock.monotonic()
    assert START <= first_time < START + 60
    await asyncio.sleep(0.05)
    assert clock.time() - first_time >= 0.04
    assert clock.monotonic() - first_monotonic >= 0.04
    assert clock.time() - START == pytest.approx(clock.monotonic(), abs=0.01)
    assert clock.skipped == 0


async def test_advance_skips_time_without_waiting_for_it():
    clock = VirtualClock(START)
    real_before = time.monotonic()
    clock.advance(3 * 86_400)
    assert clock.elapsed >= 3 * 86_400
    assert clock.time() >= START + 3 * 86_400
    assert clock.skipped > 3 * 86_400 - 60
    assert time.monotonic() - real_before < 60


async def test_advance_wakes_the_sleeper_it_reaches_and_not_the_one_further():
    clock = VirtualClock(START)
    near = await sleeping(clock, 100)
    far = await sleeping(clock, 200)
    clock.advance(clock.elapsed + 150)
    await asyncio.wait_for(near, timeout=5)
    await asyncio.sleep(0.01)
    assert not far.done()
    assert clock.next_due() == pytest.approx(200, abs=5)
    clock.advance(clock.next_due())
    await asyncio.wait_for(far, timeout=5)
    assert clock.next_due() is None


async def test_a_sleeper_wakes_by_itself_when_real_time_reaches_its_moment():
    clock = VirtualClock(START)
    await asyncio.wait_for(clock.sleep(0.05), timeout=5)
    assert clock.elapsed >= 0.05
    assert clock.skipped == 0
    assert clock.next_due() is None


async def test_a_sleep_of_nothing_or_less_returns_at_once():
    clock = VirtualClock(START)
    await asyncio.wait_for(clock.sleep(0), timeout=5)
    await asyncio.wait_for(clock.sleep(-10), timeout=5)
    assert clock.next_due() is None and clock.skipped == 0


async def test_next_due_is_the_earliest_moment_anyone_sleeps_until():
    clock = VirtualClock(START)
    assert clock.next_due() is None
    late = await sleeping(clock, 7_200)
    assert clock.next_due() == pytest.approx(7_200, abs=5)
    early = await sleeping(clock, 60)
    assert clock.next_due() == pytest.approx(60, abs=5)
    early.cancel()
    with pytest.raises(asyncio.CancelledError):
        await early
    assert clock.next_due() == pytest.approx(7_200, abs=5)
    clock.advance(clock.next_due())
    await asyncio.wait_for(late, timeout=5)
    assert clock.next_due() is None


def test_is_busy_only_inside_busy_even_when_nested_or_left_by_an_error():
    clock = VirtualClock(START)
    assert not clock.is_busy
    with clock.busy():
        assert clock.is_busy
        with clock.busy():
            assert clock.is_busy
        assert clock.is_busy
    assert not clock.is_busy
    with pytest.raises(RuntimeError), clock.busy():
        raise RuntimeError("the work failed")
    assert not clock.is_busy


async def test_advance_never_goes_back_nor_wakes_anyone_on_the_way():
    clock = VirtualClock(START)
    clock.advance(1_000)
    now, skipped = clock.elapsed, clock.skipped
    sleeper = await sleeping(clock, 500)
    clock.advance(10)
    clock.advance(now)
    assert clock.elapsed >= now
    assert clock.skipped == skipped
    await asyncio.sleep(0.01)
    assert not sleeper.done()
    clock.advance(clock.elapsed + 600)
    await asyncio.wait_for(sleeper, timeout=5)


async def test_the_system_clock_is_the_machines_time():
    assert SYSTEM_CLOCK.time() == pytest.approx(time.time(), abs=5)
    assert SYSTEM_CLOCK.monotonic() == pytest.approx(time.monotonic(), abs=5)
    with SYSTEM_CLOCK.busy():
        await asyncio.wait_for(SYSTEM_CLOCK.sleep(0.01), timeout=5)


async def test_a_hand_over_between_tasks_stirs_the_clock_though_nobody_is_busy_after_it():
    """A request that sets its busy mark aside while a task of its own takes over is, for
    a moment, nobody busy: the stirs are what tells a watcher that work moved on."""
    clock = VirtualClock(START)
    handed_over = asyncio.Event()
    seen: dict[str, int] = {}

    async def transfer() -> None:
        with clock.busy():
            seen["transfer busy"] = clock.stirs
            await asyncio.sleep(0)

    async def request() -> None:
        with clock.busy():
            with clock.idle():
                seen["handed over"] = clock.stirs
                handed_over.set()
                await asyncio.create_task(transfer())
            seen["request busy again"] = clock.stirs

    before = clock.stirs
    task = asyncio.create_task(request())
    await handed_over.wait()
    assert not clock.is_busy  # what a look at is_busy alone would take for quiet
    assert seen["handed over"] > before
    await asyncio.wait_for(task, timeout=5)
    assert before < seen["handed over"] < seen["transfer busy"] < seen["request busy again"]
    assert clock.stirs > seen["request busy again"]  # the request's own mark given back
    assert not clock.is_busy
    asleep = clock.stirs
    sleeper = await sleeping(clock, 10)
    assert clock.stirs == asleep + 1
    clock.advance(clock.elapsed + 20)
    await asyncio.wait_for(sleeper, timeout=5)
    assert clock.stirs == asleep + 2  # the sleeper woke to go on with its work
