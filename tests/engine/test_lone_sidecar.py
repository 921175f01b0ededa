"""A crash after the rename that published a file, before its state sidecar was removed,
leaves the file in place and a sidecar with no .part: the next run removes that sidecar."""

from __future__ import annotations

import asyncio
import shutil

from orchestrator.devserver import DevServer
from orchestrator.engine import Engine
from orchestrator.model.enums import DownloadState
from tests.engine.conftest import FAST_RETRY, make_asset, request_for, sha256_of

MIB = 1 << 20


async def _paused_with_a_sidecar(server: DevServer, request) -> None:
    """A real interrupted transfer: paused past 1 MiB, its state saved beside the .part."""
    reached = asyncio.Event()
    async with Engine(retry=FAST_RETRY) as engine:
        handle = engine.start(request, on_progress=lambda p: p.bytes >= MIB and reached.set())
        await asyncio.wait_for(reached.wait(), 20)
        handle.pause()
        while handle.state is not DownloadState.PAUSED:
            await asyncio.sleep(0.01)


async def test_a_file_in_place_with_a_lone_sidecar_is_kept_and_the_sidecar_removed(served, out):
    asset = make_asset(served, "asset.bin", 3 * MIB, seed=41)
    async with DevServer(served, rate_per_connection=4 * MIB) as server:
        request = request_for(server, asset, out, connections=1)
        await _paused_with_a_sidecar(server, request)
        sidecar, part = out / "asset.bin.part.json", out / "asset.bin.part"
        assert sidecar.exists() and part.exists()
        # What the crash leaves: the verified file renamed into place, the sidecar still there.
        part.unlink()
        shutil.copyfile(served / "asset.bin", out / "asset.bin")
        sent = server.stats.body_bytes_sent
        async with Engine(retry=FAST_RETRY) as engine:
            result = await engine.fetch(request)
        assert result.ok, result.error
        assert server.stats.body_bytes_sent == sent, "a verified file in place is not fetched"
    assert sha256_of(out / "asset.bin") == asset.sha256
    assert not sidecar.exists()
    assert sorted(path.name for path in out.iterdir()) == ["asset.bin"]


async def test_a_sidecar_beside_its_part_is_kept_when_the_file_is_in_place(served, out):
    """A .part of its own means another run's transfer: its state is not this one's to drop."""
    asset = make_asset(served, "asset.bin", 3 * MIB, seed=42)
    async with DevServer(served, rate_per_connection=4 * MIB) as server:
        request = request_for(server, asset, out, connections=1)
        await _paused_with_a_sidecar(server, request)
        shutil.copyfile(served / "asset.bin", out / "asset.bin")
        async with Engine(retry=FAST_RETRY) as engine:
            result = await engine.fetch(request)
        assert result.ok, result.error
    assert (out / "asset.bin.part.json").exists() and (out / "asset.bin.part").exists()
