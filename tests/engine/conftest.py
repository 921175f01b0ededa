"""Fixtures for engine tests: real files in tmp_path served by a real DevServer on 127.0.0.1."""

from __future__ import annotations

import hashlib
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.devserver import DevServer
from orchestrator.engine import DownloadRequest, Engine, RetryPolicy

FAST_RETRY = RetryPolicy(attempts=6, base_delay=0.01, max_delay=2.0)


@dataclass(frozen=True)
class Asset:
    """A file on the server with its pinned size and sha256."""

    name: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def make_asset(root: Path, name: str, size: int, seed: int = 1) -> Asset:
    data = random.Random(seed).randbytes(size)
    (root / name).write_bytes(data)
    return Asset(name, data)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def served(tmp_path: Path) -> Path:
    root = tmp_path / "served"
    root.mkdir()
    return root


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.fixture
def small(served: Path) -> Asset:
    return make_asset(served, "small.bin", 300_000, seed=2)


@pytest.fixture
def large(served: Path) -> Asset:
    return make_asset(served, "large.bin", 12 << 20, seed=3)


@pytest.fixture
async def server(served: Path) -> AsyncIterator[DevServer]:
    async with DevServer(served, seed=0) as running:
        yield running


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    async with Engine(retry=FAST_RETRY) as running:
        yield running


def request_for(server: DevServer, asset: Asset, out: Path, **options: object) -> DownloadRequest:
    """A request with size and sha256 pinned, as the orchestrator makes from a catalog."""
    options.setdefault("size", asset.size)
    options.setdefault("sha256", asset.sha256)
    return DownloadRequest(server.url + asset.name, out / asset.name, **options)
