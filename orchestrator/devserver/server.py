"""The development asset server: files under a folder over HTTP, with Range, ETag and faults.

It exists for two readers: developers who point an app's ``manifestURL`` at
their machine, and tests that need a server misbehaving in precise,
countable ways (see ``faults.py``).
"""

from __future__ import annotations

import hmac
import mimetypes
import os
import sys
import weakref
from asyncio import BaseTransport
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from aiohttp import web

from orchestrator.devserver.faults import Fault, FaultPicker
from orchestrator.devserver.ranges import (
    ByteRange,
    Validators,
    if_range_allows,
    not_modified,
    parse_range,
)
from orchestrator.devserver.sending import SLOW_RATE, BodyPlan, TokenBucket, send_body
from orchestrator.errors import Unsatisfiable

_COMPRESSED_TYPES = {"gzip": "application/gzip", "bzip2": "application/x-bzip2",
                     "xz": "application/x-xz", "br": "application/x-brotli"}


@dataclass
class DevServerStats:
    """Counters that tests assert on.

    Body bytes count what was handed to the socket. ``requests`` counts a
    request when it arrives, ``status_counts`` when its response has ended,
    so a test can wait for a slow or endless body to be over. ``range_headers``
    keeps the path and ``Range`` header of every range request, in order.
    """

    requests: int = 0
    requests_by_path: Counter[str] = field(default_factory=Counter)
    body_bytes_sent: int = 0
    bytes_by_path: Counter[str] = field(default_factory=Counter)
    range_requests: int = 0
    range_headers: list[tuple[str, str]] = field(default_factory=list)
    faults_fired: Counter[str] = field(default_factory=Counter)
    status_counts: Counter[int] = field(default_factory=Counter)

    def count_body(self, path: str, size: int) -> None:
        self.body_bytes_sent += size
        self.bytes_by_path[path] += size


def content_type(path: Path) -> str:
    """The media type by extension; compressed files keep their own type, never an encoding."""
    media_type, encoding = mimetypes.guess_type(path.name)
    if encoding:
        return _COMPRESSED_TYPES.get(encoding, "application/octet-stream")
    return media_type or "application/octet-stream"


class DevServer:
    """Serve the files under ``root`` on ``host``:``port`` (0 picks a free port).

    ``rate_per_connection`` caps each response in bytes per second; ``faults``
    are fault specs (see ``parse_fault``); ``seed`` makes shares repeatable.
    ``bearer_token``, when set, is required of every request (``Authorization:
    Bearer TOKEN``); others get a 401 challenge, as a CDN behind token auth does.
    Use ``async with`` or ``start()``/``stop()``.
    """

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0, *,
                 rate_per_connection: int | None = None, faults: Sequence[str | Fault] = (),
                 seed: int = 0, verbose: bool = False,
                 bearer_token: str | None = None) -> None:
        self.root = Path(root).resolve()
        self.host = host
        self.port = port
        self.rate_per_connection = rate_per_connection
        self.verbose = verbose
        self.bearer_token = bearer_token
        self.stats = DevServerStats()
        self._picker = FaultPicker(faults, seed)
        self._generations: Counter[str] = Counter()
        self._buckets: weakref.WeakKeyDictionary[BaseTransport, TokenBucket] = \
            weakref.WeakKeyDictionary()
        self._runner: web.ServerRunner | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def faults(self) -> tuple[Fault, ...]:
        return self._picker.faults

    def set_faults(self, faults: Sequence[str | Fault]) -> None:
        """Swap the faults while running; once-per-path memory starts afresh."""
        self._picker.set_faults(faults)

    async def start(self) -> None:
        """Bind and start serving; raises OSError when the address is taken."""
        server = web.Server(self._handle, access_log=None)
        runner = web.ServerRunner(server, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop listening and end open connections (slow or endless bodies included)."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> DevServer:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    def offsite_host(self) -> str:
        """Another name for this same server, for the redirect-offsite fault.

        Always a loopback name: the fault tests host checks, never the network.
        """
        return "localhost" if self.host in ("127.0.0.1", "::1") else "127.0.0.1"

    def _resolve(self, url_path: str) -> Path | None:
        """The file a URL path names, or None when missing, a folder, or outside root."""
        try:
            candidate = (self.root / url_path.lstrip("/")).resolve()
        except (OSError, ValueError):
            return None
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None
        return candidate

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path
        self.stats.requests += 1
        self.stats.requests_by_path[path] += 1
        sent_before = self.stats.bytes_by_path[path]
        response = await self._answer(request, path)
        self.stats.status_counts[response.status] += 1
        if self.verbose:
            sent = self.stats.bytes_by_path[path] - sent_before
            print(f'{request.remote} "{request.method} {request.raw_path}" {response.status} '
                  f'{sent}', file=sys.stderr, flush=True)
        return response

    async def _answer(self, request: web.BaseRequest, path: str) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            return web.Response(status=405, headers={"Allow": "GET, HEAD"})
        if self.bearer_token is not None and not hmac.compare_digest(
                request.headers.get("Authorization", ""), f"Bearer {self.bearer_token}"):
            return web.Response(status=401, text="a bearer token is required\n", headers={
                "WWW-Authenticate": 'Bearer realm="bgassets-serve"'})
        file = self._resolve(path)
        if file is None:
            return web.Response(status=404, text=f"{path} not found\n")
        is_range = "Range" in request.headers
        if is_range:
            self.stats.range_requests += 1
            self.stats.range_headers.append((path, request.headers["Range"]))
        fault = None
        if request.method == "GET":
            fault = self._picker.pick(path, is_range=is_range,
                                      seen_before=self.stats.requests_by_path[path] > 1)
        if fault is not None:
            self.stats.faults_fired[fault] += 1
            early = self._early_fault(request, fault)
            if early is not None:
                return early
        return await self._serve_file(request, path, file, fault)

    def _early_fault(self, request: web.BaseRequest, fault: str) -> web.Response | None:
        """Faults answered without the file: errors and the off-site redirect."""
        if fault == "500":
            return web.Response(status=500, text="injected fault: 500\n")
        if fault == "503":
            return web.Response(status=503, headers={"Retry-After": "1"},
                                text="injected fault: 503\n")
        if fault == "redirect-offsite":
            location = f"http://{self.offsite_host()}:{self.port}{request.raw_path}"
            return web.Response(status=302, headers={"Location": location})
        if fault == "etag-change":
            self._generations[request.path] += 1
        return None

    async def _serve_file(self, request: web.BaseRequest, path: str, file: Path,
                          fault: str | None) -> web.StreamResponse:
        with open(file, "rb", buffering=0) as handle:
            status = os.fstat(handle.fileno())
            size = status.st_size - 1 if fault == "wrong-length" and status.st_size else \
                status.st_size
            validators = Validators.for_file(size, status.st_mtime_ns, self._generations[path])
            headers = {"ETag": validators.etag, "Last-Modified": validators.last_modified_http,
                       "Accept-Ranges": "bytes"}
            if fault is None and not_modified(dict(request.headers), validators):
                return web.Response(status=304, headers=headers)
            try:
                byte_range = self._chosen_range(request, size, validators, fault)
            except Unsatisfiable:
                headers["Content-Range"] = f"bytes */{size}"
                return web.Response(status=416, headers=headers)
            response = web.StreamResponse(status=200 if byte_range is None else 206,
                                          headers=headers)
            response.content_type = content_type(file)
            plan = self._body_plan(byte_range, size, fault)
            if byte_range is not None:
                response.headers["Content-Range"] = byte_range.content_range
            if plan.ending != "endless":
                response.content_length = (byte_range.length if byte_range else size)
            await response.prepare(request)
            if request.method == "GET":
                await send_body(request, response, handle.fileno(), plan,
                                self._bucket(request, fault),
                                lambda sent: self.stats.count_body(path, sent))
            return response

    def _chosen_range(self, request: web.BaseRequest, size: int, validators: Validators,
                      fault: str | None) -> ByteRange | None:
        if fault == "ignore-range":
            return None
        byte_range = parse_range(request.headers.get("Range"), size)
        if byte_range is not None and not if_range_allows(request.headers.get("If-Range"),
                                                          validators):
            return None
        return byte_range

    def _bucket(self, request: web.BaseRequest, fault: str | None) -> TokenBucket | None:
        """The slow fault's own bucket, else the connection's, else None (full speed)."""
        if fault == "slow":
            return TokenBucket(SLOW_RATE)
        transport = request.transport
        if self.rate_per_connection is None or transport is None:
            return None
        bucket = self._buckets.get(transport)
        if bucket is None:
            bucket = self._buckets[transport] = TokenBucket(self.rate_per_connection)
        return bucket

    @staticmethod
    def _body_plan(byte_range: ByteRange | None, size: int, fault: str | None) -> BodyPlan:
        offset, length = (byte_range.first, byte_range.length) if byte_range else (0, size)
        if fault in ("reset", "truncate"):
            return BodyPlan(offset, length // 2, "reset" if fault == "reset" else "close")
        if fault == "endless":
            return BodyPlan(offset, length, "endless")
        return BodyPlan(offset, length, "complete")
