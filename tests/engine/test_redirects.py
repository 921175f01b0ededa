"""Redirects: followed by hand, bounded, checked against the allow list at every hop."""

from __future__ import annotations

import pytest
from aiohttp import web
from yarl import URL

from orchestrator.devserver import DevServer
from orchestrator.engine import DownloadRequest, Engine
from orchestrator.engine.http import check_hop
from orchestrator.errors import DownloadError, ErrorCode
from tests.engine.conftest import FAST_RETRY, make_asset, request_for, sha256_of
from tests.engine.servers import redirect_to, serve


async def test_redirect_is_followed_and_state_keeps_the_original_url(served, out):
    asset = make_asset(served, "asset.bin", 100_000, seed=51)
    async with DevServer(served) as dev, \
            serve({"/a": redirect_to(dev.url + "asset.bin")}) as (base, _), \
            Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(
            DownloadRequest(base + "/a", out / "a.bin", sha256=asset.sha256))
    assert result.ok and result.url == base + "/a"
    assert sha256_of(out / "a.bin") == asset.sha256


async def test_redirect_to_a_host_outside_the_allow_list_is_refused(served, out):
    asset = make_asset(served, "asset.bin", 100_000, seed=52)
    async with DevServer(served, faults=["redirect-offsite:1"]) as server, \
            Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(request_for(server, asset, out, allowed_hosts=("127.0.0.1",)))
    assert result.error.code == ErrorCode.SESSION_DOWNLOAD_DISALLOWED_BY_DOMAIN
    assert "localhost" in result.error.message
    assert not (out / "asset.bin").exists()


async def test_first_host_is_checked_too(out):
    async with Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(DownloadRequest("http://127.0.0.1:9/a", out / "a",
                                                    allowed_hosts=("*.example.com",)))
    assert result.error.code == ErrorCode.SESSION_DOWNLOAD_DISALLOWED_BY_DOMAIN


async def test_redirect_loop_ends_with_too_many_redirects(out):
    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async with serve({"/loop": loop}) as (base, seen), Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(DownloadRequest(base + "/loop", out / "x"))
    assert result.error.code == ErrorCode.TOO_MANY_REDIRECTS
    assert len(seen) == 11


def test_https_to_http_is_refused():
    with pytest.raises(DownloadError) as caught:
        check_hop(URL("https://cdn.example.com/a"), URL("http://cdn.example.com/a"), None)
    assert caught.value.code == ErrorCode.INSECURE_REDIRECT
    check_hop(URL("http://cdn.example.com/a"), URL("https://cdn.example.com/a"), None)


def test_non_http_schemes_are_refused():
    with pytest.raises(DownloadError) as caught:
        check_hop(None, URL("file:///etc/passwd"), None)
    assert caught.value.code == ErrorCode.DOWNLOAD_INVALID
