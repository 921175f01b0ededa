"""What a failed connection means, in one sentence a person can act on.

aiohttp's exceptions print their internals (``ssl:default``, ``<ContentLengthError:
400, message=...>``, reprs of the OS error they wrap). The engine turns each into a
sentence that says what happened and with which server, so events, the CLI and the
TUI all show the same words.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator

import aiohttp
from aiohttp import http_exceptions
from yarl import URL

_LOOKUP = {socket.EAI_NONAME: "host name not found",
           socket.EAI_AGAIN: "the name server did not answer"}


def server_of(url: str) -> str:
    """``host:port`` of ``url``, the way people name a server."""
    try:
        parsed = URL(url)
    except (TypeError, ValueError):
        return url
    if not parsed.host:
        return url
    return f"{parsed.host}:{parsed.port}" if parsed.port is not None else parsed.host


def os_reason(error: BaseException | None) -> str | None:
    """``connection refused``, ``host name not found``...: the OS's words, in lower case."""
    if isinstance(error, socket.gaierror):
        code = error.errno
        return _LOOKUP.get(code, "host name lookup failed") if isinstance(code, int) \
            else "host name lookup failed"
    code = getattr(error, "errno", None)
    if isinstance(code, int) and code > 0:
        return os.strerror(code).lower()
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then what caused it, then what caused that (each exception once)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _body_failure(exc: aiohttp.ClientPayloadError, server: str) -> str:
    """A body that stopped or came garbled: reset, closed early or malformed."""
    parts = list(_chain(exc))
    # aiohttp names the reset that ended the body only in its message.
    if any(isinstance(part, ConnectionResetError) for part in parts) \
            or "ConnectionResetError" in str(exc):
        return f"the connection to {server} was reset mid-body"
    if any(isinstance(part, http_exceptions.ContentEncodingError) for part in parts):
        return f"{server} sent a body that cannot be decoded"
    incomplete = (http_exceptions.ContentLengthError, http_exceptions.TransferEncodingError)
    if any(isinstance(part, incomplete) for part in parts) or "not completed" in str(exc):
        return f"the server {server} closed the connection mid-body"
    return f"{server} sent a malformed body"


def _connect_failure(exc: aiohttp.ClientConnectorError, server: str) -> str:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"cannot connect to {server}: its TLS certificate is not trusted"
    if isinstance(exc, aiohttp.ClientSSLError):
        return f"cannot connect to {server}: the TLS handshake failed"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"cannot connect to {server}: {os_reason(exc.os_error) or 'host name not found'}"
    reason = os_reason(exc.os_error)
    return f"cannot connect to {server}" + (f": {reason}" if reason else "")


def describe_failure(exc: BaseException, url: str) -> str:
    """One sentence for a client or OS exception met while fetching ``url``.

    Never the exception's own text: aiohttp's is for its developers, not for the
    person looking at a failed download.
    """
    server = server_of(url)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return _connect_failure(exc, server)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return f"timed out connecting to {server}"
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return f"timed out waiting for data from {server}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return f"the server {server} closed the connection without answering"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return _body_failure(exc, server)
    if isinstance(exc, aiohttp.InvalidURL):
        return f"invalid URL {url}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"{server} sent an answer that is not valid HTTP"
    if isinstance(exc, ConnectionResetError):
        return f"the connection to {server} was reset"
    reason = os_reason(exc) if isinstance(exc, OSError) else None
    return f"the connection to {server} failed" + (f": {reason}" if reason else "")
