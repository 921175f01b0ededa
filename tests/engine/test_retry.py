"""Retry policy: backoff with full jitter, transient versus permanent, fail fast in foreground."""

from __future__ import annotations

import random
import socket
import time

from orchestrator.engine import DownloadRequest, Engine, RetryPolicy
from orchestrator.engine.retry import backoff_delay, should_retry
from orchestrator.errors import DownloadError, ErrorCode
from tests.engine.conftest import make_asset, request_for


def test_full_jitter_stays_under_the_exponential_cap():
    policy = RetryPolicy(base_delay=1.0, max_delay=10.0)
    rng = random.Random(0)
    delays = [backoff_delay(attempt, policy, rng=rng) for attempt in range(8) for _ in range(20)]
    assert all(0 <= d <= 10.0 for d in delays)
    assert max(backoff_delay(1, policy, rng=rng) for _ in range(50)) <= 2.0


def test_retry_after_wins_over_jitter_up_to_the_maximum():
    policy = RetryPolicy(base_delay=0.01, max_delay=30.0)
    assert backoff_delay(0, policy, retry_after=7) == 7
    assert backoff_delay(0, policy, retry_after=120) == 30.0


def test_only_transient_errors_are_retried_within_the_attempts():
    transient = DownloadError("reset", ErrorCode.NETWORK_ERROR, transient=True)
    permanent = DownloadError("404", ErrorCode.HTTP_ERROR)
    policy = RetryPolicy(attempts=3)
    assert should_retry(transient, 1, policy) and not should_retry(transient, 2, policy)
    assert not should_retry(permanent, 0, policy)


async def test_404_fails_at_once(served, out, server, engine):
    result = await engine.fetch(DownloadRequest(server.url + "missing.bin", out / "m.bin"))
    assert result.error.code == ErrorCode.HTTP_ERROR and "404" in result.error.message
    assert server.stats.requests == 1
    assert not any(out.iterdir())


async def test_persistent_500_fails_after_the_attempts(served, out):
    from orchestrator.devserver import DevServer

    asset = make_asset(served, "asset.bin", 1000)
    async with DevServer(served, faults=["500:1"]) as server, \
            Engine(retry=RetryPolicy(attempts=3, base_delay=0.01)) as engine:
        result = await engine.fetch(request_for(server, asset, out))
    assert result.error.code == ErrorCode.HTTP_ERROR and "500" in result.error.message
    assert server.stats.requests == 3


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_foreground_fails_fast_when_the_server_is_down(out):
    url = f"http://127.0.0.1:{_closed_port()}/a.bin"
    async with Engine(retry=RetryPolicy(attempts=6, base_delay=5.0)) as engine:
        started = time.monotonic()
        result = await engine.fetch(DownloadRequest(url, out / "a.bin", foreground=True))
    assert result.error.code == ErrorCode.NETWORK_ERROR
    assert time.monotonic() - started < 1.0


async def test_background_retries_when_the_server_is_down(out):
    url = f"http://127.0.0.1:{_closed_port()}/a.bin"
    async with Engine(retry=RetryPolicy(attempts=3, base_delay=0.05)) as engine:
        result = await engine.fetch(DownloadRequest(url, out / "a.bin"))
    assert result.error.code == ErrorCode.NETWORK_ERROR and result.error.transient



async def test_429_with_an_http_date_retry_after_is_honoured(out):
    from email.utils import formatdate

    from aiohttp import web

    from tests.engine.servers import serve

    calls = []

    async def busy_once(request: web.Request) -> web.Response:
        calls.append(time.monotonic())
        if len(calls) == 1:
            when = formatdate(time.time() + 2, usegmt=True)  # whole seconds: 1-2 s away
            return web.Response(status=429, headers={"Retry-After": when})
        return web.Response(body=b"x" * 1000)

    async with serve({"/f": busy_once}) as (base, _), \
            Engine(retry=RetryPolicy(base_delay=0.01)) as engine:
        result = await engine.fetch(DownloadRequest(base + "/f", out / "f"))
    assert result.ok and len(calls) == 2
    assert calls[1] - calls[0] >= 0.9
