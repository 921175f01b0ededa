"""Small files of a known size: one GET each, checked in memory, published in batches.

The in-memory path runs on asyncio's own loop and on uvloop (skipped only where uvloop
is not installed); hostile answers end in a clean error with nothing at the destination.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from orchestrator.devserver import DevServer
from orchestrator.engine import DownloadRequest, Engine
from orchestrator.engine.commit import PROCESS_AFTER, GroupCommit
from orchestrator.engine.staging import StagingFile
from orchestrator.errors import DownloadError, ErrorCode
from tests.engine.conftest import FAST_RETRY, make_asset, request_for, sha256_of
from tests.engine.servers import serve

try:
    import uvloop
except ImportError:  # the standard loop is tested either way
    uvloop = None

LOOPS = [pytest.param(None, id="asyncio"),
         pytest.param("uvloop", id="uvloop",
                      marks=pytest.mark.skipif(uvloop is None, reason="uvloop not installed"))]


def run_on(loop: str | None, main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``main()`` on a fresh loop of the kind named (None: asyncio's own)."""
    factory = uvloop.new_event_loop if loop == "uvloop" else None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main())
        if loop == "uvloop":
            assert type(runner.get_loop()).__module__.startswith("uvloop")


@pytest.mark.parametrize("loop", LOOPS)
def test_small_files_are_one_get_each_and_leave_nothing_beside_them(served, out, loop):
    assets = [make_asset(served, f"f{index:03d}.bin", 1000 + 517 * index, seed=index)
              for index in range(120)]

    async def main() -> None:
        async with DevServer(served) as server, Engine(retry=FAST_RETRY) as engine:
            results = await asyncio.gather(*(engine.fetch(request_for(server, asset, out))
                                             for asset in assets))
            assert server.stats.requests == len(assets)
            assert server.stats.range_requests == 0
        for asset, result in zip(assets, results, strict=True):
            assert result.ok, result.error
            assert result.sha256 == asset.sha256 == sha256_of(out / asset.name)
            assert result.size == asset.size == result.bytes_transferred

    run_on(loop, main)
    assert sorted(os.listdir(out)) == [asset.name for asset in assets]  # no .part, .json, .mark


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("fault", ["reset:once", "truncate:once", "500:once", "endless:once",
                                   "wrong-length:1", "endless:1"])
def test_a_hostile_answer_ends_verified_or_cleanly(served, out, loop, fault):
    asset = make_asset(served, "asset.bin", 200_000, seed=7)

    async def main() -> None:
        async with DevServer(served, faults=[fault], seed=1) as server, \
                Engine(retry=FAST_RETRY) as engine:
            result = await engine.fetch(request_for(server, asset, out))
        if fault == "wrong-length:1":
            assert result.error is not None and result.error.code == ErrorCode.SIZE_MISMATCH
        else:  # a body longer than the size is cut off there and checked by the sha256
            assert result.ok, result.error
            assert sha256_of(out / asset.name) == asset.sha256

    run_on(loop, main)
    assert sorted(os.listdir(out)) in ([], [asset.name])


async def test_an_endless_body_without_a_sha256_fails_with_a_size_mismatch(served, out):
    asset = make_asset(served, "asset.bin", 50_000, seed=8)
    async with DevServer(served, faults=["endless:1"]) as server, \
            Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(request_for(server, asset, out, sha256=None))
    assert result.error is not None and result.error.code == ErrorCode.SIZE_MISMATCH
    assert os.listdir(out) == []


async def test_bytes_that_fail_the_sha256_are_fetched_twice_and_never_published(served, out):
    asset = make_asset(served, "asset.bin", 40_000, seed=9)
    async with DevServer(served) as server, Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(request_for(server, asset, out, sha256="ab" * 32))
        assert server.stats.requests == 2
    assert result.error is not None and result.error.code == ErrorCode.CHECKSUM_MISMATCH
    assert asset.sha256 in result.error.message and "ab" * 32 in result.error.message
    assert os.listdir(out) == []


async def test_a_206_that_does_not_start_at_the_first_byte_is_refused(tmp_path, out):
    body = os.urandom(10_000)

    async def partial(request: web.Request) -> web.Response:
        return web.Response(status=206, body=body[100:], headers={
            "Content-Range": f"bytes 100-{len(body) - 1}/{len(body)}"})

    async with serve({"/asset.bin": partial}) as (url, seen), \
            Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(DownloadRequest(
            f"{url}/asset.bin", out / "asset.bin", size=len(body),
            sha256=hashlib.sha256(body).hexdigest()))
    assert result.error is not None and result.error.code == ErrorCode.RANGE_NOT_HONOURED
    assert all("Range" not in headers for headers in seen)
    assert os.listdir(out) == []


async def test_a_small_file_with_a_part_from_an_earlier_run_resumes_from_it(served, server,
                                                                             out):
    asset = make_asset(served, "asset.bin", 300_000, seed=10)
    (out / "asset.bin.part").write_bytes(asset.data[:100_000])
    async with Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(request_for(server, asset, out))
    assert result.ok and sha256_of(out / "asset.bin") == asset.sha256
    assert result.resumed_from == 100_000 and server.stats.range_requests == 1


def _files(folder: Path, count: int) -> list[tuple[bytes, str, Path, Path]]:
    return [(data, hashlib.sha256(data).hexdigest(), folder / f"f{index}.part",
             folder / f"f{index}") for index in range(count)
            if (data := os.urandom(500 + index))]


async def started_process(commit: GroupCommit) -> int:
    """The pid of the publishing process, once it has started (it starts in the background)."""
    for _ in range(500):
        if commit.process_id is not None:
            return commit.process_id
        await asyncio.sleep(0.01)
    raise AssertionError("the publishing process did not start")


async def test_many_files_go_to_the_publishing_process_and_land_verified(tmp_path):
    commit = GroupCommit()
    first, second = _files(tmp_path, 2 * PROCESS_AFTER), _files(tmp_path / "b", 300)
    (tmp_path / "b").mkdir()

    async def publish(files: list[tuple[bytes, str, Path, Path]], wrong: int = -1) -> list:
        return await asyncio.gather(*(
            commit.publish_verified(StagingFile(part), data, destination,
                                    sha256="00" * 32 if index == wrong else digest,
                                    source=str(destination))
            for index, (data, digest, part, destination) in enumerate(files)),
            return_exceptions=True)

    assert await publish(first) == [digest for _, digest, _, _ in first]
    pid = await started_process(commit)  # once that many files waited at once
    results = await publish(second, wrong=7)
    assert commit.process_id == pid
    for index, (data, digest, part, destination) in enumerate(second):
        if index == 7:
            assert isinstance(results[index], DownloadError)
            assert results[index].code == ErrorCode.CHECKSUM_MISMATCH
            assert not destination.exists() and not part.exists()
        else:
            assert results[index] == digest and destination.read_bytes() == data
    await commit.close()
    assert commit.process_id is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not list(tmp_path.rglob("*.part"))


async def test_a_killed_publishing_process_fails_its_files_as_retryable(tmp_path):
    """Files the process held fail as retryable disk errors; later ones go to the thread."""
    commit = GroupCommit()
    await asyncio.gather(*(
        commit.publish_verified(StagingFile(part), data, destination, sha256=digest,
                                source="x") for data, digest, part, destination in
        _files(tmp_path, 2 * PROCESS_AFTER)))
    os.kill(await started_process(commit), signal.SIGKILL)
    (tmp_path / "c").mkdir()
    files = _files(tmp_path / "c", 50)
    results = await asyncio.gather(*(
        commit.publish_verified(StagingFile(part), data, destination, sha256=digest,
                                source="x") for data, digest, part, destination in files),
        return_exceptions=True)
    for result, (data, digest, _, destination) in zip(results, files, strict=True):
        if isinstance(result, DownloadError):
            assert result.code == ErrorCode.DISK_ERROR and result.transient
            assert not destination.exists() or destination.read_bytes() == data
        else:
            assert result == digest and destination.read_bytes() == data
    assert commit.process_id is None
    again = await commit.publish_verified(StagingFile(tmp_path / "d.part"), b"after",
                                          tmp_path / "d", sha256=None, source="d")
    assert again == hashlib.sha256(b"after").hexdigest()
    assert (tmp_path / "d").read_bytes() == b"after"
    await commit.close()
