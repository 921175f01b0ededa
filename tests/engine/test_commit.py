"""Group commit: many small files published together, each landing whole or failing alone."""

import asyncio
import sys

import pytest

from orchestrator.engine.commit import GroupCommit, sync_file_system
from orchestrator.engine.staging import StagingFile
from orchestrator.errors import DownloadError, ErrorCode


async def test_many_small_files_land_whole_and_staging_is_gone(tmp_path):
    commit = GroupCommit()
    out = tmp_path / "out"
    out.mkdir()

    async def publish(index):
        data = bytes([index % 256]) * (1000 + index)
        part = StagingFile(out / f"f{index}.bin.part")
        await commit.publish(part, data, out / f"f{index}.bin")
        return data

    datas = await asyncio.gather(*(publish(i) for i in range(300)))
    for index, data in enumerate(datas):
        assert (out / f"f{index}.bin").read_bytes() == data
    assert list(out.glob("*.part")) == []


async def test_a_failing_rename_fails_only_its_own_file(tmp_path):
    commit = GroupCommit()
    good = StagingFile(tmp_path / "good.part")
    bad = StagingFile(tmp_path / "bad.part")
    results = await asyncio.gather(
        commit.publish(good, b"fine", tmp_path / "good"),
        commit.publish(bad, b"lost", tmp_path / "missing-folder" / "bad"),
        return_exceptions=True)
    assert results[0] is None and (tmp_path / "good").read_bytes() == b"fine"
    assert isinstance(results[1], DownloadError) and results[1].code == ErrorCode.DISK_ERROR
    assert "missing-folder" in results[1].message


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="syncfs is Linux's")
def test_sync_file_system_on_a_real_folder(tmp_path):
    assert sync_file_system(tmp_path) is True
    with pytest.raises(OSError):
        sync_file_system(tmp_path / "absent")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/dev/full is Linux's")
async def test_a_failing_write_fails_only_its_own_file(tmp_path):
    commit = GroupCommit()
    (tmp_path / "full.part").symlink_to("/dev/full")
    results = await asyncio.gather(
        commit.publish(StagingFile(tmp_path / "good.part"), b"fine", tmp_path / "good"),
        commit.publish(StagingFile(tmp_path / "full.part"), b"x" * 4096, tmp_path / "full"),
        return_exceptions=True)
    assert results[0] is None and (tmp_path / "good").read_bytes() == b"fine"
    assert isinstance(results[1], DownloadError) and results[1].code == ErrorCode.DISK_ERROR
    assert "full.part" in results[1].message
    assert not (tmp_path / "full").exists()
    assert not (tmp_path / "full.part").is_symlink()  # what a failed write made is removed
