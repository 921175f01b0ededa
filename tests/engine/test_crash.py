"""kill -9 in the middle of a download, then again: it resumes and the file is verified.

Without a pinned sha256 nothing checks the bytes at the end, so what a resume takes back
comes from the checkpoint (after an fsync) or from a progress mark of the same boot.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import textwrap
import uuid
import zlib
from pathlib import Path

import pytest

from orchestrator.devserver import DevServer
from orchestrator.engine import DownloadRequest, DownloadResult, Engine
from orchestrator.engine.marks import HEADER, TAIL, ProgressMark, boot_id
from orchestrator.engine.transfer import MARK_BYTES
from tests.engine.conftest import FAST_RETRY, make_asset, request_for, sha256_of

MIB = 1 << 20
CHILD = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from orchestrator.engine import DownloadRequest, Engine

    async def main(url, destination, size, sha256, connections):
        request = DownloadRequest(url, Path(destination), size=int(size), sha256=sha256 or None,
                                  connections=int(connections) or None)
        async with Engine() as engine:
            await engine.fetch(request, on_progress=lambda p: print(p.bytes, flush=True))

    asyncio.run(main(*sys.argv[1:]))
""")


async def _kill_after(request: DownloadRequest, threshold: int) -> None:
    """Run ``request`` in a child process and kill -9 it once ``threshold`` bytes are in."""
    args = [request.url, str(request.destination), str(request.size), request.sha256 or "",
            str(request.connections or 0)]
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


async def _resumed_after_a_kill(server: DevServer, request: DownloadRequest,
                                threshold: int) -> tuple[DownloadResult, int, int]:
    """Kill -9 a download at ``threshold`` bytes, then resume it at full speed: the result,
    the body bytes the resume fetched and the bytes the .part held at the kill."""
    await _kill_after(request, threshold)
    on_disk = os.stat(request.staging_path).st_blocks * 512
    sent_before = server.stats.body_bytes_sent
    server.rate_per_connection = None
    async with Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(request)
    return result, server.stats.body_bytes_sent - sent_before, on_disk


@pytest.mark.parametrize("connections", [1, 0])
async def test_kill_9_then_resume_downloads_little_again(served, out, connections):
    asset = make_asset(served, "asset.bin", 24 * MIB, seed=81)
    async with DevServer(served, rate_per_connection=8 * MIB) as server:
        request = request_for(server, asset, out, connections=connections or None)
        result, again, on_disk = await _resumed_after_a_kill(server, request, 6 * MIB)
    assert result.ok, result.error
    assert sha256_of(out / "asset.bin") == asset.sha256
    assert again <= asset.size - on_disk + 1 * MIB
    assert not (out / "asset.bin.part").exists() and not (out / "asset.bin.part.json").exists()


def _read_mark(staging: Path) -> dict:
    with open(staging, "rb") as part:
        mark = ProgressMark(staging).load(part.fileno())
    assert mark is not None, "no valid mark after the kill"
    return mark


def _mark_from_another_boot(staging: Path) -> None:
    path = staging.with_name(staging.name + ".mark")
    data = path.read_bytes()
    assert boot_id().encode() in data
    body = data[HEADER.size:].replace(boot_id().encode(), str(uuid.uuid4()).encode())
    magic, identity_length, count, _crc = HEADER.unpack_from(data)
    path.write_bytes(HEADER.pack(magic, identity_length, count, zlib.crc32(body)) + body)


pytestmark_marks = pytest.mark.skipif(boot_id() is None, reason="no boot id: no marks here")


@pytestmark_marks
@pytest.mark.parametrize("connections", [1, 4])
async def test_kill_9_without_a_sha256_fetches_again_at_most_a_mark_per_connection(
        served, out, connections):
    asset = make_asset(served, "asset.bin", 48 * MIB, seed=82)
    async with DevServer(served, rate_per_connection=16 * MIB) as server:
        request = request_for(server, asset, out, sha256=None, connections=connections)
        result, again, on_disk = await _resumed_after_a_kill(server, request, 12 * MIB)
    assert result.ok, result.error
    assert sha256_of(out / "asset.bin") == asset.sha256
    # What was on disk but not trusted by the resume (not claimed by the last mark): under
    # MARK_BYTES per connection, plus the chunks handed to the write thread after it. Read
    # from what the resume trusted, not from the bytes the server sent meanwhile: those
    # also count what a connection had in flight when its tail was stolen, which grows
    # with the machine's load (it once read 41 MB for 36 MB needed).
    untrusted = on_disk - result.resumed_from
    assert untrusted <= connections * 2 * MARK_BYTES, (untrusted, again, on_disk)
    assert again >= asset.size - result.resumed_from  # nothing trusted went unfetched
    assert sorted(os.listdir(out)) == ["asset.bin"]


@pytestmark_marks
@pytest.mark.parametrize("damage", ["tail lost", "another boot"])
async def test_a_mark_the_part_or_the_boot_does_not_back_is_ignored(served, out, damage):
    """Bytes under a mark gone (or a reboot since): the resume goes back to the checkpoint
    and the file still comes out right, with no sha256 to catch a wrong tail."""
    asset = make_asset(served, "asset.bin", 32 * MIB, seed=83)
    async with DevServer(served, rate_per_connection=4 * MIB) as server:
        request = request_for(server, asset, out, sha256=None, connections=1)
        await _kill_after(request, 6 * MIB)
        checkpoint = json.loads((out / "asset.bin.part.json").read_text())["bytes"]
        staging = out / "asset.bin.part"
        mark = _read_mark(staging)
        assert mark["bytes"] > checkpoint, "the kill came before any mark beyond the checkpoint"
        if damage == "tail lost":
            start = max(checkpoint, mark["bytes"] - TAIL)
            with open(staging, "r+b") as part:
                part.seek(start)
                part.write(bytes(mark["bytes"] - start))
        else:
            _mark_from_another_boot(staging)
        server.rate_per_connection = None
        async with Engine(retry=FAST_RETRY) as engine:
            result = await engine.fetch(request)
    assert result.ok, result.error
    assert result.resumed_from == checkpoint
    assert sha256_of(out / "asset.bin") == asset.sha256
    assert sorted(os.listdir(out)) == ["asset.bin"]
