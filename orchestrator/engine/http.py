"""The HTTP edge: one aiohttp session per Engine, redirects and credentials handled by hand.

Redirects are followed here (not by aiohttp) so that every hop is checked against the
host allow list, https is never downgraded, and credentials never leave their origin.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping

import aiohttp
from yarl import URL

from orchestrator.engine.ranges import REDIRECT_STATUSES
from orchestrator.engine.request import CredentialProvider
from orchestrator.errors import DownloadError, ErrorCode
from orchestrator.model.auth import (
    AuthScheme,
    Challenge,
    ChallengeAnswer,
    ChallengeDisposition,
    Credential,
)
from orchestrator.model.hosts import host_allowed

MAX_REDIRECTS = 10
# aiohttp stops reading a response's socket once twice this much is buffered unread. What
# is buffered is lost to a kill -9 (never on disk), so it counts against the resume bound;
# 1 GiB from nginx took 2.17 s with 256 KiB and 2.39 s with 4 MiB (medians of 5).
READ_BUFFER = 256 << 10
# The header a challenge comes in, and the one its answer goes back in (by "is a proxy").
CHALLENGE_HEADER = {False: "WWW-Authenticate", True: "Proxy-Authenticate"}
AUTHORIZATION = {False: "Authorization", True: "Proxy-Authorization"}


def make_session(connections_per_host: int) -> aiohttp.ClientSession:
    """The engine's session: keep-alive, per-host caps, no decompression, no total timeout.

    aiohttp's default ClientTimeout ends any request after 300 s, which kills large
    downloads; a per-read timeout catches stalled servers instead.
    """
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=connections_per_host,
                                     enable_cleanup_closed=True)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=30)
    return aiohttp.ClientSession(
        connector=connector, timeout=timeout, auto_decompress=False,
        headers={"Accept-Encoding": "identity", "User-Agent": "bgassets"},
        read_bufsize=READ_BUFFER)


def origin_of(url: URL) -> str:
    """``scheme://host:port``, the unit credentials are scoped to."""
    return f"{url.scheme}://{url.host}:{url.port}"


Space = tuple[str | None, str, AuthScheme, str | None, bool]
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_PARAM = re.compile(rf'\s*({_TOKEN})\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*')
_SCHEME = re.compile(rf"\s*({_TOKEN})(?:\s+(.*))?", re.DOTALL)


def _split_commas(value: str) -> list[str]:
    """``value`` cut at the commas outside quoted strings."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def parse_challenges(values: Iterable[str]) -> list[tuple[str, dict[str, str]]]:
    """The challenges of ``WWW-Authenticate`` (or ``Proxy-Authenticate``) header values:
    each scheme, lower case, with its parameters (names lower case)."""
    challenges: list[tuple[str, dict[str, str]]] = []
    for value in values:
        for part in _split_commas(value):
            if not part.strip():
                continue
            param = _PARAM.fullmatch(part)
            if param is not None and challenges:
                challenges[-1][1][param.group(1).lower()] = (
                    param.group(2) if param.group(2) is not None else param.group(3))
                continue
            scheme = _SCHEME.fullmatch(part)
            if scheme is None:
                continue
            params: dict[str, str] = {}
            rest = _PARAM.fullmatch(scheme.group(2) or "")
            if rest is not None:
                params[rest.group(1).lower()] = (
                    rest.group(2) if rest.group(2) is not None else rest.group(3))
            challenges.append((scheme.group(1).lower(), params))
    return challenges


def offered(values: Iterable[str]) -> tuple[AuthScheme, str | None] | None:
    """The first scheme bgassets answers among those offered, with its realm."""
    for name, params in parse_challenges(values):
        if name in AuthScheme.__members__.values():
            return AuthScheme(name), params.get("realm")
    return None


class CredentialCache:
    """Answers per protection space (scope, origin, scheme, realm, proxy): the provider
    is asked at most once per space, and an origin is sent only its own answers."""

    def __init__(self, provider: CredentialProvider | None) -> None:
        self.provider = provider
        self.answers: dict[Space, str | None] = {}
        self.latest: dict[tuple[str | None, str, bool], str] = {}
        self.locks: dict[Space, asyncio.Lock] = {}

    def headers(self, scope: str | None, origin: str,
                headers: Mapping[str, str]) -> Mapping[str, str]:
        """``headers`` plus the answers already known for ``origin`` in ``scope``."""
        auth = self.latest.get((scope, origin, False))
        proxy = self.latest.get((scope, origin, True))
        if auth is None and proxy is None:
            return headers
        extra = {AUTHORIZATION[False]: auth, AUTHORIZATION[True]: proxy}
        return {**headers, **{name: value for name, value in extra.items() if value}}

    async def ask(self, challenge: Challenge) -> tuple[str | None, ChallengeAnswer]:
        """The header value answering ``challenge`` (None: nobody did), and the answer."""
        space = challenge.protection_space
        async with self.locks.setdefault(space, asyncio.Lock()):
            if space in self.answers:
                header = self.answers[space]
                return header, ChallengeDisposition.USE_CREDENTIAL if header else None
            answer = await self.provider(challenge) if self.provider else None
            header = answer.header() if isinstance(answer, Credential) else None
            self.answers[space] = header
        if header:
            self.latest[(challenge.scope, challenge.origin, challenge.proxy)] = header
        return header, answer

    def rejected(self, challenge: Challenge, header: str) -> bool:
        """Forget ``header`` if it is this space's answer (a later download asks again);
        False when it answered another realm of the origin and this one was never asked."""
        space = challenge.protection_space
        if self.answers.get(space) != header:
            return False
        del self.answers[space]
        self.latest.pop((challenge.scope, challenge.origin, challenge.proxy), None)
        return True

    def forget(self, scope: str | None) -> None:
        """Drop every answer of ``scope``: whoever answers for it changed."""
        for space in [space for space in self.answers if space[0] == scope]:
            del self.answers[space]
        for key in [key for key in self.latest if key[0] == scope]:
            del self.latest[key]


def check_hop(current: URL | None, target: URL, allowed_hosts: tuple[str, ...] | None) -> None:
    """Refuse a hop to a host outside the allow list (202) or from https to http (1024)."""
    if target.scheme not in ("http", "https") or not target.host:
        raise DownloadError(f"cannot download {target}: only http and https URLs are supported",
                            ErrorCode.DOWNLOAD_INVALID)
    if not host_allowed(target.host, allowed_hosts):
        raise DownloadError(f"host {target.host} is not in the allowed domains ({target})",
                            ErrorCode.SESSION_DOWNLOAD_DISALLOWED_BY_DOMAIN)
    if current is not None and current.scheme == "https" and target.scheme == "http":
        raise DownloadError(f"refusing redirect from {current} to insecure {target}",
                            ErrorCode.INSECURE_REDIRECT)


async def _authenticate(response: aiohttp.ClientResponse, url: URL, sent: Mapping[str, str],
                        credentials: CredentialCache, scope: str | None,
                        key: str | None) -> None:
    """Answer a 401 or 407: ask for credentials, or fail with 1025 saying why not."""
    proxy = response.status == 407
    values = response.headers.getall(CHALLENGE_HEADER[proxy], [])
    response.release()
    scheme = offered(values)
    who = f"the proxy at {url.host}" if proxy else str(url)
    if scheme is None:
        names = ", ".join(name for name, _ in parse_challenges(values)) or "none"
        raise DownloadError(f"{who} asks for authentication bgassets cannot answer "
                            f"(offered: {names}; bgassets answers Basic and Bearer)",
                            ErrorCode.AUTHENTICATION_FAILED)
    challenge = Challenge(str(url), origin_of(url), scheme[0], scheme[1], proxy, key, scope)
    header = sent.get(AUTHORIZATION[proxy])
    if header is not None and credentials.rejected(challenge, header):
        raise DownloadError(f"{who} rejected the credentials given for {challenge.origin}",
                            ErrorCode.AUTHENTICATION_FAILED)
    answer, disposition = await credentials.ask(challenge)
    if answer is None:
        realm = f" (realm {challenge.realm!r})" if challenge.realm else ""
        why = ("the challenge was cancelled" if disposition is ChallengeDisposition.CANCEL
               else "nobody answered the challenge")
        raise DownloadError(f"{who} needs {scheme[0].value.capitalize()} credentials{realm}: "
                            f"{why}", ErrorCode.AUTHENTICATION_FAILED)


async def open_response(session: aiohttp.ClientSession, url: str | URL,
                        headers: Mapping[str, str],
                        *, allowed_hosts: tuple[str, ...] | None,
                        credentials: CredentialCache, scope: str | None = None,
                        key: str | None = None) -> tuple[aiohttp.ClientResponse, URL]:
    """GET ``url`` following up to 10 redirects; returns the final response and its URL.

    A 401 or 407 is answered once per hop (``scope`` and ``key`` say whose download
    asks); each hop carries only the credentials of its own origin.
    """
    target, previous = url if isinstance(url, URL) else URL(url), None
    hops = 0
    while True:
        check_hop(previous, target, allowed_hosts)
        hop_headers = credentials.headers(scope, origin_of(target), headers)
        response = await session.get(target, headers=hop_headers, allow_redirects=False)
        if response.status in (401, 407):
            await _authenticate(response, target, hop_headers, credentials, scope, key)
            continue
        if response.status not in REDIRECT_STATUSES or "Location" not in response.headers:
            return response, target
        location = response.headers["Location"]
        response.release()
        hops += 1
        if hops > MAX_REDIRECTS:
            raise DownloadError(f"more than {MAX_REDIRECTS} redirects from {url}",
                                ErrorCode.TOO_MANY_REDIRECTS)
        try:
            previous, target = target, target.join(URL(location))
        except ValueError as exc:
            raise DownloadError(f"bad redirect Location {location!r} from {target}",
                                ErrorCode.BAD_SERVER_ANSWER) from exc
