"""Each injected fault, observed on the wire, and how often it fires."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from orchestrator.devserver import DevServer
from tests.devserver.conftest import ASSET_SIZE, asset_bytes, raw_get

DATA = asset_bytes()
HALF = ASSET_SIZE // 2


async def _wait_for(condition: object, timeout: float = 5.0) -> None:
    """Wait until condition() holds; the server finishes a handler after the client has gone."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_500_fires_once_per_path_then_the_file_is_served(site: Path) -> None:
    async with DevServer(site, faults=["500"]) as server:
        first = await raw_get(server.port, "/asset.bin")
        second = await raw_get(server.port, "/asset.bin")
        other = await raw_get(server.port, "/hello.txt")
    assert (first.status, second.status, other.status) == (500, 200, 500)
    assert second.body == DATA
    assert server.stats.faults_fired == {"500": 2}


async def test_503_asks_to_retry_after_one_second(site: Path) -> None:
    async with DevServer(site, faults=["503"]) as server:
        response = await raw_get(server.port, "/asset.bin")
    assert response.status == 503 and response.headers["retry-after"] == "1"


async def test_reset_sends_part_of_the_body_then_resets(site: Path) -> None:
    async with DevServer(site, faults=["reset"]) as server:
        broken = await raw_get(server.port, "/asset.bin")
        retried = await raw_get(server.port, "/asset.bin")
    assert broken.status == 200 and broken.headers["content-length"] == str(ASSET_SIZE)
    assert broken.ending == "reset"
    assert 0 < len(broken.body) <= HALF and DATA.startswith(broken.body)
    assert retried.body == DATA and retried.ending == "complete"


async def test_truncate_declares_the_full_length_sends_half_then_closes(site: Path) -> None:
    async with DevServer(site, faults=["truncate"]) as server:
        response = await raw_get(server.port, "/asset.bin", {"Range": "bytes=1000-"})
    assert response.status == 206
    assert response.headers["content-length"] == str(ASSET_SIZE - 1000)
    assert response.ending == "eof"
    assert response.body == DATA[1000:1000 + (ASSET_SIZE - 1000) // 2]


async def test_ignore_range_answers_a_range_request_with_the_whole_file(site: Path) -> None:
    async with DevServer(site, faults=["ignore-range"]) as server:
        plain = await raw_get(server.port, "/asset.bin")
        ignored = await raw_get(server.port, "/asset.bin", {"Range": "bytes=100-199"})
        honoured = await raw_get(server.port, "/asset.bin", {"Range": "bytes=100-199"})
    assert (plain.status, ignored.status, honoured.status) == (200, 200, 206)
    assert ignored.body == DATA and "content-range" not in ignored.headers
    assert honoured.body == DATA[100:200]


async def test_etag_change_makes_a_resume_start_over_with_the_same_bytes(site: Path) -> None:
    async with DevServer(site, faults=["etag-change"]) as server:
        first = await raw_get(server.port, "/asset.bin")
        resumed = await raw_get(server.port, "/asset.bin",
                                {"Range": "bytes=500-", "If-Range": first.headers["etag"]})
        later = await raw_get(server.port, "/asset.bin", method="HEAD")
    assert first.status == 200 and first.body == DATA
    assert resumed.status == 200 and resumed.body == DATA
    assert resumed.headers["etag"] != first.headers["etag"]
    assert resumed.headers["last-modified"] != first.headers["last-modified"]
    assert later.headers["etag"] == resumed.headers["etag"]
    assert server.stats.faults_fired == {"etag-change": 1}


async def test_slow_sends_at_about_256_kib_per_second(site: Path) -> None:
    async with DevServer(site, faults=["slow"]) as server:
        started = time.monotonic()
        response = await raw_get(server.port, "/asset.bin", {"Range": "bytes=0-262143"})
        elapsed = time.monotonic() - started
    assert response.body == DATA[:262144]
    assert elapsed >= 0.7  # 256 KiB at 256 KiB/s is 1 s; the first chunk leaves at once


async def test_endless_sends_more_than_the_file_until_the_client_leaves(site: Path) -> None:
    async with DevServer(site, faults=["endless"]) as server:
        response = await raw_get(server.port, "/asset.bin", read_limit=ASSET_SIZE + 2**20)
        assert response.status == 200 and "content-length" not in response.headers
        assert response.headers["transfer-encoding"] == "chunked"
        assert response.ending == "limit" and len(response.body) > ASSET_SIZE + 2**20 - 1
        await _wait_for(lambda: server.stats.status_counts[200] == 1)
        assert server.stats.bytes_by_path["/asset.bin"] > ASSET_SIZE


async def test_endless_seen_by_aiohttp_has_more_bytes_than_declared_size(site: Path) -> None:
    async with DevServer(site, faults=["endless"]) as server, aiohttp.ClientSession() as session:
        async with session.get(server.url + "asset.bin") as response:
            received = 0
            async for chunk in response.content.iter_chunked(256 * 1024):
                received += len(chunk)
                if received > ASSET_SIZE:
                    break
        assert received > ASSET_SIZE
        await _wait_for(lambda: server.stats.status_counts[200] == 1)


async def test_redirect_offsite_points_at_another_name_of_the_same_server(site: Path) -> None:
    async with DevServer(site, faults=["redirect-offsite"]) as server:
        response = await raw_get(server.port, "/asset.bin?v=1")
        assert response.status == 302
        assert response.headers["location"] == f"http://localhost:{server.port}/asset.bin?v=1"
        server.set_faults(["redirect-offsite"])
        async with aiohttp.ClientSession() as session, \
                session.get(server.url + "asset.bin?v=1") as followed:
            assert followed.status == 200
            assert followed.url.host == "localhost"
            assert await followed.read() == DATA
    assert server.stats.faults_fired == {"redirect-offsite": 2}


async def test_wrong_length_serves_one_byte_less_as_if_the_file_changed(site: Path) -> None:
    async with DevServer(site, faults=["wrong-length:1"]) as server:
        whole = await raw_get(server.port, "/asset.bin")
        tail = await raw_get(server.port, "/asset.bin", {"Range": "bytes=-10"})
    assert whole.headers["content-length"] == str(ASSET_SIZE - 1)
    assert whole.body == DATA[:-1] and whole.ending == "complete"
    assert tail.headers["content-range"] == f"bytes {ASSET_SIZE - 11}-{ASSET_SIZE - 2}/" \
                                            f"{ASSET_SIZE - 1}"
    assert tail.body == DATA[-11:-1]


async def test_faults_skip_head_and_missing_files(site: Path) -> None:
    async with DevServer(site, faults=["500:1"]) as server:
        head = await raw_get(server.port, "/asset.bin", method="HEAD")
        missing = await raw_get(server.port, "/missing.bin")
        get = await raw_get(server.port, "/asset.bin")
    assert (head.status, missing.status, get.status) == (200, 404, 500)


async def test_set_faults_changes_behaviour_while_running(server: DevServer) -> None:
    assert (await raw_get(server.port, "/hello.txt")).status == 200
    server.set_faults(["503:1"])
    assert (await raw_get(server.port, "/hello.txt")).status == 503
    server.set_faults([])
    assert (await raw_get(server.port, "/hello.txt")).status == 200
    assert server.stats.faults_fired == {"503": 1}


async def test_a_share_gives_the_same_statuses_for_the_same_seed(site: Path) -> None:
    async def statuses(seed: int) -> list[int]:
        async with DevServer(site, faults=["500:0.5"], seed=seed) as server:
            return [(await raw_get(server.port, "/hello.txt")).status for _ in range(16)]

    first, again, other = await statuses(7), await statuses(7), await statuses(8)
    assert first == again != other
    assert set(first) == {200, 500}
