"""Plan checks refuse with the framework's codes and accept what fits."""

from orchestrator.errors import ErrorCode
from orchestrator.model.device import BackgroundRefresh, Device
from orchestrator.model.enums import ContentRequest
from orchestrator.scheduler.checks import PlanContext, check_plan, destination_problem
from tests.scheduler.helpers import MiB, download, make_app

INSTALL = ContentRequest.INSTALL


def codes(plan):
    return {r.download_id: r.code for r in plan.rejections}


def test_essential_first_then_by_priority():
    plan = check_plan(PlanContext(make_app(), INSTALL), [
        download("low", priority=10), download("ess", essential=True, priority=0),
        download("high", priority=90),
    ])
    assert [d.id for d in plan.accepted] == ["ess", "high", "low"]
    assert plan.rejections == ()


def test_essential_over_its_allowance_is_refused_but_smaller_ones_fit():
    plan = check_plan(PlanContext(make_app(essential_allowance=40 * MiB), INSTALL), [
        download("a", 24 * MiB, essential=True, priority=90),
        download("b", 24 * MiB, essential=True, priority=80),
        download("c", 16 * MiB, essential=True, priority=70),
    ])
    assert [d.id for d in plan.accepted] == ["a", "c"]
    assert codes(plan) == {"b": ErrorCode.DOWNLOAD_WOULD_EXCEED_ALLOWANCE}
    assert plan.allowances.essential_remaining == 0


def test_catalog_bytes_count_against_the_download_allowance():
    context = PlanContext(make_app(allowance=10 * MiB), INSTALL, catalog_bytes=MiB)
    plan = check_plan(context, [download("big", 10 * MiB), download("small", 9 * MiB)])
    assert codes(plan) == {"big": ErrorCode.SESSION_DOWNLOAD_DISALLOWED_BY_ALLOWANCE}
    assert plan.allowances.download_remaining == 0


def test_restrictions_end_with_the_first_launch():
    context = PlanContext(make_app(allowance=MiB), ContentRequest.PERIODIC, launched=True)
    plan = check_plan(context, [download("big", 500 * MiB, url="https://cdn.other.example/x")])
    assert [d.id for d in plan.accepted] == ["big"]
    assert plan.allowances.download_remaining is None


def test_host_outside_allow_list_before_launch():
    plan = check_plan(PlanContext(make_app(), INSTALL),
                      [download("x", url="https://cdn.other.example/x.bin")])
    assert codes(plan) == {"x": ErrorCode.SESSION_DOWNLOAD_DISALLOWED_BY_DOMAIN}


def test_essential_only_for_install_and_update_and_needs_a_size():
    periodic = check_plan(PlanContext(make_app(), ContentRequest.PERIODIC),
                          [download("e", essential=True)])
    assert codes(periodic) == {"e": ErrorCode.DOWNLOAD_ESSENTIAL_DOWNLOAD_NOT_PERMITTED}
    sizeless = check_plan(PlanContext(make_app(), INSTALL),
                          [download("e", None, essential=True)])
    assert codes(sizeless) == {"e": ErrorCode.DOWNLOAD_INVALID}


def test_duplicates_and_escaping_destinations():
    context = PlanContext(make_app(), INSTALL, scheduled_ids=frozenset({"old"}))
    plan = check_plan(context, [
        download("old"), download("a"), download("a"),
        download("up", destination="../../etc/passwd"), download("abs", destination="/tmp/x"),
    ])
    assert [d.id for d in plan.accepted] == ["a"]
    assert [r.code for r in plan.rejections] == [
        ErrorCode.DOWNLOAD_ALREADY_SCHEDULED, ErrorCode.DOWNLOAD_ALREADY_SCHEDULED,
        ErrorCode.PATH_OUTSIDE_CONTAINER, ErrorCode.PATH_OUTSIDE_CONTAINER,
    ]


def test_device_conditions_stop_the_extension():
    app = make_app()
    low_power = check_plan(PlanContext(app, INSTALL, Device(low_power_mode=True)), [download("a")])
    assert not low_power.extension_runs and low_power.accepted == ()
    assert low_power.rejections[0].code == ErrorCode.DOWNLOAD_BACKGROUND_ACTIVITY_PROHIBITED
    refresh = Device(background_refresh=BackgroundRefresh(True, {app.id: False}))
    assert not check_plan(PlanContext(app, INSTALL, refresh), []).extension_runs
    in_app_off = Device(in_app_content=False)
    before = check_plan(PlanContext(app, INSTALL, in_app_off), [download("a")])
    assert before.rejections[0].code == ErrorCode.SESSION_DOWNLOAD_NOT_PERMITTED_BEFORE_APP_LAUNCH
    after = check_plan(PlanContext(app, ContentRequest.PERIODIC, in_app_off, launched=True),
                       [download("a")])
    assert [d.id for d in after.accepted] == ["a"]


def test_destination_problems():
    assert destination_problem("packs/a.bin") is None
    assert destination_problem("Library/Caches/x") is None
    for bad in ("", "/abs", "a/../../b", "..", "C:\\x", "."):
        assert destination_problem(bad) is not None, bad


def test_two_downloads_into_one_file_keep_the_first_in_start_order():
    plan = check_plan(PlanContext(make_app(), INSTALL), [
        download("first", priority=90, destination="packs/same.bin"),
        download("second", priority=10, destination="packs/same.bin"),
        download("dotted", priority=20, destination="packs/./same.bin"),
        download("doubled", priority=30, destination="packs//same.bin"),
        download("other", destination="packs/other.bin"),
    ])
    assert [d.id for d in plan.accepted] == ["first", "other"]
    assert codes(plan) == {"second": ErrorCode.DESTINATION_CONFLICT,
                           "dotted": ErrorCode.DESTINATION_CONFLICT,
                           "doubled": ErrorCode.DESTINATION_CONFLICT}
    assert "'first'" in plan.rejections[0].reason


def test_a_refused_download_does_not_take_its_destination():
    plan = check_plan(PlanContext(make_app(allowance=2 * MiB), INSTALL), [
        download("big", 4 * MiB, priority=90, destination="packs/same.bin"),
        download("small", priority=10, destination="packs/same.bin"),
    ])
    assert [d.id for d in plan.accepted] == ["small"]
    assert codes(plan) == {"big": ErrorCode.SESSION_DOWNLOAD_DISALLOWED_BY_ALLOWANCE}
