"""What fits on the disk: admission of downloads, the install check, the plan's storage."""

from hypothesis import given
from hypothesis import strategies as st

from orchestrator.errors import ErrorCode
from orchestrator.model.enums import ContentRequest
from orchestrator.scheduler.checks import PlanContext, check_plan
from orchestrator.scheduler.space import (
    Need,
    Space,
    admit,
    install_refusal,
    over_max_install_size,
)
from tests.scheduler.helpers import MiB, download, make_app

GiB = 2**30


def test_what_fits_starts_and_what_does_not_waits_in_order():
    space = Space(capacity=64 * GiB, free=10 * MiB, reserve=4 * MiB)
    decision = admit([Need("a", 4 * MiB), Need("b", 4 * MiB), Need("c", 2 * MiB)], space)
    assert decision.start == ("a", "c") and decision.wait == ("b",)
    assert decision.purge == 0 and decision.refuse == ()


def test_purgeable_bytes_make_room_only_for_a_download_they_make_fit():
    space = Space(capacity=64 * GiB, free=6 * MiB, reserve=4 * MiB, purgeable=3 * MiB)
    decision = admit([Need("a", 4 * MiB), Need("b", 8 * MiB), Need("c", MiB)], space)
    # a needs 2 MiB of the purgeable 3; b would need 8 of the 1 left: it waits, and c
    # takes that last MiB.
    assert decision.start == ("a", "c") and decision.wait == ("b",)
    assert decision.purge == 3 * MiB


def test_an_urgent_download_that_does_not_fit_is_refused_instead_of_waiting():
    space = Space(capacity=64 * GiB, free=5 * MiB, reserve=4 * MiB)
    decision = admit([Need("essential", 2 * MiB, urgent=True), Need("later", 2 * MiB)], space)
    assert decision.refuse == ("essential",) and decision.wait == ("later",)


def test_a_download_larger_than_the_disk_is_refused_even_in_the_background():
    space = Space(capacity=64 * GiB, free=60 * GiB, reserve=4 * GiB)
    assert admit([Need("huge", 61 * GiB)], space).refuse == ("huge",)


def test_running_downloads_hold_what_they_still_have_to_write():
    space = Space(capacity=GiB, free=10 * MiB)
    assert admit([Need("a", 6 * MiB)], space, committed=5 * MiB).wait == ("a",)
    assert admit([Need("a", 5 * MiB)], space, committed=5 * MiB).start == ("a",)


needs = st.lists(st.builds(Need, key=st.uuids().map(str), bytes=st.integers(0, 2**34),
                           urgent=st.booleans()), max_size=30, unique_by=lambda n: n.key)
spaces = st.builds(Space, capacity=st.integers(0, 2**35), free=st.integers(0, 2**35),
                   reserve=st.integers(0, 2**33), purgeable=st.integers(0, 2**33))


@given(needs, spaces, st.integers(0, 2**33))
def test_what_starts_never_cuts_into_the_reserve(wanted, space, committed):
    decision = admit(wanted, space, committed)
    size = {need.key: need.bytes for need in wanted}
    assert sorted(decision.start + decision.wait + decision.refuse) == sorted(size)
    assert decision.purge <= space.purgeable
    started = sum(size[key] for key in decision.start)
    assert not decision.start or started <= space.available - committed + decision.purge
    urgent = {need.key for need in wanted if need.urgent}
    assert not urgent & set(decision.wait)


def test_an_install_whose_essential_max_install_size_does_not_fit_is_refused():
    app = make_app()  # essentialMaxInstallSize 64 MiB
    refusal = install_refusal(app, Space(capacity=64 * GiB, free=50 * MiB, reserve=4 * MiB,
                                         purgeable=2 * MiB))
    assert refusal is not None and refusal.code == ErrorCode.INSTALL_DOES_NOT_FIT
    assert "64.0 MiB" in refusal.reason and "46.0 MiB available" in refusal.reason
    assert install_refusal(app, Space(capacity=64 * GiB, free=60 * MiB, reserve=4 * MiB,
                                      purgeable=8 * MiB)) is None


def test_bytes_over_max_install_size_count_the_app_itself():
    assert over_max_install_size(30 * MiB, 580 * MiB, 600 * MiB) == 10 * MiB
    assert over_max_install_size(30 * MiB, 500 * MiB, 600 * MiB) == 0
    assert over_max_install_size(30 * MiB, 500 * MiB, 0) == 0


def test_the_plan_refuses_essential_bytes_that_do_not_fit_and_lets_others_wait():
    space = Space(capacity=64 * GiB, free=14 * MiB, reserve=4 * MiB)
    context = PlanContext(make_app(), ContentRequest.INSTALL, launched=True, space=space)
    plan = check_plan(context, [
        download("tutorial", 6 * MiB, essential=True, priority=90),
        download("intro", 6 * MiB, essential=True, priority=80),
        download("extra", 6 * MiB), download("huge", 70 * GiB)])
    assert [d.id for d in plan.accepted] == ["tutorial", "extra"]
    refused = {r.download_id: r for r in plan.rejections}
    assert set(refused) == {"intro", "huge"}
    assert all(r.code == ErrorCode.NOT_ENOUGH_STORAGE for r in refused.values())
    assert "essential downloads do not wait" in refused["intro"].reason
    assert "more than the disk could ever hold" in refused["huge"].reason
    assert plan.storage is not None and not plan.storage.fits
    assert (plan.storage.bytes, plan.storage.waiting) == (6 * MiB, 6 * MiB)


def test_a_storage_refusal_gives_back_what_it_counted_against_the_allowance():
    space = Space(capacity=64 * GiB, free=5 * MiB)
    plan = check_plan(PlanContext(make_app(), ContentRequest.INSTALL, space=space),
                      [download("big", 8 * MiB, essential=True)])
    assert plan.allowances.essential_bytes == 0 and not plan.accepted
