"""Fault specs parse strictly, and the picker fires them once per path or on a repeatable share."""

from __future__ import annotations

import pytest

from orchestrator.devserver import FAULT_NAMES, Fault, parse_fault
from orchestrator.devserver.faults import FaultPicker
from orchestrator.errors import UsageError


def test_every_fault_name_from_the_issue_is_known() -> None:
    assert set(FAULT_NAMES) == {"reset", "500", "503", "truncate", "ignore-range", "etag-change",
                                "slow", "endless", "redirect-offsite", "wrong-length"}


@pytest.mark.parametrize(("text", "expected"), [
    ("reset", Fault("reset")), ("500:once", Fault("500")), ("slow:0.25", Fault("slow", 0.25)),
    ("503:1", Fault("503", 1.0)), ("truncate:0", Fault("truncate", 0.0)),
])
def test_fault_specs_parse(text: str, expected: Fault) -> None:
    assert parse_fault(text) == expected
    assert parse_fault(expected) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("bogus", "choose from reset, 500"), ("reset:1.5", "between 0 and 1"),
    ("reset:often", "a count such as 2x, or a share"), ("", "unknown fault"),
])
def test_bad_fault_specs_are_usage_errors_saying_why(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_fault(text)


def test_once_fires_on_the_first_request_of_each_path_only() -> None:
    picker = FaultPicker(["500"])
    fired = [picker.pick(path, is_range=False) for path in ["/a", "/a", "/b", "/a", "/b"]]
    assert fired == ["500", None, "500", None, None]


def test_set_faults_forgets_which_paths_were_hit() -> None:
    picker = FaultPicker(["500"])
    assert picker.pick("/a", is_range=False) == "500"
    picker.set_faults(["503"])
    assert picker.pick("/a", is_range=False) == "503"
    picker.set_faults([])
    assert picker.pick("/a", is_range=False) is None


def test_several_once_faults_meet_a_path_in_turn() -> None:
    picker = FaultPicker(["reset", "503"])
    fired = [picker.pick("/a", is_range=False) for _ in range(3)]
    assert fired == ["reset", "503", None]


def test_a_share_is_repeatable_for_a_seed_and_roughly_that_share() -> None:
    def run(seed: int) -> list[str | None]:
        picker = FaultPicker(["500:0.3"], seed=seed)
        return [picker.pick(f"/f{index % 7}", is_range=False) for index in range(1000)]

    first, again, other = run(1), run(1), run(2)
    assert first == again
    assert first != other
    assert 230 <= first.count("500") <= 370


def test_share_outcome_does_not_depend_on_how_paths_interleave() -> None:
    in_order, interleaved = FaultPicker(["503:0.5"], seed=3), FaultPicker(["503:0.5"], seed=3)
    a_first = [in_order.pick("/a", is_range=False) for _ in range(20)]
    for _ in range(20):
        interleaved.pick("/b", is_range=False)
    assert [interleaved.pick("/a", is_range=False) for _ in range(20)] == a_first


def test_range_and_later_request_faults_wait_for_a_fitting_request() -> None:
    picker = FaultPicker(["ignore-range", "etag-change"])
    assert picker.pick("/a", is_range=False, seen_before=False) is None
    assert picker.pick("/a", is_range=True, seen_before=False) == "ignore-range"
    assert picker.pick("/a", is_range=True, seen_before=True) == "etag-change"
    assert picker.pick("/a", is_range=True, seen_before=True) is None
