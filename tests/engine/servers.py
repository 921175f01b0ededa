"""Small aiohttp servers for redirect and credential scenarios the DevServer does not cover."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web


@asynccontextmanager
async def serve(routes: dict[str, web.Handler]) -> AsyncIterator[tuple[str, list[dict]]]:
    """Serve ``routes`` on 127.0.0.1; yields the base URL and a log of request headers."""
    seen: list[dict] = []

    @web.middleware
    async def record(request: web.Request, handler: web.Handler) -> web.StreamResponse:
        seen.append({"path": request.path, **dict(request.headers)})
        return await handler(request)

    app = web.Application(middlewares=[record])
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


def basic_protected(body: bytes, user: str, password: str) -> web.Handler:
    """A handler that wants HTTP Basic credentials ``user``/``password``."""
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    async def handler(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != expected:
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="assets"'})
        return web.Response(body=body)

    return handler


def redirect_to(location: str) -> web.Handler:
    async def handler(request: web.Request) -> web.Response:
        raise web.HTTPFound(location)

    return handler


def endless_chunked(head: bytes = b"{", chunk: int = 64 << 10,
                    pause: float = 0.0) -> web.Handler:
    """A body with no length that never ends (chunked), ignoring any Range header;
    ``pause`` seconds between chunks let a test watch the file grow."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=200)
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(head)
        filler = b" " * chunk
        while True:
            await response.write(filler)
            if pause:
                await asyncio.sleep(pause)

    return handler


def shifted_range(data: bytes, shift: int) -> web.Handler:
    """Answers ``Range: bytes=a-b`` with a 206 for bytes a+shift..b+shift of ``data``
    (body and Content-Range agreeing): a server, or a cache, serving the wrong bytes."""

    async def handler(request: web.Request) -> web.Response:
        first, _, last = request.headers.get("Range", "").removeprefix("bytes=").partition("-")
        start = int(first) + shift
        end = min(len(data), (int(last) if last else len(data) - 1) + shift + 1)
        return web.Response(status=206, body=data[start:end], headers={
            "Content-Range": f"bytes {start}-{end - 1}/{len(data)}", "ETag": '"fixed"',
            "Accept-Ranges": "bytes"})

    return handler
