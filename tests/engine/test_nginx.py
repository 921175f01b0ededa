"""The happy paths against a real nginx on 127.0.0.1: one connection, segmented, resumed."""

from __future__ import annotations

import asyncio

import pytest

from orchestrator.engine import DownloadRequest, Engine
from tests.engine.conftest import FAST_RETRY, make_asset, sha256_of
from tests.support.nginx import nginx_server

MIB = 1 << 20
pytestmark = pytest.mark.integration


async def test_one_connection_and_segmented_downloads_from_nginx(served, out, tmp_path):
    small = make_asset(served, "small.bin", 200_000, seed=71)
    large = make_asset(served, "large.bin", 12 * MIB, seed=72)
    with nginx_server(served, tmp_path / "nginx") as base:
        async with Engine(retry=FAST_RETRY) as engine:
            results = await asyncio.gather(
                engine.fetch(DownloadRequest(base + "small.bin", out / "small.bin",
                                             sha256=small.sha256)),
                engine.fetch(DownloadRequest(base + "large.bin", out / "one.bin",
                                             sha256=large.sha256, connections=1)),
                engine.fetch(DownloadRequest(base + "large.bin", out / "four.bin",
                                             sha256=large.sha256, connections=4)))
    assert all(result.ok for result in results), [r.error for r in results]
    assert sha256_of(out / "small.bin") == small.sha256
    assert sha256_of(out / "one.bin") == sha256_of(out / "four.bin") == large.sha256


async def test_throttled_nginx_resumes_after_the_engine_stops(served, out, tmp_path):
    asset = make_asset(served, "asset.bin", 8 * MIB, seed=73)
    with nginx_server(served, tmp_path / "nginx", limit_rate="8m") as base:
        request = DownloadRequest(base + "asset.bin", out / "asset.bin", size=asset.size,
                                  connections=1)
        reached = asyncio.Event()
        async with Engine(retry=FAST_RETRY) as engine:
            engine.start(request, on_progress=lambda p: p.bytes >= 3 * MIB and reached.set())
            await asyncio.wait_for(reached.wait(), 20)
        assert (out / "asset.bin.part.json").exists()
        async with Engine(retry=FAST_RETRY) as engine:
            result = await engine.fetch(request)
    assert result.ok, result.error
    assert result.resumed_from >= 3 * MIB
    assert result.bytes_transferred == asset.size - result.resumed_from
    assert result.sha256 == asset.sha256
