"""Resuming: from a paused or interrupted run, after 200/416 answers and changed validators."""

from __future__ import annotations

import asyncio
import json

from orchestrator.devserver import DevServer
from orchestrator.engine import DownloadRequest, Engine, MemoryStore, SidecarStore
from tests.engine.conftest import FAST_RETRY, make_asset, request_for, sha256_of

MIB = 1 << 20


async def _interrupt(server: DevServer, request: DownloadRequest, after: int) -> None:
    """Run ``request`` until ``after`` bytes are on disk, then stop the engine."""
    reached = asyncio.Event()
    async with Engine(retry=FAST_RETRY) as engine:
        engine.start(request, on_progress=lambda p: p.bytes >= after and reached.set())
        await asyncio.wait_for(reached.wait(), 20)


async def test_interrupted_download_resumes_with_little_downloaded_again(served, out):
    asset = make_asset(served, "asset.bin", 4 * MIB, seed=21)
    async with DevServer(served, rate_per_connection=6 * MIB) as server:
        request = request_for(server, asset, out, sha256=None, connections=1)
        await _interrupt(server, request, 1 * MIB)
        state = json.loads((out / "asset.bin.part.json").read_text())
        assert state["etag"] and state["segments"][0][2] >= 1 * MIB
        server.rate_per_connection = None
        async with Engine(retry=FAST_RETRY) as engine:
            result = await engine.fetch(request)
    assert result.ok, result.error
    assert sha256_of(out / "asset.bin") == asset.sha256
    assert result.resumed_from >= 1 * MIB
    assert result.bytes_transferred == asset.size - result.resumed_from
    assert server.stats.body_bytes_sent <= asset.size + 1.5 * MIB
    assert not (out / "asset.bin.part.json").exists()


async def test_segmented_download_resumes_every_segment(served, out):
    asset = make_asset(served, "asset.bin", 12 * MIB, seed=22)
    async with DevServer(served, rate_per_connection=8 * MIB) as server:
        request = request_for(server, asset, out, connections=4)
        await _interrupt(server, request, 4 * MIB)
        state = SidecarStore().load(str(out / "asset.bin"))
        assert len(state["segments"]) >= 4
        server.rate_per_connection = None
        async with Engine(retry=FAST_RETRY) as engine:
            result = await engine.fetch(request)
    assert result.ok, result.error
    assert sha256_of(out / "asset.bin") == asset.sha256
    assert result.resumed_from >= 4 * MIB
    assert server.stats.body_bytes_sent <= asset.size + 2 * MIB


async def test_200_to_a_resume_starts_over_and_never_appends(served, out):
    asset = make_asset(served, "asset.bin", 3 * MIB, seed=23)
    async with DevServer(served, rate_per_connection=4 * MIB) as server:
        request = request_for(server, asset, out, connections=1)
        await _interrupt(server, request, 1 * MIB)
        server.rate_per_connection = None
        server.set_faults(["ignore-range:1"])
        async with Engine(retry=FAST_RETRY) as engine:
            result = await engine.fetch(request)
    assert result.ok, result.error
    assert sha256_of(out / "asset.bin") == asset.sha256
    assert result.bytes_transferred == asset.size


async def test_changed_validator_starts_over(served, out):
    asset = make_asset(served, "asset.bin", 3 * MIB, seed=24)
    async with DevServer(served, rate_per_connection=4 * MIB) as server:
        request = request_for(server, asset, out, sha256=None, connections=1)
        await _interrupt(server, request, 1 * MIB)
        server.rate_per_connection = None
        server.set_faults(["etag-change:1"])
        async with Engine(retry=FAST_RETRY) as engine:
            result = await engine.fetch(request)
    assert result.ok, result.error
    assert result.bytes_transferred == asset.size and result.sha256 == asset.sha256


async def test_416_on_a_complete_part_finishes_after_checking_it(served, out, server, engine):
    asset = make_asset(served, "asset.bin", 1 * MIB, seed=25)
    (out / "asset.bin.part").write_bytes(asset.data)
    SidecarStore().save(str(out / "asset.bin"), {
        "url": server.url + "asset.bin", "size": asset.size, "sha256": asset.sha256,
        "etag": None, "last_modified": None, "segments": [[0, asset.size, asset.size]]})
    result = await engine.fetch(request_for(server, asset, out))
    assert result.ok and result.bytes_transferred == 0
    assert sha256_of(out / "asset.bin") == asset.sha256
    assert server.stats.body_bytes_sent == 0


async def test_corrupt_part_fails_the_checksum_then_downloads_again(served, out, server, engine):
    asset = make_asset(served, "asset.bin", 1 * MIB, seed=26)
    (out / "asset.bin.part").write_bytes(b"\0" * (512 * 1024))
    result = await engine.fetch(request_for(server, asset, out))
    assert result.ok, result.error
    assert sha256_of(out / "asset.bin") == asset.sha256


async def test_state_claiming_bytes_not_on_disk_is_clamped(served, out, server, engine):
    asset = make_asset(served, "asset.bin", 1 * MIB, seed=27)
    (out / "asset.bin.part").write_bytes(asset.data[:1000])
    SidecarStore().save(str(out / "asset.bin"), {
        "url": server.url + "asset.bin", "size": asset.size, "sha256": None,
        "etag": None, "last_modified": None, "segments": [[0, asset.size, 900_000]]})
    result = await engine.fetch(request_for(server, asset, out, sha256=None))
    assert result.ok and result.sha256 == asset.sha256


async def test_existing_verified_file_is_not_downloaded_again(served, out, server, engine):
    asset = make_asset(served, "asset.bin", 200_000, seed=28)
    (out / "asset.bin").write_bytes(asset.data)
    result = await engine.fetch(request_for(server, asset, out))
    assert result.ok and result.bytes_transferred == 0
    assert server.stats.requests == 0


async def test_checksum_mismatch_removes_the_part_and_fails(served, out, server, engine):
    asset = make_asset(served, "asset.bin", 200_000, seed=29)
    result = await engine.fetch(request_for(server, asset, out, sha256="0" * 64))
    assert result.error.code == 1011
    assert not (out / "asset.bin").exists() and not (out / "asset.bin.part").exists()
    assert server.stats.requests == 2


async def test_custom_key_keeps_the_sidecar_next_to_the_part(served, out):
    asset = make_asset(served, "asset.bin", 3 * MIB, seed=30)
    async with DevServer(served, rate_per_connection=4 * MIB) as server:
        request = request_for(server, asset, out, connections=1, key="app/asset-1")
        await _interrupt(server, request, 1 * MIB)
        assert (out / "asset.bin.part.json").exists()
        server.rate_per_connection = None
        async with Engine(retry=FAST_RETRY) as engine:
            result = await engine.fetch(request)
    assert result.ok and result.key == "app/asset-1"
    assert result.resumed_from >= 1 * MIB
    assert not (out / "asset.bin.part.json").exists()


class CountingStore(MemoryStore):
    """A real in-memory store that also counts its writes."""

    def __init__(self) -> None:
        super().__init__()
        self.saves = 0

    def save(self, key: str, state: dict) -> None:
        self.saves += 1
        super().save(key, state)


async def test_a_download_within_its_first_checkpoint_writes_no_state(served, out, server):
    asset = make_asset(served, "asset.bin", 2 * MIB, seed=31)
    store = CountingStore()
    async with Engine(state_store=store, retry=FAST_RETRY) as engine:
        result = await engine.fetch(request_for(server, asset, out, connections=1))
    assert result.ok and store.saves == 0 and store.states == {}


async def test_segmented_bytes_written_after_the_last_checkpoint_are_taken_back(
        served, out, server, engine):
    asset = make_asset(served, "asset.bin", 8 * MIB, seed=32)
    part = out / "asset.bin.part"
    quarter = 2 * MIB
    with open(part, "wb") as handle:  # four segments, each written further than claimed
        for index, written in enumerate((1_500_001, 700_000, 2 * MIB, 123_457)):
            handle.seek(index * quarter)
            handle.write(asset.data[index * quarter:index * quarter + written])
    SidecarStore().save(str(out / "asset.bin"), {
        "url": server.url + "asset.bin", "size": asset.size, "sha256": asset.sha256,
        "etag": None, "last_modified": None,
        "segments": [[i * quarter, (i + 1) * quarter, 1000] for i in range(4)]})
    result = await engine.fetch(request_for(server, asset, out, connections=4))
    assert result.ok, result.error
    assert sha256_of(out / "asset.bin") == asset.sha256
    on_disk = 1_500_001 + 700_000 + 2 * MIB + 123_457
    assert result.resumed_from > on_disk - 4 * 8192
    assert server.stats.body_bytes_sent < asset.size - on_disk + 4 * 8192


async def test_a_segment_ending_just_before_the_next_ones_data_is_not_taken_back_too_far(
        served, out, server, engine):
    """Segment A's bytes end 200 bytes short of the block where segment B's data starts:
    no hole lies between them, so the file system cannot say where A ends (seen in the
    crash soak: zeros taken back, the sha256 failed and 16 MiB were fetched again)."""
    asset = make_asset(served, "asset.bin", 8 * MIB, seed=33)
    part = out / "asset.bin.part"
    boundary = 4_000_003
    a_written = boundary - boundary % 4096 - 200
    with open(part, "wb") as handle:
        handle.write(asset.data[:a_written])
        handle.seek(boundary)
        handle.write(asset.data[boundary:boundary + MIB])
        handle.truncate(asset.size)
    SidecarStore().save(str(out / "asset.bin"), {
        "url": server.url + "asset.bin", "size": asset.size, "sha256": asset.sha256,
        "etag": None, "last_modified": None,
        "segments": [[0, boundary, 1000], [boundary, asset.size, 1000]]})
    result = await engine.fetch(request_for(server, asset, out, connections=2))
    assert result.ok, result.error
    assert sha256_of(out / "asset.bin") == asset.sha256
    assert server.stats.body_bytes_sent < asset.size - a_written - MIB + 4 * 8192


async def test_a_resume_from_byte_0_with_bytes_kept_further_on_checks_the_validators(
        served, out, server, engine):
    """Segment 0 got nothing before the stop, segment 1 did: the resume's first range starts
    at 0, yet what segment 1 kept is of another version (its ETag differs). Without a sha256
    only the validators can tell; the old bytes must not end up in the file."""
    asset = make_asset(served, "asset.bin", 4 * MIB, seed=34)
    half = 2 * MIB
    with open(out / "asset.bin.part", "wb") as handle:
        handle.seek(half)
        handle.write(b"\xee" * 100_000)
    SidecarStore().save(str(out / "asset.bin"), {
        "url": server.url + "asset.bin", "size": asset.size, "sha256": None,
        "etag": '"an-older-version"', "last_modified": None,
        "segments": [[0, half, 0], [half, asset.size, 100_000]]})
    result = await engine.fetch(request_for(server, asset, out, sha256=None, connections=2))
    assert result.ok, result.error
    assert sha256_of(out / "asset.bin") == asset.sha256
    assert result.bytes_transferred == asset.size
