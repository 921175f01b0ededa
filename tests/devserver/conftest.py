"""A served folder with known bytes, a DevServer on it, and a raw HTTP/1.1 client.

The raw client exists because the faults are about what goes over the wire
(a short body, a reset, bytes beyond the end) which a full client would hide
behind its own exceptions.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.devserver import DevServer

ASSET_SIZE = 1024 * 1024


def asset_bytes(size: int = ASSET_SIZE) -> bytes:
    """Deterministic bytes where every 32-byte block differs, so misplaced ranges show."""
    blocks = (hashlib.sha256(index.to_bytes(4, "big")).digest()
              for index in range(size // 32 + 1))
    return b"".join(blocks)[:size]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "sub").mkdir(parents=True)
    (root / "asset.bin").write_bytes(asset_bytes())
    (root / "hello.txt").write_text("hello, assets\n")
    (root / "sub" / "catalog.json").write_text('{"version": 1, "assets": []}\n')
    (root / "empty.bin").write_bytes(b"")
    (tmp_path / "secret.txt").write_text("outside the root\n")
    return root


@pytest.fixture
async def server(site: Path) -> AsyncIterator[DevServer]:
    async with DevServer(site) as running:
        yield running


@dataclass
class RawResponse:
    """What arrived on the socket: status, headers (lower-case names), body, how it ended."""

    status: int
    headers: dict[str, str]
    body: bytes
    ending: str  # "complete" (Content-Length reached), "eof", "reset" or "limit"


async def raw_get(port: int, path: str, headers: dict[str, str] | None = None, *,
                  method: str = "GET", read_limit: int = 64 * 1024 * 1024) -> RawResponse:
    """One request on a fresh connection; reads until Content-Length, EOF, RST or read_limit.

    Bodies are read as they arrive, chunked framing included, so an endless
    body is visible as more bytes than the file has.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close",
             *(f"{name}: {value}" for name, value in (headers or {}).items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parsed = dict(line.split(": ", 1) for line in header_lines if line)
        response = RawResponse(int(status_line.split()[1]),
                               {name.lower(): value for name, value in parsed.items()}, b"", "")
        expected = int(response.headers.get("content-length", -1))
        if method == "HEAD" or response.status == 304:
            expected = 0
        response.body, response.ending = await _read_body(reader, expected, read_limit)
        return response
    finally:
        writer.transport.abort()


async def _read_body(reader: asyncio.StreamReader, expected: int,
                     read_limit: int) -> tuple[bytes, str]:
    body = bytearray()
    while expected < 0 or len(body) < expected:
        if len(body) >= read_limit:
            return bytes(body), "limit"
        try:
            chunk = await reader.read(256 * 1024)
        except ConnectionResetError:
            return bytes(body), "reset"
        if not chunk:
            return bytes(body), "eof"
        body += chunk
    return bytes(body), "complete"
