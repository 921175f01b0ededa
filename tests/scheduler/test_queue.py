"""The queue starts essential work first, respects caps and pauses on device conditions."""

from orchestrator.scheduler.queue import (
    Candidate,
    Conditions,
    downloads_to_pause,
    downloads_to_start,
)


def c(key, app="a", *, essential=False, priority=50, foreground=False, host="h", order=0):
    return Candidate(key, app, host, essential, priority, foreground, order)


def keys(items):
    return [item.key for item in items]


def test_essential_before_everything_and_non_essential_waits_for_its_app():
    waiting = [c("n1", priority=90, order=0), c("e1", essential=True, order=1),
               c("other", app="b", priority=10, order=2)]
    assert keys(downloads_to_start(waiting, [], Conditions())) == ["e1", "other"]
    assert keys(downloads_to_start([c("n1")], [], Conditions())) == ["n1"]


def test_priority_orders_within_an_app_and_apps_interleave():
    waiting = [c("a-low", priority=1, order=0), c("a-high", priority=99, order=1),
               c("b-only", app="b", priority=5, order=2), c("a-mid", priority=50, order=3)]
    started = downloads_to_start(waiting, [], Conditions(), max_active=3)
    assert keys(started) == ["a-high", "b-only", "a-mid"]


def test_caps_and_foreground_promotion():
    running = [c("r1", host="h"), c("r2", host="h")]
    waiting = [c("w1", host="h"), c("w2", host="other"), c("fg", host="h", foreground=True)]
    assert keys(downloads_to_start(waiting, running, Conditions(), max_per_host=2)) == ["fg", "w2"]
    assert keys(downloads_to_start(waiting, running, Conditions(), max_active=2)) == ["fg"]


def test_conditions_pause_background_work_only():
    running = [c("bg"), c("ess", essential=True), c("fg", foreground=True), c("b", app="b")]
    low_power = Conditions(low_power_mode=True)
    assert keys(downloads_to_pause(running, low_power)) == ["bg", "b"]
    metered = Conditions(metered=True, allow_metered={"a": False})
    assert keys(downloads_to_pause(running, metered)) == ["bg"]
    assert keys(downloads_to_pause(running, Conditions(online=False))) == ["bg", "ess", "fg", "b"]
