"""Challenges: asked once per protection space, answered Basic or Bearer, on a 401 or a
proxy's 407, and never sent to another origin or to another scope's requests."""

from __future__ import annotations

import hashlib

from aiohttp import web

from orchestrator.engine import DownloadRequest, Engine
from orchestrator.engine.http import offered, parse_challenges
from orchestrator.errors import ErrorCode
from orchestrator.model.auth import (
    AuthScheme,
    Challenge,
    ChallengeDisposition,
    Credential,
)
from tests.engine.conftest import FAST_RETRY
from tests.engine.servers import basic_protected, redirect_to, serve

BODY = b"secret asset" * 1000


def bearer_protected(body: bytes, token: str, *, proxy: bool = False) -> web.Handler:
    """A handler that wants ``Bearer token`` (as a proxy's 407 when ``proxy``)."""
    header = "Proxy-Authorization" if proxy else "Authorization"

    async def handler(request: web.Request) -> web.Response:
        if request.headers.get(header) != f"Bearer {token}":
            if proxy:
                return web.Response(status=407, headers={
                    "Proxy-Authenticate": 'Bearer realm="gateway"'})
            return web.Response(status=401, headers={
                "WWW-Authenticate": 'Negotiate, Bearer realm="cdn", error="invalid_token"'})
        return web.Response(body=body)

    return handler


async def test_provider_is_asked_once_per_protection_space(out):
    asked: list[Challenge] = []

    async def provider(challenge: Challenge) -> Credential:
        asked.append(challenge)
        return Credential.basic("alice", "s3cret")

    async with serve({"/a": basic_protected(BODY, "alice", "s3cret"),
                      "/b": basic_protected(BODY, "alice", "s3cret")}) as (base, seen), \
            Engine(retry=FAST_RETRY, credentials=provider) as engine:
        first = await engine.fetch(DownloadRequest(base + "/a", out / "a", key="k-a"))
        second = await engine.fetch(DownloadRequest(base + "/b", out / "b"))
    assert first.ok and second.ok
    assert first.sha256 == hashlib.sha256(BODY).hexdigest()
    assert [(c.origin, c.scheme, c.realm, c.proxy, c.key) for c in asked] == [
        (base, AuthScheme.BASIC, "assets", False, "k-a")]
    assert len(seen) == 3  # /a unauthenticated, /a answered, /b sent at once


async def test_bearer_is_answered_among_schemes_bgassets_cannot(out):
    async def provider(challenge: Challenge) -> Credential:
        assert challenge.scheme is AuthScheme.BEARER and challenge.realm == "cdn"
        return Credential.bearer("tok-1")

    async with serve({"/a": bearer_protected(BODY, "tok-1")}) as (base, _), \
            Engine(retry=FAST_RETRY, credentials=provider) as engine:
        result = await engine.fetch(DownloadRequest(base + "/a", out / "a"))
    assert result.ok and (out / "a").read_bytes() == BODY


async def test_a_proxy_407_is_answered_in_proxy_authorization(out):
    asked: list[Challenge] = []

    async def provider(challenge: Challenge) -> Credential:
        asked.append(challenge)
        return Credential.bearer("gate")

    async with serve({"/a": bearer_protected(BODY, "gate", proxy=True)}) as (base, seen), \
            Engine(retry=FAST_RETRY, credentials=provider) as engine:
        result = await engine.fetch(DownloadRequest(base + "/a", out / "a"))
    assert result.ok
    assert [c.proxy for c in asked] == [True]
    assert "Authorization" not in seen[-1]


async def test_rejected_credentials_fail_with_1025_and_are_asked_again_later(out):
    asked: list[str] = []

    async def provider(challenge: Challenge) -> Credential:
        asked.append(challenge.origin)
        return Credential.basic("alice", "wrong")

    async with serve({"/a": basic_protected(BODY, "alice", "s3cret")}) as (base, seen), \
            Engine(retry=FAST_RETRY, credentials=provider) as engine:
        result = await engine.fetch(DownloadRequest(base + "/a", out / "a"))
        again = await engine.fetch(DownloadRequest(base + "/a", out / "b"))
    assert result.error.code == ErrorCode.AUTHENTICATION_FAILED
    assert "rejected the credentials" in result.error.message
    assert "wrong" not in result.error.message
    assert again.error.code == ErrorCode.AUTHENTICATION_FAILED
    assert len(asked) == 2 and len(seen) == 4
    assert not (out / "a").exists()


async def test_no_provider_a_declined_and_a_cancelled_challenge_fail_with_1025(out):
    async def cancel(challenge: Challenge) -> ChallengeDisposition:
        return ChallengeDisposition.CANCEL

    async def decline(challenge: Challenge) -> None:
        return None

    routes = {"/a": basic_protected(BODY, "alice", "s3cret")}
    messages = []
    for provider in (None, decline, cancel):
        async with serve(routes) as (base, _), \
                Engine(retry=FAST_RETRY, credentials=provider) as engine:
            result = await engine.fetch(DownloadRequest(base + "/a", out / "a"))
        assert result.error.code == ErrorCode.AUTHENTICATION_FAILED
        messages.append(result.error.message)
    assert "nobody answered" in messages[0] and "nobody answered" in messages[1]
    assert "cancelled" in messages[2] and "realm 'assets'" in messages[2]


async def test_a_scheme_bgassets_cannot_answer_names_what_was_offered(out):
    async def negotiate(request: web.Request) -> web.Response:
        return web.Response(status=401, headers={"WWW-Authenticate": "Negotiate"})

    async def provider(challenge: Challenge) -> Credential:
        raise AssertionError("never asked")

    async with serve({"/a": negotiate}) as (base, _), \
            Engine(retry=FAST_RETRY, credentials=provider) as engine:
        result = await engine.fetch(DownloadRequest(base + "/a", out / "a"))
    assert result.error.code == ErrorCode.AUTHENTICATION_FAILED
    assert "negotiate" in result.error.message


async def test_credentials_never_follow_a_redirect_to_another_origin(out):
    async def provider(challenge: Challenge) -> Credential:
        return Credential.basic("alice", "s3cret")

    async def plain(request: web.Request) -> web.Response:
        return web.Response(body=BODY)

    async with serve({"/file": plain}) as (other, other_seen), \
            serve({"/a": basic_protected(BODY, "alice", "s3cret"),
                   "/moved": redirect_to(other + "/file")}) as (base, _), \
            Engine(retry=FAST_RETRY, credentials=provider) as engine:
        assert (await engine.fetch(DownloadRequest(base + "/a", out / "a"))).ok
        result = await engine.fetch(DownloadRequest(base + "/moved", out / "b"))
    assert result.ok
    assert other_seen and all("Authorization" not in seen for seen in other_seen)


async def test_one_scope_never_sends_another_scopes_credentials(out):
    asked: list[str | None] = []

    async def provider(challenge: Challenge) -> Credential | None:
        asked.append(challenge.scope)
        return Credential.basic("alice", "s3cret") if challenge.scope == "app.a" else None

    async with serve({"/a": basic_protected(BODY, "alice", "s3cret")}) as (base, seen), \
            Engine(retry=FAST_RETRY, credentials=provider) as engine:
        mine = await engine.fetch(DownloadRequest(base + "/a", out / "a", auth_scope="app.a"))
        theirs = await engine.fetch(DownloadRequest(base + "/a", out / "b", auth_scope="app.b"))
        engine.credentials.forget("app.a")
        again = await engine.fetch(DownloadRequest(base + "/a", out / "c", auth_scope="app.a"))
    assert mine.ok and again.ok
    assert theirs.error.code == ErrorCode.AUTHENTICATION_FAILED
    assert asked == ["app.a", "app.b", "app.a"]
    assert "Authorization" not in seen[2]  # app.b's first request went out bare


def test_challenge_headers_are_parsed_with_quoted_commas_and_several_schemes():
    values = ['Newauth realm="apps", type=1, title="Login to \\"apps\\", please"',
              'Basic realm="simple, quoted"', "Bearer"]
    parsed = parse_challenges(values)
    assert [name for name, _ in parsed] == ["newauth", "basic", "bearer"]
    assert parsed[0][1]["title"] == 'Login to \\"apps\\", please'
    assert parsed[1][1] == {"realm": "simple, quoted"}
    assert offered(values) == (AuthScheme.BASIC, "simple, quoted")
    assert offered(["Digest realm=x"]) is None
