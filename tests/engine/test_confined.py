"""Confined destinations: walked without following symlinks at the moment of publishing."""

import asyncio

import pytest

from orchestrator.engine.commit import GroupCommit
from orchestrator.engine.confined import confined_path, confinement_of, open_folder
from orchestrator.engine.staging import StagingFile
from orchestrator.errors import DownloadError, ErrorCode


def staged(tmp_path, name, data=b"asset"):
    part = StagingFile(tmp_path / "staging" / f"{name}.part")
    part.path.parent.mkdir(exist_ok=True)
    part.write_at(data, 0)
    return part


def test_missing_folders_are_made_and_derived_paths_are_plain(tmp_path):
    path = confined_path(tmp_path, ("box", "packs"), "a.bin")
    assert path == tmp_path / "box" / "packs" / "a.bin"
    assert confinement_of(path.parent) is None and confinement_of(tmp_path / "x") is None
    with pytest.raises(FileNotFoundError):
        open_folder(confinement_of(path), create=False)
    staged(tmp_path, "a").publish(path)
    assert path.read_bytes() == b"asset"


def test_a_symlinked_folder_refuses_the_file_and_nothing_is_made_beyond_it(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "box").mkdir()
    (tmp_path / "box" / "packs").symlink_to(outside)
    path = confined_path(tmp_path, ("box", "packs", "deeper"), "a.bin")
    with pytest.raises(DownloadError) as refused:
        staged(tmp_path, "a").publish(path)
    assert refused.value.code == ErrorCode.PATH_OUTSIDE_CONTAINER and not refused.value.transient
    assert list(outside.iterdir()) == []


async def test_a_batch_publishes_inside_and_refuses_through_a_symlink(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "box").mkdir()
    (tmp_path / "box" / "link").symlink_to(outside)
    (tmp_path / "staging").mkdir()
    commit = GroupCommit()
    inside = [confined_path(tmp_path, ("box", "packs"), f"{i}.bin") for i in range(3)]
    refused = confined_path(tmp_path, ("box", "link"), "x.bin")
    results = await asyncio.gather(
        *(commit.publish(StagingFile(tmp_path / "staging" / f"{i}.part"), b"in", path)
          for i, path in enumerate([*inside, refused])),
        return_exceptions=True)
    assert results[:3] == [None, None, None]
    assert all(path.read_bytes() == b"in" for path in inside)
    assert isinstance(results[3], DownloadError)
    assert results[3].code == ErrorCode.PATH_OUTSIDE_CONTAINER
    assert list(outside.iterdir()) == []
