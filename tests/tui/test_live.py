"""Live and smooth: bursts coalesce into one frame, frames come at most ten times a second."""

from __future__ import annotations

import asyncio
import contextlib
import time

from orchestrator.service import Orchestrator
from tests.tui.drive import settle
from tui.app import FRAME_SECONDS, BgAssetsApp, in_process

APP = "com.example.bench"


async def test_a_burst_of_progress_is_one_frame_showing_the_last_value(tmp_path):
    async with Orchestrator(tmp_path / "state") as orchestrator:
        app = BgAssetsApp(in_process(lambda: contextlib.nullcontext(orchestrator)), install=False)
        async with app.run_test(size=(160, 40)) as pilot:
            await pilot.press("2")
            await settle(app, pilot)
            drawn = len(app.frame_times)
            orchestrator.emit("download.scheduled", APP, download="big", essential=False,
                              bytes=0, total=10_000, priority=50)
            for done in range(1, 10_001):
                orchestrator.emit("download.progress", APP, download="big", essential=False,
                                  bytes=done, total=10_000, speed=1000)
            await settle(app, pilot)
            assert len(app.frame_times) == drawn + 1
            assert app.screen.table.cell_text(f"{APP}/big", 5) == "██████████ 100%"


async def test_frames_stay_at_or_below_ten_a_second_under_a_steady_stream(tmp_path):
    async with Orchestrator(tmp_path / "state") as orchestrator:
        app = BgAssetsApp(in_process(lambda: contextlib.nullcontext(orchestrator)), install=False)
        async with app.run_test(size=(160, 40)) as pilot:
            await pilot.press("2")
            await settle(app, pilot)
            drawn, started, step = len(app.frame_times), time.monotonic(), 0
            while time.monotonic() - started < 1.0:
                step += 1
                orchestrator.emit("download.progress", APP, download=f"d{step % 50}",
                                  essential=False, bytes=step, total=10**9, speed=step)
                await asyncio.sleep(0.002)
            frames = len(app.frame_times) - drawn
            assert 3 <= frames <= 1.0 / FRAME_SECONDS + 1
            assert step > 100  # the stream kept flowing while frames were drawn
