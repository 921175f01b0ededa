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


@pytest.mark.parametrize("value", [2**63, 10**400, "9" * 400 + "MiB", "8589934592GiB",
                                   "9999999999TiB", 1e300])
def test_parse_size_refuses_more_than_a_64_bit_size_without_overflowing(value):
    with pytest.raises(ValueError, match="too large a size"):
        parse_size(value)


def test_parse_size_takes_the_largest_size_and_integral_floats():
    assert parse_size(2**63 - 1) == parse_size("8589934591.99999999999GiB") == 2**63 - 1
    assert (parse_size(1024.0), parse_size(-0.0)) == (1024, 0)
    assert parse_size("1." + "9" * 400 + "MiB") == 2 * 2**20 - 1


def test_format_size_shows_any_integer_without_overflowing():
    assert format_size(2**63 - 1) == "8388608.0 TiB"
    assert format_size(10**400).endswith(" TiB")
