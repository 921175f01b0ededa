"""How `bgassets fetch` turns URLs and list files into destinations, before any byte moves."""

import io
from pathlib import Path

import pytest

from orchestrator.cli.fetch_list import collect_items, file_name_for, open_list, read_list
from orchestrator.errors import UsageError

HEX = "ab" * 32


@pytest.mark.parametrize(("url", "name"), [
    ("http://h/a/b/file.bin", "file.bin"),
    ("http://h/a/b%20c.bin?x=1#frag", "b c.bin"),
    ("http://h/a/%2e%2e", "index.html"),
    ("http://h/x/..%2fetc%2fpasswd", ".._etc_passwd"),
    ("http://h/", "index.html"),
    ("http://h", "index.html"),
])
def test_file_names_come_from_the_last_segment_and_never_leave_the_folder(url, name):
    assert file_name_for(url) == name


def test_list_lines_carry_sha256_size_and_out(tmp_path):
    text = (f"# assets\n\nhttp://h/a.bin sha256={HEX.upper()} size=1MiB\n"
            "   http://h/b.bin out=sub/dir/b2.bin  \n")
    items = read_list(io.StringIO(text), "L.txt", tmp_path)
    assert [(item.url, item.destination, item.sha256, item.size, item.where) for item in items] == [
        ("http://h/a.bin", tmp_path / "a.bin", HEX, 1 << 20, "L.txt:3"),
        ("http://h/b.bin", tmp_path / "sub/dir/b2.bin", None, None, "L.txt:4"),
    ]


@pytest.mark.parametrize(("line", "message"), [
    ("ftp://h/a", "is not an http:// or https:// URL"),
    ("http://h/a sha256=xyz", "sha256 must be 64 hexadecimal digits"),
    ("http://h/a size=big", "size: 'big' is not a size"),
    ("http://h/a out=../escape", "must be a relative path without '..'"),
    ("http://h/a out=/etc/passwd", "must be a relative path without '..'"),
    ("http://h/a colour=red", "unknown option 'colour=red'"),
    ("http://h/a size=1 size=2", "size= given twice"),
])
def test_a_bad_list_line_is_a_usage_error_naming_list_and_line(tmp_path, line, message):
    with pytest.raises(UsageError) as caught:
        read_list(io.StringIO(f"# header\n{line}\n"), "assets.txt", tmp_path)
    assert caught.value.message.startswith("assets.txt:2: ")
    assert message in caught.value.message


def test_two_downloads_to_one_path_are_refused(tmp_path):
    with pytest.raises(UsageError, match="would be saved to"):
        collect_items(["http://a/x.bin", "http://b/x.bin"], None, tmp_path, None, None)


def test_sha256_and_size_flags_need_exactly_one_url(tmp_path):
    (item,) = collect_items(["http://a/x.bin"], None, tmp_path, HEX, 10)
    assert (item.sha256, item.size) == (HEX, 10)
    with pytest.raises(UsageError, match="exactly one URL"):
        collect_items(["http://a/x.bin", "http://a/y.bin"], None, tmp_path, HEX, None)


def test_nothing_to_fetch_and_unreadable_lists_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="nothing to fetch"):
        collect_items([], None, tmp_path, None, None)
    with pytest.raises(UsageError, match="cannot read list"):
        open_list(str(tmp_path / "missing.txt"), tmp_path)


def test_standard_input_is_a_list(tmp_path):
    items = open_list("-", Path("d"), io.StringIO("http://h/one\nhttp://h/two\n"))
    assert [item.where for item in items] == ["<stdin>:1", "<stdin>:2"]
    assert items[1].destination == Path("d/two")
