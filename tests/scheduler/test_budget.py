"""Runtime allotment and periodic timing follow the README's formulas."""

from orchestrator.model.device import Device
from orchestrator.scheduler.budget import (
    DAY,
    HOUR,
    daily_allotment,
    next_periodic_run,
    periodic_interval,
)

NOW = 100 * DAY


def launches(per_day, days=14):
    count = int(per_day * days)
    return [NOW - i * (days * DAY / count) for i in range(count)] if count else []


def test_allotment_scales_with_launch_frequency():
    assert daily_allotment(600, [], NOW) == 600
    assert daily_allotment(600, launches(1), NOW) == 600
    assert daily_allotment(600, [NOW - 30 * DAY], NOW) == 150
    assert daily_allotment(600, launches(10), NOW) == 1200
    assert 150 < daily_allotment(600, launches(0.5), NOW) < 600


def test_periodic_interval_follows_usage_within_bounds():
    assert periodic_interval([], NOW) == DAY
    assert periodic_interval(launches(1), NOW) == DAY
    assert periodic_interval(launches(4), NOW) == 6 * HOUR
    assert periodic_interval(launches(100), NOW) == HOUR
    assert periodic_interval([NOW - 60 * DAY], NOW) == 7 * DAY


def test_no_periodic_run_in_low_power_and_first_run_is_now():
    assert next_periodic_run("a", Device(low_power_mode=True), [], None, NOW) is None
    assert next_periodic_run("a", Device(), [], None, NOW) == NOW
    assert next_periodic_run("a", Device(), launches(4), NOW - HOUR, NOW) == NOW + 5 * HOUR
