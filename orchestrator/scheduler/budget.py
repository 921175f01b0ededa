"""Runtime budgets and when periodic runs happen: two formulas of app usage.

Both take the launch history and a clock value; neither reads the clock.

Daily runtime allotment (seconds an extension may run per day)::

    launches_per_day = launches in the last 14 days / 14
    factor = 1.0                                  if the app was never launched
           = clamp(0.25 + 0.75 * launches_per_day, 0.25, 2.0) otherwise
    allotment = round(base * factor)              base: the Device's dailyAllotmentSeconds

so an app launched once a day gets the base (10 minutes by default), a
forgotten one a quarter, a busy one at most twice the base.

Interval between periodic runs::

    interval = clamp(24 h / max(launches_per_day, 1/7), 1 h, 7 days)
    never launched: 24 h
    next run = last run + interval, or now when there was no run yet;
    none at all while low power mode or background refresh (for the app) is off.
"""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.model.device import Device

DAY = 86_400.0
HOUR = 3_600.0
HISTORY_DAYS = 14
MIN_FACTOR, MAX_FACTOR = 0.25, 2.0
MIN_INTERVAL, MAX_INTERVAL = HOUR, 7 * DAY


def launches_per_day(launches: Sequence[float], now: float) -> float:
    """Launches per day over the last ``HISTORY_DAYS`` days (timestamps in seconds)."""
    since = now - HISTORY_DAYS * DAY
    return sum(1 for launch in launches if since <= launch <= now) / HISTORY_DAYS


def daily_allotment(base_seconds: float, launches: Sequence[float], now: float) -> float:
    """Seconds of extension runtime the app gets today (see the module formula)."""
    if not launches:
        return float(round(base_seconds))
    factor = 0.25 + 0.75 * launches_per_day(launches, now)
    return float(round(base_seconds * min(MAX_FACTOR, max(MIN_FACTOR, factor))))


def periodic_interval(launches: Sequence[float], now: float) -> float:
    """Seconds between periodic runs for an app with this launch history."""
    if not launches:
        return DAY
    rate = max(launches_per_day(launches, now), 1 / 7)
    return min(MAX_INTERVAL, max(MIN_INTERVAL, DAY / rate))


def next_periodic_run(app_id: str, device: Device, launches: Sequence[float],
                      last_run: float | None, now: float) -> float | None:
    """When the next periodic run is due, or None while the device forbids background work."""
    if device.low_power_mode or not device.background_refresh.allows(app_id):
        return None
    if last_run is None:
        return now
    return last_run + periodic_interval(launches, now)
