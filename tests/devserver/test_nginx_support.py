"""The nginx fixture helper starts a real nginx that honours ranges, and stops it."""

from __future__ import annotations

import hashlib
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.nginx import nginx_server


@pytest.fixture
def asset(tmp_path: Path) -> tuple[Path, bytes]:
    root = tmp_path / "www"
    root.mkdir()
    data = hashlib.sha256(b"seed").digest() * 4096  # 128 KiB, not compressible by accident
    (root / "asset.bin").write_bytes(data)
    return root, data


def test_nginx_serves_whole_file_and_a_range(tmp_path: Path, asset: tuple[Path, bytes]) -> None:
    root, data = asset
    with nginx_server(root, tmp_path / "nginx") as base:
        assert base.startswith("http://127.0.0.1:") and base.endswith("/")
        with urllib.request.urlopen(base + "asset.bin", timeout=5) as response:
            assert response.status == 200
            assert response.read() == data
        request = urllib.request.Request(base + "asset.bin", headers={"Range": "bytes=100-199"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 206
            assert response.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
            assert response.read() == data[100:200]


def test_nginx_limit_rate_throttles_each_connection(tmp_path: Path,
                                                    asset: tuple[Path, bytes]) -> None:
    root, _ = asset
    data = bytes(range(256)) * 8192  # 2 MiB
    (root / "large.bin").write_bytes(data)
    with nginx_server(root, tmp_path / "nginx", limit_rate="1m") as base:
        started = time.monotonic()
        with urllib.request.urlopen(base + "large.bin", timeout=10) as response:
            assert response.read() == data
        # 2 MiB at 1 MiB/s takes 2 s; socket buffers absorb a first burst, so be generous.
        assert time.monotonic() - started >= 0.6


def test_nginx_stops_when_the_block_ends(tmp_path: Path, asset: tuple[Path, bytes]) -> None:
    root, _ = asset
    with nginx_server(root, tmp_path / "nginx") as base:
        pass
    with pytest.raises(OSError):
        urllib.request.urlopen(base + "asset.bin", timeout=2)
