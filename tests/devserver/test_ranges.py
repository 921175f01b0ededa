"""RFC 9110 decisions of the dev server: byte ranges, If-Range and conditional GET."""

from __future__ import annotations

import pytest

from orchestrator.devserver.ranges import (
    ByteRange,
    Validators,
    if_range_allows,
    not_modified,
    parse_range,
)
from orchestrator.errors import Unsatisfiable

VALIDATORS = Validators.for_file(size=100, mtime_ns=1_700_000_000_123_456_789)


@pytest.mark.parametrize(("header", "expected"), [
    ("bytes=0-9", ByteRange(0, 9, 100)),
    ("bytes=90-", ByteRange(90, 99, 100)),
    ("bytes=-10", ByteRange(90, 99, 100)),
    ("bytes=-500", ByteRange(0, 99, 100)),
    ("bytes=50-5000", ByteRange(50, 99, 100)),
    (" bytes = 3-3 ", ByteRange(3, 3, 100)),
])
def test_single_ranges_are_clamped_to_the_file(header: str, expected: ByteRange) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", [
    None, "", "bytes=0-1,5-6", "items=0-9", "bytes=9-0", "bytes=a-b", "bytes=-", "bytes=5",
])
def test_missing_malformed_or_multiple_ranges_mean_the_whole_file(header: str | None) -> None:
    assert parse_range(header, 100) is None


@pytest.mark.parametrize(("header", "size"), [
    ("bytes=100-", 100), ("bytes=100-200", 100), ("bytes=-0", 100), ("bytes=0-", 0),
    ("bytes=-5", 0),
])
def test_ranges_beyond_the_end_are_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, size)


def test_byte_range_reports_length_and_content_range() -> None:
    assert ByteRange(10, 19, 100).length == 10
    assert ByteRange(10, 19, 100).content_range == "bytes 10-19/100"


def test_validators_are_strong_and_change_with_generation() -> None:
    changed = Validators.for_file(size=100, mtime_ns=1_700_000_000_123_456_789, generation=1)
    assert VALIDATORS.etag.startswith('"') and not VALIDATORS.etag.startswith("W/")
    assert changed.etag != VALIDATORS.etag
    assert changed.last_modified == VALIDATORS.last_modified + 1
    assert VALIDATORS.last_modified_http == "Tue, 14 Nov 2023 22:13:20 GMT"


def test_if_range_matches_only_the_exact_strong_etag_or_date() -> None:
    assert if_range_allows(None, VALIDATORS)
    assert if_range_allows(VALIDATORS.etag, VALIDATORS)
    assert if_range_allows(VALIDATORS.last_modified_http, VALIDATORS)
    assert not if_range_allows("W/" + VALIDATORS.etag, VALIDATORS)
    assert not if_range_allows('"other"', VALIDATORS)
    assert not if_range_allows("Tue, 14 Nov 2023 22:13:21 GMT", VALIDATORS)
    assert not if_range_allows("not a date", VALIDATORS)


def test_not_modified_uses_if_none_match_before_if_modified_since() -> None:
    assert not_modified({"If-None-Match": f'"x", W/{VALIDATORS.etag}'}, VALIDATORS)
    assert not_modified({"If-None-Match": "*"}, VALIDATORS)
    assert not not_modified({"If-None-Match": '"x"',
                             "If-Modified-Since": VALIDATORS.last_modified_http}, VALIDATORS)
    assert not_modified({"If-Modified-Since": VALIDATORS.last_modified_http}, VALIDATORS)
    assert not not_modified({"If-Modified-Since": "Tue, 14 Nov 2023 22:13:19 GMT"}, VALIDATORS)
    assert not not_modified({}, VALIDATORS)
