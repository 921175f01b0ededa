"""Control of running downloads: pause, resume, cancel, priority, promote, progress."""

from __future__ import annotations

import asyncio

from orchestrator.devserver import DevServer
from orchestrator.engine import Engine
from orchestrator.model.enums import DownloadState
from tests.engine.conftest import FAST_RETRY, make_asset, request_for, sha256_of

MIB = 1 << 20


async def _until(handle_progress: asyncio.Event) -> None:
    await asyncio.wait_for(handle_progress.wait(), 20)


async def test_pause_keeps_the_part_and_resume_continues(served, out):
    asset = make_asset(served, "asset.bin", 3 * MIB, seed=31)
    reached = asyncio.Event()
    async with DevServer(served, rate_per_connection=4 * MIB) as server, \
            Engine(retry=FAST_RETRY) as engine:
        handle = engine.start(request_for(server, asset, out, connections=1),
                              on_progress=lambda p: p.bytes >= MIB and reached.set())
        await _until(reached)
        handle.pause()

        async def paused() -> None:
            while handle.state is not DownloadState.PAUSED:
                await asyncio.sleep(0.01)
        await asyncio.wait_for(paused(), 20)
        assert (out / "asset.bin.part").stat().st_size >= MIB
        assert (out / "asset.bin.part.json").exists()
        server.rate_per_connection = None
        handle.resume()
        result = await handle.wait()
    assert result.ok, result.error
    assert sha256_of(out / "asset.bin") == asset.sha256
    assert server.stats.body_bytes_sent <= asset.size + MIB


async def test_a_resume_right_after_a_pause_continues_once_the_transfer_stopped(served, out):
    asset = make_asset(served, "asset.bin", 2 * MIB, seed=34)
    reached = asyncio.Event()
    async with DevServer(served, rate_per_connection=4 * MIB) as server, \
            Engine(retry=FAST_RETRY) as engine:
        handle = engine.start(request_for(server, asset, out, connections=1),
                              on_progress=lambda p: p.bytes >= MIB // 2 and reached.set())
        await _until(reached)
        handle.pause()
        handle.resume()  # before the paused transfer has stopped: it starts again after
        result = await asyncio.wait_for(handle.wait(), 20)
    assert result.ok, result.error
    assert sha256_of(out / "asset.bin") == asset.sha256
    assert server.stats.requests == 2
    assert server.stats.body_bytes_sent <= asset.size + 256 * 1024


async def test_cancel_removes_part_and_state(served, out):
    asset = make_asset(served, "asset.bin", 3 * MIB, seed=32)
    reached = asyncio.Event()
    async with DevServer(served, rate_per_connection=2 * MIB) as server, \
            Engine(retry=FAST_RETRY) as engine:
        handle = engine.start(request_for(server, asset, out),
                              on_progress=lambda p: p.bytes > 0 and reached.set())
        await _until(reached)
        handle.cancel()
        result = await handle.wait()
    assert result.error.code == 1040
    assert not any(out.iterdir())


async def test_waiting_downloads_start_by_priority(served, out):
    assets = [make_asset(served, f"f{i}.bin", 400_000, seed=40 + i) for i in range(4)]
    order: list[str] = []
    async with DevServer(served, rate_per_connection=4 * MIB) as server, \
            Engine(retry=FAST_RETRY, max_connections_per_host=1) as engine:
        def track(progress):
            if progress.state is DownloadState.FINISHED:
                order.append(progress.key.rsplit("/", 1)[-1])
        handles = [engine.start(request_for(server, assets[0], out), track),
                   engine.start(request_for(server, assets[1], out, priority=10), track),
                   engine.start(request_for(server, assets[2], out, priority=90), track),
                   engine.start(request_for(server, assets[3], out, priority=50), track)]
        handles[1].set_priority(95)
        results = [await handle.wait() for handle in handles]
    assert all(result.ok for result in results)
    assert order == ["f0.bin", "f1.bin", "f2.bin", "f3.bin"]


async def test_promote_does_not_restart_the_transfer(served, out):
    asset = make_asset(served, "asset.bin", 2 * MIB, seed=33)
    reached = asyncio.Event()
    async with DevServer(served, rate_per_connection=4 * MIB) as server, \
            Engine(retry=FAST_RETRY) as engine:
        handle = engine.start(request_for(server, asset, out, connections=1),
                              on_progress=lambda p: p.bytes > 0 and reached.set())
        await _until(reached)
        handle.promote()
        result = await handle.wait()
    assert result.ok and handle.priority == 100
    assert server.stats.requests == 1 and result.bytes_transferred == asset.size


async def test_progress_is_throttled_exact_and_ends_with_a_final_report(served, out):
    asset = make_asset(served, "asset.bin", 2 * MIB, seed=34)
    seen = []
    async with DevServer(served, rate_per_connection=8 * MIB) as server, \
            Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(request_for(server, asset, out), on_progress=seen.append)
    assert result.ok
    assert seen[-1].state is DownloadState.FINISHED
    assert seen[-1].bytes == seen[-1].total == asset.size
    byte_counts = [p.bytes for p in seen]
    assert byte_counts == sorted(byte_counts)
    assert len(seen) <= 2 + 10 * 0.5 + 6


async def test_leaving_the_engine_pauses_every_download_with_its_state(served, out):
    assets = [make_asset(served, f"f{i}.bin", 2 * MIB, seed=60 + i) for i in range(3)]
    started = asyncio.Event()
    async with DevServer(served, rate_per_connection=2 * MIB) as server:
        async with Engine(retry=FAST_RETRY) as engine:
            handles = [engine.start(request_for(server, asset, out, connections=1),
                                    on_progress=lambda p: p.bytes > 0 and started.set())
                       for asset in assets]
            await _until(started)
            await asyncio.sleep(0.2)
        results = [await handle.wait() for handle in handles]
    assert all(result.error.code == 1040 for result in results)
    assert all(handle.state is DownloadState.PAUSED for handle in handles)
    assert all((out / f"f{i}.bin.part.json").exists() for i in range(3))
    assert not any((out / f"f{i}.bin").exists() for i in range(3))
