"""The fast join of relative catalog URLs agrees with urllib's urljoin."""

from urllib.parse import urljoin

from hypothesis import example, given, settings
from hypothesis import strategies as st

from orchestrator.model.catalog import _base_prefix, join_url
from orchestrator.scheduler.checks import (
    destination_problem,
    full_destination_problem,
    plainly_inside,
)

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
@example("a/..")
@example("a/../b")
@example("B:x")
@example("a\\..\\b")
@example("a\x00")
@settings(max_examples=500)
def test_the_destination_fast_path_never_accepts_what_the_full_check_refuses(destination):
    if plainly_inside(destination):
        assert full_destination_problem(destination) is None
        assert destination_problem(destination) is None
