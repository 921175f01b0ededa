"""Sizes as manifests write them."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.model import format_size, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (0, 0),
        (1234, 1234),
        ("1234", 1234),
        ("600MiB", 600 * 2**20),
        ("1.5GB", 1_500_000_000),
        ("1.5 GiB", 3 * 2**29),
        ("2kib", 2048),
        ("10 B", 10),
        ("0.1KB", 100),
    ],
)
def test_parse_size_accepts_bytes_and_units(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "MiB", "-1", "1.5.2GB", "12 parsecs", "1e9", True, -5])
def test_parse_size_names_the_bad_value(text):
    with pytest.raises(ValueError, match="size|negative"):
        parse_size(text)


@given(st.integers(min_value=0, max_value=2**50))
def test_integers_and_their_strings_agree(value):
    assert parse_size(value) == parse_size(str(value)) == value


@pytest.mark.parametrize(
    ("size", "text"), [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (3 * 2**30, "3.0 GiB")]
)
def test_format_size(size, text):
    assert format_size(size) == text
