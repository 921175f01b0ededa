"""A download of unknown size with ``max_size``: refused at a declared length above it, cut
off at it when the body never ends, and nothing of it kept on disk."""

import time

from orchestrator.devserver import DevServer
from orchestrator.engine import DownloadRequest, Engine
from orchestrator.errors import ErrorCode
from tests.engine.conftest import FAST_RETRY, make_asset
from tests.engine.servers import endless_chunked, serve

KIB = 1024


async def test_an_endless_body_is_cut_off_at_max_size(out):
    destination = out / "catalog.json"
    async with serve({"/catalog.json": endless_chunked()}) as (url, _), \
            Engine(retry=FAST_RETRY) as engine:
        started = time.monotonic()
        result = await engine.fetch(DownloadRequest(
            f"{url}/catalog.json", destination, connections=1, max_size=256 * KIB))
    assert result.error is not None and result.error.code == ErrorCode.CATALOG_TOO_LARGE
    assert "cut off" in result.error.message
    assert 256 * KIB <= result.bytes_transferred <= 256 * KIB + 64 * KIB
    assert time.monotonic() - started < 10
    assert list(out.iterdir()) == []  # neither the file nor its .part


async def test_a_declared_length_above_max_size_fails_before_the_body(served, out):
    make_asset(served, "catalog.json", 2 << 20, seed=22)
    async with DevServer(served) as server, Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(DownloadRequest(
            f"{server.url}/catalog.json", out / "catalog.json", connections=1,
            max_size=64 * KIB))
    assert result.error is not None and result.error.code == ErrorCode.CATALOG_TOO_LARGE
    assert str(2 << 20) in result.error.message
    assert result.bytes_transferred == 0
    assert list(out.iterdir()) == []


async def test_a_body_within_max_size_finishes(served, out):
    asset = make_asset(served, "catalog.json", 64 * KIB, seed=23)
    async with DevServer(served) as server, Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(DownloadRequest(
            f"{server.url}/catalog.json", out / "catalog.json", connections=1,
            max_size=64 * KIB))
    assert result.ok, result.error
    assert (out / "catalog.json").read_bytes() == asset.data
