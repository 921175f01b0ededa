"""The pure decisions about answers: Content-Range, Retry-After, validators, what to do."""

from __future__ import annotations

from orchestrator.engine.ranges import (
    Action,
    ContentRange,
    decide,
    if_range_value,
    parse_content_range,
    parse_retry_after,
    strong_etag,
    validators_changed,
)
from orchestrator.errors import ErrorCode

URL = "http://127.0.0.1/a.bin"


def test_content_range_is_parsed_with_exclusive_end():
    assert parse_content_range("bytes 100-199/1000") == ContentRange(100, 200, 1000)
    assert parse_content_range("bytes 0-9/*") == ContentRange(0, 10, None)
    assert parse_content_range("bytes */1000") == ContentRange(None, None, 1000)


def test_malformed_content_ranges_are_refused():
    for value in (None, "", "bytes 10-5/100", "bytes 0-100/50", "items 0-1/2", "bytes 1-/9"):
        assert parse_content_range(value) is None


def test_retry_after_seconds_and_http_date():
    assert parse_retry_after("7") == 7.0
    now = 1_700_000_000.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:30 GMT", now=now) == 10.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None


def test_if_range_takes_strong_etag_only_and_date_only_without_etag():
    assert strong_etag('W/"abc"') is None
    assert if_range_value('"abc"', "Tue, 14 Nov 2023 22:13:20 GMT") == '"abc"'
    assert if_range_value('W/"abc"', "Tue, 14 Nov 2023 22:13:20 GMT") is None
    assert if_range_value(None, "Tue, 14 Nov 2023 22:13:20 GMT") == (
        "Tue, 14 Nov 2023 22:13:20 GMT")


def test_validators_changed_compares_etag_first():
    stored = {"etag": '"a"', "last_modified": "x"}
    assert validators_changed(stored, '"b"', "x")
    assert not validators_changed(stored, '"a"', "y")
    assert validators_changed({"etag": None, "last_modified": "x"}, None, "y")


def test_206_from_the_asked_offset_is_written_there():
    answer = decide(206, {"Content-Range": "bytes 500-999/1000"}, URL, 500, 1000)
    assert (answer.action, answer.start, answer.end, answer.total) == (Action.WRITE, 500, 1000,
                                                                       1000)


def test_206_from_another_offset_is_never_merged():
    answer = decide(206, {"Content-Range": "bytes 0-999/1000"}, URL, 500, 1000)
    assert answer.action is Action.FAIL
    assert answer.error.code == ErrorCode.RANGE_NOT_HONOURED


def test_206_with_another_total_is_never_merged():
    answer = decide(206, {"Content-Range": "bytes 500-1099/1100"}, URL, 500, 1000)
    assert answer.error.code == ErrorCode.RANGE_NOT_HONOURED


def test_206_without_content_range_is_a_bad_answer():
    assert decide(206, {}, URL, 500, 1000).error.code == ErrorCode.BAD_SERVER_ANSWER


def test_200_to_a_range_request_is_a_whole_body_from_zero():
    answer = decide(200, {"Content-Length": "1000"}, URL, 500, 1000)
    assert (answer.action, answer.start, answer.total) == (Action.WRITE, 0, 1000)


def test_416_asks_to_check_what_is_on_disk():
    answer = decide(416, {"Content-Range": "bytes */1000"}, URL, 1000, 1000)
    assert (answer.action, answer.total) == (Action.CHECK_COMPLETE, 1000)


def test_statuses_are_classified_transient_or_permanent():
    assert not decide(404, {}, URL, None, None).error.transient
    assert not decide(410, {}, URL, None, None).error.transient
    assert not decide(403, {}, URL, None, None).error.transient
    unavailable = decide(503, {"Retry-After": "3"}, URL, None, None).error
    assert unavailable.transient and unavailable.retry_after == 3.0
    assert decide(429, {}, URL, None, None).error.transient
    assert decide(500, {}, URL, None, None).error.code == ErrorCode.HTTP_ERROR


def test_redirects_and_challenges_are_recognised():
    assert decide(302, {"Location": "/b"}, URL, None, None).action is Action.REDIRECT
    assert decide(401, {}, URL, None, None).action is Action.AUTHENTICATE
