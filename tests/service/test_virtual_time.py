"""Every time-dependent decision of a real orchestrator reads its virtual clock: the daily
runtime allotment and its UTC day, the periodic schedule and its loop, and the engine's
retry backoff. A real DevServer on 127.0.0.1 and a real journal in tmp_path; only time is
virtual, and it moves only at the machine's pace or when the test skips it ahead."""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from orchestrator.clock import VirtualClock
from orchestrator.devserver import DevServer
from orchestrator.model.device import Device
from orchestrator.service import Orchestrator
from tests.service.scenario import APP_ID, Asset, KiB, Recorder, Scenario

HOUR, DAY = 3_600.0, 86_400.0
# 2026-11-25 23:00:00 UTC: an hour before a day boundary.
START = float(calendar.timegm((2026, 11, 25, 23, 0, 0)))
MIDNIGHT = float(calendar.timegm((2026, 11, 26, 0, 0, 0)))

SLOW_HANDLER = '''
import time
from orchestrator.sdk import DownloaderExtension


class Slow(DownloaderExtension):
    def downloads(self, request, manifest_path, info):
        time.sleep(60)
'''


@contextlib.asynccontextmanager
async def running(tmp_path: Path, clock: VirtualClock, *, faults: tuple[str, ...] = (),
                  device: Device | None = None, extension_spec: str = ""
                  ) -> AsyncIterator[tuple[Orchestrator, Recorder, Path, DevServer]]:
    """One small app served by a DevServer, and an orchestrator on ``clock`` with a
    recorder of its events."""
    scene = Scenario(tmp_path, [Asset("level", 64 * KiB)], extension_spec=extension_spec)
    scene.write_content()
    async with DevServer(scene.content, faults=list(faults)) as server:
        manifest = scene.write_manifests(server.url)
        (manifest.parent / "handlers.py").write_text(SLOW_HANDLER)
        async with Orchestrator(tmp_path / "state", device=device, clock=clock) as orchestrator:
            recorder = Recorder()
            orchestrator.events.subscribe(recorder)
            yield orchestrator, recorder, manifest, server


async def installed(orchestrator: Orchestrator, manifest: Path) -> float:
    """Install the app and wait for its downloads; when its periodic schedule starts (the
    install's request)."""
    await asyncio.wait_for(orchestrator.install(manifest), timeout=30)
    await orchestrator.wait(APP_ID, "all", timeout=30)
    record = orchestrator.journal.app(APP_ID)
    assert record is not None and record.last_periodic_at is not None
    return record.last_periodic_at


def launch_and_terminate(orchestrator: Orchestrator, times: int = 1) -> None:
    for _ in range(times):
        orchestrator.launch(APP_ID)
        orchestrator.terminate(APP_ID)


async def run_until(clock: VirtualClock, target: float, events: Recorder) -> None:
    """Let virtual time run to ``target`` (seconds since the clock's start), skipping to
    the next sleeper's moment after each quiet spell, as ``scenario run`` does."""
    async with asyncio.timeout(60):
        await clock.run_until(target, activity=lambda: len(events))


def periodic_requests(events: Recorder) -> list[float]:
    """When (virtual wall time) each periodic request reached the extension."""
    return [e["ts"] for e in events.named("extension.request") if e["request"] == "periodic"]


@pytest.fixture
def far_from_utc():
    """A local time zone five hours behind UTC: a day that rolled over at local midnight
    would still be 2026-11-25 at 00:00 UTC."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "EST+05")
        time.tzset()
        yield
    time.tzset()


async def test_the_daily_runtime_allotment_starts_afresh_at_the_utc_day_boundary(
        tmp_path, far_from_utc):
    clock = VirtualClock(START)
    device = Device(daily_allotment_seconds=1)
    async with running(tmp_path, clock, device=device,
                       extension_spec="handler: handlers:Slow\n") as (o, events, manifest, _):
        await asyncio.wait_for(o.install(manifest), timeout=30)
        [terminated] = events.named("extension.terminated")
        assert terminated["reason"] == "runtime budget"
        spent, allotment = o.runtime_today(APP_ID)
        assert allotment == 1 and spent >= 1

        await asyncio.wait_for(o.periodic(APP_ID), timeout=30)
        assert events.named("extension.terminated")[-1]["reason"] == \
            "daily runtime allotment exhausted"
        clock.advance(MIDNIGHT - START - 60)  # 23:59:00, the same UTC day
        assert o.runtime_today(APP_ID) == (spent, 1)

        clock.advance(MIDNIGHT - START + 1)  # 00:00:01 the next day
        assert o.runtime_today(APP_ID) == (0, 1)
        assert o.journal.runtime_spent(APP_ID, "2026-11-25") == spent
        events.clear()
        await asyncio.wait_for(o.periodic(APP_ID), timeout=30)
        [terminated] = events.named("extension.terminated")
        assert terminated["reason"] == "runtime budget"  # it ran again, for the new day
        assert o.runtime_today(APP_ID)[0] >= 1
        assert o.journal.runtime_spent(APP_ID, "2026-11-26") >= 1


async def test_the_periodic_interval_follows_the_launch_history(tmp_path):
    clock = VirtualClock(START)
    async with running(tmp_path, clock) as (o, _, manifest, _):
        installed_at = await installed(o, manifest)

        def expected_next(interval: float) -> float:
            return installed_at + interval  # no periodic run since the install

        # Never launched: a day.
        assert o.periodic_interval(APP_ID) == DAY
        assert o.next_periodic(APP_ID) == expected_next(DAY)

        # Once in 14 days: 1/14 a day, raised to 1/7, so 24 h * 7: the week's cap.
        launch_and_terminate(o)
        assert o.periodic_interval(APP_ID) == 7 * DAY
        assert o.next_periodic(APP_ID) == expected_next(7 * DAY)

        # Launched every day for 14 days: once a day, 24 h.
        for _ in range(13):
            clock.advance(clock.elapsed + DAY)
            launch_and_terminate(o)
        assert len(o.journal.launches(APP_ID)) == 14
        assert o.periodic_interval(APP_ID) == DAY
        assert o.next_periodic(APP_ID) == expected_next(DAY)
        assert o.due_periodic() == [APP_ID]  # 13 days since the install's request

        # 42 launches more today: 56 in 14 days, 4 a day, 6 h.
        launch_and_terminate(o, 42)
        assert o.periodic_interval(APP_ID) == 6 * HOUR
        assert o.next_periodic(APP_ID) == expected_next(6 * HOUR)

        # 15 quiet days later every launch is older than the 14 days counted: 0 a day,
        # raised to 1/7, a week again (a history, even an old one, is not "never").
        clock.advance(clock.elapsed + 15 * DAY)
        assert o.periodic_interval(APP_ID) == 7 * DAY

        # The device may forbid periodic runs altogether.
        o.set_device(Device(low_power_mode=True))
        assert o.periodic_interval(APP_ID) is None and o.next_periodic(APP_ID) is None


async def test_the_periodic_loop_sends_periodic_requests_as_they_fall_due(tmp_path):
    clock = VirtualClock(START)
    async with running(tmp_path, clock) as (o, events, manifest, _):
        installed_at = await installed(o, manifest)
        loop = asyncio.create_task(o.periodic_loop(every=HOUR))
        try:
            # Never launched: one a day after the install's request, three in 3.5 days.
            await run_until(clock, clock.elapsed + 3.5 * DAY, events)
            runs = periodic_requests(events)
            assert len(runs) == 3
            gaps = [b - a for a, b in zip([installed_at, *runs], runs, strict=False)]
            assert all(DAY - 60 <= gap < DAY + 60 for gap in gaps), gaps

            # 28 launches: 2 a day over 14 days, a run every 12 h. The last run was 12 h
            # ago, so one is due now; the loop sees it within its `every` (an hour), and
            # the next ones come 12 h, 24 h and 36 h after it.
            launch_and_terminate(o, 28)
            assert o.periodic_interval(APP_ID) == 12 * HOUR
            now = clock.elapsed
            await run_until(clock, now + 42 * HOUR, events)
            later = periodic_requests(events)[3:]
            assert len(later) == 4
            assert all(12 * HOUR - 60 <= b - a < 12 * HOUR + 60
                       for a, b in zip(later, later[1:], strict=False)), later
            assert later[0] - (clock.start + now) <= HOUR + 60
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop


async def retry_moment(clock: VirtualClock, server: DevServer, path: str) -> float:
    """The virtual moment a download of ``path`` sleeps until after its server's 503."""
    async with asyncio.timeout(10):
        while clock.next_due() is None or server.stats.requests_by_path.get(path) != 1:
            await asyncio.sleep(0.001)
    due = clock.next_due()
    assert due is not None
    return due


async def test_a_503_retry_sleeps_until_its_retry_after_on_the_virtual_clock(tmp_path):
    clock = VirtualClock(START)
    async with running(tmp_path, clock, faults=("503",)) as (o, events, manifest, server):
        install = asyncio.create_task(o.install(manifest))
        try:
            # The catalog's 503 (Retry-After: 1): its retry sleeps a second of the clock.
            due = await retry_moment(clock, server, "/game/catalog.json")
            assert due - clock.elapsed <= 1.0
            clock.advance(due)
            await asyncio.wait_for(install, timeout=30)

            # The asset's 503: nothing is busy while its retry sleeps, so time may skip.
            due = await retry_moment(clock, server, "/game/level.bin")
            assert due - clock.elapsed <= 1.0
            assert not clock.is_busy
            assert events.named("download.finished") == []
            clock.advance(due)
            await o.wait(APP_ID, "all", timeout=30)
        finally:
            install.cancel()
        assert [e["download"] for e in events.named("download.finished")] == ["level"]
        assert server.stats.requests_by_path["/game/catalog.json"] == 2
        assert server.stats.requests_by_path["/game/level.bin"] == 2
        assert clock.skipped > 0
        assert clock.next_due() is None
