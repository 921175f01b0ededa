"""Disk failures end with DISK_ERROR naming the path, never a half-written destination."""

from __future__ import annotations

import os

import pytest

from orchestrator.engine import SidecarStore
from orchestrator.errors import ErrorCode
from tests.engine.conftest import make_asset, request_for


async def test_unwritable_destination_folder_is_a_disk_error(served, out, server, engine):
    asset = make_asset(served, "asset.bin", 100_000, seed=61)
    blocker = out / "not-a-folder"
    blocker.write_bytes(b"x")
    request = request_for(server, asset, out)
    request = type(request)(request.url, blocker / "asset.bin", size=asset.size)
    result = await engine.fetch(request)
    assert result.error.code == ErrorCode.DISK_ERROR
    assert "not-a-folder" in result.error.message
    assert server.stats.requests == 0


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
async def test_a_full_disk_is_a_disk_error(served, out, server, engine):
    asset = make_asset(served, "asset.bin", 100_000, seed=62)
    os.symlink("/dev/full", out / "asset.bin.part")
    result = await engine.fetch(request_for(server, asset, out))
    assert result.error.code == ErrorCode.DISK_ERROR
    assert "asset.bin.part" in result.error.message
    assert not (out / "asset.bin").exists()


def test_sidecar_save_is_atomic_and_round_trips(tmp_path):
    store = SidecarStore()
    key = str(tmp_path / "file.bin")
    store.save(key, {"url": "u", "segments": [[0, 10, 5]]})
    assert store.load(key) == {"url": "u", "segments": [[0, 10, 5]]}
    assert not (tmp_path / "file.bin.part.json.tmp").exists()
    (tmp_path / "file.bin.part.json").write_text("{broken")
    assert store.load(key) is None
    store.delete(key)
    store.delete(key)
    assert not (tmp_path / "file.bin.part.json").exists()
