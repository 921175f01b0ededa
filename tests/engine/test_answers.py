"""Misbehaving servers the DevServer does not imitate: wrong ranges, no length, no ranges."""

from __future__ import annotations

import hashlib
import random

from aiohttp import web

from orchestrator.engine import DownloadRequest, Engine
from orchestrator.errors import ErrorCode
from tests.engine.conftest import FAST_RETRY
from tests.engine.servers import serve

DATA = random.Random(7).randbytes(9 << 20)
SHA = hashlib.sha256(DATA).hexdigest()


async def _wrong_offset(request: web.Request) -> web.Response:
    """Answers every range with 206 from byte 0 (a broken cache), claiming the asked range."""
    if "Range" not in request.headers:
        return web.Response(body=DATA, headers={"Accept-Ranges": "bytes"})
    return web.Response(status=206, body=DATA[:1024],
                        headers={"Content-Range": f"bytes 0-1023/{len(DATA)}"})


async def _chunked(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    for start in range(0, len(DATA), 1 << 20):
        await response.write(DATA[start:start + (1 << 20)])
    await response.write_eof()
    return response


async def _no_ranges(request: web.Request) -> web.Response:
    return web.Response(body=DATA)


async def test_206_at_the_wrong_offset_is_never_merged(tmp_path):
    async with serve({"/f": _wrong_offset}) as (base, seen), Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(DownloadRequest(base + "/f", tmp_path / "f", sha256=SHA,
                                                    connections=4))
    assert result.ok, result.error
    assert hashlib.sha256((tmp_path / "f").read_bytes()).hexdigest() == SHA
    assert any("Range" not in headers for headers in seen)


async def test_body_without_length_is_taken_whole_and_pinned_size_checked(tmp_path):
    async with serve({"/f": _chunked}) as (base, _), Engine(retry=FAST_RETRY) as engine:
        whole = await engine.fetch(DownloadRequest(base + "/f", tmp_path / "a"))
        short = await engine.fetch(DownloadRequest(base + "/f", tmp_path / "b",
                                                   size=len(DATA) - 1))
    assert whole.ok and whole.size == len(DATA) and whole.sha256 == SHA
    assert short.error.code == ErrorCode.SIZE_MISMATCH
    assert not (tmp_path / "b").exists() and not (tmp_path / "b.part").exists()


async def test_server_without_ranges_gets_one_connection(tmp_path):
    async with serve({"/f": _no_ranges}) as (base, seen), Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(DownloadRequest(base + "/f", tmp_path / "f", sha256=SHA))
    assert result.ok and len(seen) == 1
