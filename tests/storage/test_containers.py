"""Container and staging paths: the fast file-name path agrees with urllib + pathlib, and
nothing is moved through a symlink out of the container."""

from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.errors import BackgroundAssetsError, ErrorCode
from orchestrator.storage.containers import (
    Layout,
    container_path,
    discard,
    move_into,
    move_out,
    remove_tree,
    same_file_system,
    url_file_name,
)

STARTS = st.sampled_from(["http://h", "https://a.b:80", "http://127.0.0.1:8470", "", "HTTP://X"])
PIECES = st.sampled_from(["a", "b.mp4", "/", ".", "..", "?", "#", "%20", "http://h", "//", ":",
                          ";", "@", "\\", " ", "\t", "\n", "é"])


@given(STARTS, st.lists(PIECES, max_size=7).map("".join))
def test_url_file_name_is_the_decoded_last_path_segment(start, rest):
    url = start + rest
    try:
        expected = PurePosixPath(unquote(urlsplit(url).path)).name or "download"
    except ValueError:  # urlsplit refuses some malformed hosts; so does the catalog
        return
    assert url_file_name(url) == expected


def test_ephemeral_paths_are_distinct_per_download_and_inside_staging(tmp_path):
    layout = Layout(tmp_path)
    one = layout.ephemeral_path("group.a", "one", "http://h/x/video.mp4")
    two = layout.ephemeral_path("group.a", "two", "http://h/y/video.mp4")
    assert one != two and one.name.endswith("-video.mp4") and two.name.endswith("-video.mp4")
    assert one.parent == two.parent == tmp_path / "staging" / "group.a"
    assert layout.container("group.a") == tmp_path / "containers" / "group.a"


def test_same_file_system_creates_the_staging_folder_only(tmp_path):
    folder, staging = tmp_path / "containers" / "g" / "assets", tmp_path / "staging" / "g"
    assert same_file_system(folder, staging)
    assert staging.is_dir() and not (tmp_path / "containers").exists()


def test_a_removed_staging_folder_is_forgotten_and_made_again(tmp_path):
    layout = Layout(tmp_path)
    folder, staging = layout.container("g") / "assets", layout.staging_dir("g")
    assert same_file_system(folder, staging)
    remove_tree(layout.container("g"))
    remove_tree(staging)
    assert same_file_system(folder, staging)
    assert staging.is_dir()


def handed_over(tmp_path, name="a.bin"):
    source = tmp_path / "staging" / name
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(b"asset")
    return source


def test_move_into_makes_the_folders_inside_the_container(tmp_path):
    container = Layout(tmp_path / "state").container("g")
    target = move_into(handed_over(tmp_path), container, "packs/level/./a.bin")
    assert target == container / "packs" / "level" / "a.bin"
    assert target.read_bytes() == b"asset"


def test_container_path_creates_nothing(tmp_path):
    container = Layout(tmp_path / "state").container("g")
    assert container_path(container, "packs/a.bin") == container / "packs" / "a.bin"
    assert not (tmp_path / "state").exists()


def test_a_folder_swapped_for_a_symlink_is_refused_without_creating_anything_outside(tmp_path):
    container, outside = Layout(tmp_path / "state").container("g"), tmp_path / "outside"
    outside.mkdir()
    move_into(handed_over(tmp_path), container, "sessions/a.bin")  # the folder is known now
    (container / "sessions").rename(tmp_path / "moved-aside")
    (container / "sessions").symlink_to(outside)
    for destination in ("sessions/b.bin", "sessions/deeper/b.bin"):
        with pytest.raises(BackgroundAssetsError) as refused:
            move_into(handed_over(tmp_path, "b.bin"), container, destination)
        assert refused.value.code == ErrorCode.PATH_OUTSIDE_CONTAINER
    assert list(outside.iterdir()) == []


def test_a_symlinked_container_or_containers_folder_is_refused(tmp_path):
    layout, outside = Layout(tmp_path / "state"), tmp_path / "outside"
    outside.mkdir()
    layout.containers.mkdir(parents=True)
    layout.container("g").symlink_to(outside)
    with pytest.raises(BackgroundAssetsError) as refused:
        move_into(handed_over(tmp_path), layout.container("g"), "packs/a.bin")
    assert refused.value.code == ErrorCode.PATH_OUTSIDE_CONTAINER
    layout.container("g").unlink()
    layout.containers.rmdir()
    layout.containers.symlink_to(outside)
    with pytest.raises(BackgroundAssetsError):
        move_into(handed_over(tmp_path), layout.container("g"), "packs/a.bin")
    assert list(outside.iterdir()) == []


def test_a_published_file_is_never_taken_back_or_deleted_through_a_symlink(tmp_path):
    container, outside = Layout(tmp_path / "state").container("g"), tmp_path / "outside"
    outside.mkdir()
    published = move_into(handed_over(tmp_path), container, "sessions/a.bin")
    (container / "sessions").rename(tmp_path / "moved-aside")
    (container / "sessions").symlink_to(outside)
    (outside / "a.bin").write_bytes(b"not ours")
    with pytest.raises(BackgroundAssetsError) as refused:
        move_out(published, tmp_path / "staging" / "ephemeral")
    assert refused.value.code == ErrorCode.PATH_OUTSIDE_CONTAINER
    discard(published)
    assert (outside / "a.bin").read_bytes() == b"not ours"
