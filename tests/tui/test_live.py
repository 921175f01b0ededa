"""Live and smooth: bursts coalesce into one frame, the stream redraws at most five times a
second, and the app's own process collects garbage rarely while it runs."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time

from orchestrator.bulk import YOUNG_COLLECTION
from orchestrator.service import Orchestrator
from tests.tui.drive import settle
from tui.app import BgAssetsApp, in_process
from tui.screens.downloads import STREAM_FRAME

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


async def test_frames_stay_at_or_below_five_a_second_under_a_steady_stream(tmp_path):
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
            assert 3 <= frames <= 1.0 / STREAM_FRAME + 1
            assert step > 100  # the stream kept flowing while frames were drawn


async def test_rare_gc_holds_while_the_session_is_open_and_is_undone_when_the_app_ends(tmp_path):
    before = gc.get_threshold()
    async with Orchestrator(tmp_path / "state") as orchestrator:
        app = BgAssetsApp(in_process(lambda: contextlib.nullcontext(orchestrator)),
                          install=False, rare_gc=True)
        async with app.run_test(size=(160, 40)) as pilot:
            await app.ready.wait()
            assert gc.get_threshold()[0] == YOUNG_COLLECTION
            assert gc.get_freeze_count() > 0
            await pilot.press("q")
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() == 0
