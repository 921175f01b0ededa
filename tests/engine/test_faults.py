"""Every DevServer fault, on one connection and segmented: a verified file or a clean failure."""

from __future__ import annotations

import pytest

from orchestrator.devserver import DevServer
from orchestrator.engine import Engine
from tests.engine.conftest import FAST_RETRY, make_asset, request_for, sha256_of

MIB = 1 << 20
FAULTS = ["reset:once", "500:once", "truncate:once", "ignore-range:1", "etag-change:once",
          "endless:once", "redirect-offsite:once", "wrong-length:once", "reset:0.3", "500:0.3",
          "truncate:0.3"]


@pytest.mark.parametrize("connections", [1, 4])
@pytest.mark.parametrize("fault", FAULTS)
async def test_fault_ends_verified_or_cleanly(served, out, fault, connections):
    asset = make_asset(served, "asset.bin", 2 * MIB + 17, seed=11)
    async with DevServer(served, faults=[fault], seed=3) as server, \
            Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(request_for(server, asset, out, connections=connections))
    destination = out / "asset.bin"
    if result.ok:
        assert sha256_of(destination) == asset.sha256 == result.sha256
        assert result.size == asset.size
    else:
        assert not destination.exists(), f"{fault}: a file was published despite {result.error}"
        assert result.error.code > 0 and result.error.message
    assert not (out / "asset.bin.part").exists() or not result.ok
    if fault in ("reset:once", "500:once", "truncate:once", "endless:once", "ignore-range:1"):
        assert result.ok, result.error


async def test_wrong_length_always_is_a_size_mismatch(served, out):
    asset = make_asset(served, "asset.bin", 300_000, seed=12)
    async with DevServer(served, faults=["wrong-length:1"]) as server, \
            Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(request_for(server, asset, out))
    assert result.error.code == 1010
    assert not (out / "asset.bin").exists() and not (out / "asset.bin.part").exists()


async def test_503_retry_after_is_honoured(served, out):
    asset = make_asset(served, "asset.bin", 100_000, seed=13)
    async with DevServer(served, faults=["503:once"]) as server, \
            Engine(retry=FAST_RETRY) as engine:
        import time

        started = time.monotonic()
        result = await engine.fetch(request_for(server, asset, out))
        elapsed = time.monotonic() - started
    assert result.ok and sha256_of(out / "asset.bin") == asset.sha256
    assert elapsed >= 0.95
    assert server.stats.status_counts[503] == 1


async def test_endless_body_is_cut_off_at_the_expected_size(served, out):
    asset = make_asset(served, "asset.bin", 1 * MIB, seed=14)
    async with DevServer(served, faults=["endless:1"]) as server, \
            Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(request_for(server, asset, out, connections=1))
    assert result.ok, result.error
    assert (out / "asset.bin").stat().st_size == asset.size
    assert result.bytes_transferred == asset.size


async def test_segmented_download_survives_a_reset_of_every_third_answer(served, out):
    asset = make_asset(served, "asset.bin", 12 * MIB, seed=15)
    async with DevServer(served, faults=["reset:0.3"], seed=1) as server, \
            Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(request_for(server, asset, out, connections=4))
    assert result.ok, result.error
    assert sha256_of(out / "asset.bin") == asset.sha256
    assert server.stats.faults_fired["reset"] >= 1
