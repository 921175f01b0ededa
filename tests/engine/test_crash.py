"""kill -9 in the middle of a download, then again: it resumes and the file is verified."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap

import pytest

from orchestrator.devserver import DevServer
from orchestrator.engine import Engine
from tests.engine.conftest import FAST_RETRY, make_asset, request_for, sha256_of

MIB = 1 << 20
CHILD = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from orchestrator.engine import DownloadRequest, Engine

    async def main(url, destination, size, sha256, connections):
        request = DownloadRequest(url, Path(destination), size=int(size), sha256=sha256,
                                  connections=int(connections) or None)
        async with Engine() as engine:
            await engine.fetch(request, on_progress=lambda p: print(p.bytes, flush=True))

    asyncio.run(main(*sys.argv[1:]))
""")


async def _kill_after(args: list[str], threshold: int) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, *args, stdout=asyncio.subprocess.PIPE,
        cwd=os.getcwd())
    try:
        while True:
            line = await asyncio.wait_for(child.stdout.readline(), 20)
            assert line, "the child ended before reaching the threshold"
            if int(line) >= threshold:
                break
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()


@pytest.mark.parametrize("connections", [1, 0])
async def test_kill_9_then_resume_downloads_little_again(served, out, connections):
    asset = make_asset(served, "asset.bin", 24 * MIB, seed=81)
    async with DevServer(served, rate_per_connection=8 * MIB) as server:
        request = request_for(server, asset, out, connections=connections or None)
        await _kill_after([request.url, str(request.destination), str(asset.size),
                           asset.sha256, str(connections)], 6 * MIB)
        on_disk = os.stat(out / "asset.bin.part").st_blocks * 512
        sent_before = server.stats.body_bytes_sent
        server.rate_per_connection = None
        async with Engine(retry=FAST_RETRY) as engine:
            result = await engine.fetch(request)
    assert result.ok, result.error
    assert sha256_of(out / "asset.bin") == asset.sha256
    again = server.stats.body_bytes_sent - sent_before
    assert again <= asset.size - on_disk + 1 * MIB
    assert not (out / "asset.bin.part").exists() and not (out / "asset.bin.part.json").exists()
