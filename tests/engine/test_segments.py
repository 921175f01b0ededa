"""Segment planning and work stealing (pure), then segmented downloads against a real server."""

from __future__ import annotations

import asyncio

from orchestrator.devserver import DevServer
from orchestrator.engine import Engine
from orchestrator.engine.segments import (
    ConnectionRamp,
    Segment,
    clamp_to_disk,
    contiguous_prefix,
    from_runs,
    from_state,
    next_idle,
    plan_segments,
    steal,
)
from orchestrator.engine.staging import StagingFile
from orchestrator.engine.transfer import Staged
from tests.engine.conftest import FAST_RETRY, make_asset, request_for, sha256_of

MIB = 1 << 20


def test_plan_tiles_the_file_exactly():
    segments = plan_segments(10 * MIB + 3, 4)
    assert segments[0].start == 0 and segments[-1].end == 10 * MIB + 3
    assert all(a.end == b.start for a, b in zip(segments, segments[1:], strict=False))


def test_steal_takes_half_of_the_largest_remainder():
    segments = [Segment(0, 4 * MIB, done=3 * MIB), Segment(4 * MIB, 20 * MIB, done=MIB)]
    stolen = steal(segments)
    assert (stolen.start, stolen.end) == (12 * MIB + MIB // 2, 20 * MIB)
    assert segments[1].end == stolen.start


def test_a_straggler_keeps_only_what_it_can_fetch_meanwhile():
    slow = Segment(0, 8 * MIB, done=MIB // 4)
    slow.begin(now=0.0)
    slow.base = 0
    fast = Segment(8 * MIB, 16 * MIB, done=8 * MIB)
    segments = [slow, fast]
    stolen = steal(segments, now=1.0, thief_rate=25 * MIB)
    assert slow.end - slow.position < MIB
    assert stolen.end == 8 * MIB and stolen.start == slow.end


def test_nothing_is_stolen_from_small_remainders():
    assert steal([Segment(0, 4 * MIB, done=3 * MIB)]) is None


def test_contiguous_prefix_follows_finished_segments():
    segments = [Segment(0, 10, done=10), Segment(10, 20, done=4), Segment(20, 30, done=10)]
    assert contiguous_prefix(segments) == 14
    segments[1].done = 10
    assert contiguous_prefix(segments) == 30


def test_state_round_trip_and_rejection_of_gaps():
    segments = [Segment(0, 10, done=5), Segment(10, 20, done=0)]
    assert from_state([s.to_state() for s in segments], 20) == segments
    assert from_state([[0, 10, 5], [12, 20, 0]], 20) is None
    assert from_state([[0, 10, 11]], 10) is None


def test_segments_rebuilt_from_written_runs_tile_the_file():
    segments = from_runs([(4096, 10_000), (20_480, 30_000)], 40_000)
    assert [(s.start, s.end, s.done) for s in segments] == [
        (0, 4096, 0), (4096, 20_480, 5904), (20_480, 40_000, 9520)]
    assert [(s.start, s.end, s.done) for s in from_runs([], 100)] == [(0, 100, 0)]


def test_claims_beyond_the_file_on_disk_are_forgotten():
    segments = [Segment(0, 10, done=10), Segment(10, 20, done=10)]
    clamp_to_disk(segments, 14)
    assert [s.done for s in segments] == [10, 4]
    assert next_idle(segments) is segments[1]


def test_a_throttled_first_connection_jumps_to_eight_then_doubles_to_the_limit():
    ramp = ConnectionRamp(limit=16)
    assert [ramp.observe(rate * MIB) for rate in (10, 80, 160, 320)] == [8, 16, 16, 16]


def test_ramp_doubles_while_throughput_scales_and_stops_at_the_limit():
    ramp = ConnectionRamp(limit=16)
    assert [ramp.observe(rate * MIB) for rate in (40, 80, 160, 320)] == [2, 4, 8, 16]


def test_ramp_stops_when_another_connection_does_not_help():
    ramp = ConnectionRamp(limit=16)
    assert [ramp.observe(rate * MIB) for rate in (40, 80, 88, 200)] == [2, 4, 4, 4]


def test_a_fast_first_connection_stays_alone_and_fixed_counts_are_kept():
    assert ConnectionRamp(limit=16).observe(400 * MIB) == 1
    fixed = ConnectionRamp(limit=4, fixed=True)
    assert fixed.wanted == 4 and fixed.observe(1.0) == 4


async def test_throttled_server_gets_more_connections_by_default(served, out):
    asset = make_asset(served, "big.bin", 16 * MIB, seed=5)
    async with DevServer(served, rate_per_connection=8 * MIB) as server, \
            Engine(retry=FAST_RETRY) as engine:
        seen: list[int] = []
        result = await engine.fetch(request_for(server, asset, out),
                                    on_progress=lambda p: seen.append(p.connections))
    assert result.ok, result.error
    assert sha256_of(out / "big.bin") == asset.sha256
    assert max(seen) >= 4
    assert server.stats.bytes_by_path["/big.bin"] < asset.size * 1.1


async def test_fixed_connection_count_is_used(served, out, server, engine):
    asset = make_asset(served, "fixed.bin", 9 * MIB, seed=6)
    result = await engine.fetch(request_for(server, asset, out, connections=4))
    assert result.ok, result.error
    assert server.stats.requests_by_path["/fixed.bin"] >= 4
    assert server.stats.bytes_by_path["/fixed.bin"] < asset.size * 1.1
    assert sha256_of(out / "fixed.bin") == asset.sha256


async def test_one_connection_when_asked(served, out, server, engine):
    asset = make_asset(served, "one.bin", 9 * MIB, seed=7)
    result = await engine.fetch(request_for(server, asset, out, connections=1))
    assert result.ok and result.bytes_transferred == asset.size
    assert server.stats.requests_by_path["/one.bin"] == 1


async def test_a_slow_connection_does_not_hold_up_the_download(served, out, server, engine):
    asset = make_asset(served, "slow.bin", 8 * MIB, seed=8)
    server.set_faults(["slow:once"])
    started = asyncio.get_running_loop().time()
    result = await engine.fetch(request_for(server, asset, out, connections=4))
    assert result.ok, result.error
    assert server.stats.faults_fired["slow"] == 1
    assert asyncio.get_running_loop().time() - started < 3.0
    assert sha256_of(out / "slow.bin") == asset.sha256


async def test_a_tail_stolen_while_a_chunk_waits_for_the_write_thread_starts_after_it(tmp_path):
    """A chunk counts in its segment as soon as it is handed to the write thread: a steal
    while the writer is still busy with it splits after it, so no byte is in two segments
    (a race that once showed as "38257283 of 37748736 bytes on disk")."""
    size = 64 * MIB
    victim = Segment(0, size)
    staged = Staged(StagingFile(tmp_path / "a.part"), [victim], size)
    chunk = bytes(8 * MIB)  # over MAX_PENDING: the write waits for the thread
    try:
        writing = asyncio.create_task(staged.write(chunk, victim))
        await asyncio.sleep(0)  # the write runs until it waits (or is done)
        assert victim.position == len(chunk)
        stolen = steal(staged.segments)
        await writing
        assert stolen is not None and stolen.start >= victim.position == len(chunk)
        assert victim.end == stolen.start and victim.remaining > 0
        await staged.write(bytes(victim.remaining), victim)
        assert sum(s.end - s.start for s in staged.segments) == size
    finally:
        staged.close()
