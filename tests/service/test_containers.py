"""Container and staging paths: the fast file-name path agrees with urllib + pathlib."""

from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from orchestrator.service.containers import Layout, remove_tree, same_file_system, url_file_name

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


def test_same_file_system_creates_both_folders(tmp_path):
    folder, staging = tmp_path / "containers" / "g" / "assets", tmp_path / "staging" / "g"
    assert same_file_system(folder, staging)
    assert folder.is_dir() and staging.is_dir()


def test_a_removed_container_is_forgotten_and_made_again(tmp_path):
    layout = Layout(tmp_path)
    folder, staging = layout.container("g") / "assets", layout.staging_dir("g")
    assert same_file_system(folder, staging)
    remove_tree(layout.container("g"))
    remove_tree(staging)
    assert same_file_system(folder, staging)
    assert folder.is_dir() and staging.is_dir()
