"""Small files of a known size: one GET, the body checked in memory, published in a batch.

A file of at most ``SMALL_FILE`` bytes whose size is pinned needs none of what makes a
large download resumable: no ``.part`` while it transfers, no state sidecar, no progress
marks, no segments. Its body is read whole into memory (never more than its size: a
longer body is cut off, the endless-data defence), its exact length is checked here, and
:meth:`~orchestrator.engine.commit.GroupCommit.publish_verified` checks its sha256 and
makes it durable at its destination with many others (write the staging file, sync,
rename, sync). A killed process loses at most the bytes in memory: the destination only
ever receives a verified, synced file, and the next run fetches the file again.
"""

from __future__ import annotations

import aiohttp
from yarl import URL

from orchestrator.engine.context import EngineContext
from orchestrator.engine.http import open_response
from orchestrator.engine.ranges import Action, decide
from orchestrator.engine.request import DownloadRequest
from orchestrator.errors import DownloadError, EndlessBody, ErrorCode

SMALL_FILE = 1 << 20
_NO_HEADERS: dict[str, str] = {}


def is_small(request: DownloadRequest) -> bool:
    """Whether ``request`` takes the in-memory path: a whole file of a pinned small size,
    on one connection, within its ``max_size``."""
    size = request.size
    return (size is not None and size <= SMALL_FILE and request.byte_range is None
            and request.connections in (None, 1)
            and (request.max_size is None or size <= request.max_size))


async def fetch_small(request: DownloadRequest, context: EngineContext,
                      url: URL | None = None) -> bytes:
    """The body of ``request`` (exactly ``request.size`` bytes), or a DownloadError.

    A 206 to this request without a Range is taken only when it covers the file from its
    first byte (:func:`~orchestrator.engine.ranges.decide`); any declared length other
    than the size fails at once. With a pinned sha256, the bytes of a body that goes on
    past the size are kept up to it, for the sha256 to decide on. ``url`` is
    ``request.url`` already parsed.
    """
    size = request.size
    assert size is not None
    response, final_url = await open_response(
        context.session, url or request.url, _NO_HEADERS, allowed_hosts=request.allowed_hosts,
        credentials=context.credentials, scope=request.auth_scope, key=request.state_key)
    try:
        answer = decide(response.status, response.headers, str(final_url), None, size)
        if answer.action is not Action.WRITE:
            raise answer.error or DownloadError(
                f"unexpected HTTP {response.status} from {final_url}",
                ErrorCode.BAD_SERVER_ANSWER, transient=True)
        if answer.total is not None and answer.total != size:
            raise DownloadError(f"{request.url} is {answer.total} bytes, expected {size}",
                                ErrorCode.SIZE_MISMATCH)
        body = await _read_at_most(response, size)
    except BaseException:
        response.close()
        raise
    if len(body) < size:
        raise DownloadError(f"{final_url} ended after {len(body)} of {size} bytes",
                            ErrorCode.NETWORK_ERROR, transient=True)
    if len(body) > size:
        if request.sha256 is None:
            raise EndlessBody(str(final_url), size)
        return body[:size]
    return body


async def _read_at_most(response: aiohttp.ClientResponse, size: int) -> bytes:
    """The body, or its first bytes past ``size`` (the connection is then closed)."""
    content = response.content
    chunks: list[bytes] = []
    received = 0
    while chunk := await content.readany():
        chunks.append(chunk)
        received += len(chunk)
        if received > size:
            response.close()
            return b"".join(chunks)
    response.release()
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
