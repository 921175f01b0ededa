"""The fast join of relative catalog URLs agrees with urllib's urljoin."""

from urllib.parse import urljoin

from hypothesis import given
from hypothesis import strategies as st

from orchestrator.model.catalog import _base_prefix, join_url
from orchestrator.scheduler.checks import destination_problem

BASES = ["http://127.0.0.1:8470/wwdc-sessions/catalog.json", "https://cdn.example.com/a/b/",
         "https://cdn.example.com", "http://h/x?y=1", "HTTP://H/x/y",
         "https://u@h:8/p/q;r"]
PIECES = st.sampled_from(["a", "b.mp4", "/", ".", "..", "?", "#", ":", "%20", " ", "\t", "~",
                          "-", "_", "//", "http:", "x:y", "é", "\\", "http://",
                          "https://", "HTTP://", "h", ":80", ";", "@", "[", "=", "(", "&"])


@given(st.sampled_from(BASES), st.lists(PIECES, max_size=8).map("".join))
def test_join_url_is_urljoin(base, url):
    assert _outcome(join_url, base, url, _base_prefix(base)) == _outcome(urljoin, base, url)


def _outcome(join, *args):
    """The joined URL, or the ValueError urljoin raises for a malformed one (``[``)."""
    try:
        return join(*args)
    except ValueError as error:
        return error.__class__


@given(st.lists(st.sampled_from(["a", "B", "1", "/", ".", "..", "\\", ":", "\x00", " ", "é"]),
                max_size=8).map("".join))
def test_destination_fast_path_agrees_with_the_full_check(destination):
    fast = destination[:1].isalnum() and destination[1:2] != ":" and ".." not in destination \
        and "\\" not in destination and "\x00" not in destination
    if fast:
        parts = destination.split("/")
        assert ".." not in parts and not destination.startswith("/")
    assert (destination_problem(destination) is None) or not fast
