"""Credentials: asked once per origin on a Basic challenge, never sent to another origin."""

from __future__ import annotations

import hashlib

from orchestrator.engine import DownloadRequest, Engine
from orchestrator.errors import ErrorCode
from tests.engine.conftest import FAST_RETRY
from tests.engine.servers import basic_protected, redirect_to, serve

BODY = b"secret asset" * 1000


async def test_provider_is_asked_once_per_origin(out):
    asked: list[tuple[str, str | None]] = []

    async def provider(origin: str, realm: str | None) -> tuple[str, str]:
        asked.append((origin, realm))
        return "alice", "s3cret"

    async with serve({"/a": basic_protected(BODY, "alice", "s3cret"),
                      "/b": basic_protected(BODY, "alice", "s3cret")}) as (base, _), \
            Engine(retry=FAST_RETRY, credentials=provider) as engine:
        first = await engine.fetch(DownloadRequest(base + "/a", out / "a"))
        second = await engine.fetch(DownloadRequest(base + "/b", out / "b"))
    assert first.ok and second.ok
    assert first.sha256 == hashlib.sha256(BODY).hexdigest()
    assert asked == [(base, "assets")]


async def test_rejected_credentials_fail_with_1025(out):
    async def provider(origin: str, realm: str | None) -> tuple[str, str]:
        return "alice", "wrong"

    async with serve({"/a": basic_protected(BODY, "alice", "s3cret")}) as (base, seen), \
            Engine(retry=FAST_RETRY, credentials=provider) as engine:
        result = await engine.fetch(DownloadRequest(base + "/a", out / "a"))
    assert result.error.code == ErrorCode.AUTHENTICATION_FAILED
    assert len(seen) == 2
    assert not (out / "a").exists()


async def test_no_provider_fails_with_1025(out):
    async with serve({"/a": basic_protected(BODY, "alice", "s3cret")}) as (base, _), \
            Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(DownloadRequest(base + "/a", out / "a"))
    assert result.error.code == ErrorCode.AUTHENTICATION_FAILED


async def test_credentials_never_follow_a_redirect_to_another_origin(out):
    async def provider(origin: str, realm: str | None) -> tuple[str, str]:
        return "alice", "s3cret"

    async def plain(request):
        from aiohttp import web

        return web.Response(body=BODY)

    async with serve({"/file": plain}) as (other, other_seen), \
            serve({"/a": basic_protected(BODY, "alice", "s3cret"),
                   "/moved": redirect_to(other + "/file")}) as (base, _), \
            Engine(retry=FAST_RETRY, credentials=provider) as engine:
        assert (await engine.fetch(DownloadRequest(base + "/a", out / "a"))).ok
        result = await engine.fetch(DownloadRequest(base + "/moved", out / "b"))
    assert result.ok
    assert other_seen and all("Authorization" not in seen for seen in other_seen)
