"""The checks' quick walk over plain downloads answers as the full refusal does.

``_Checker.check_all`` decides plain downloads with its own locals and arrays, and
sends every other one through ``_Checker.refusal``; its docstring says the two give
the same answers. Here random plans go through ``check_plan`` and, one download at a
time in start order, through ``refusal`` alone on a fresh checker.
"""

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.errors import ErrorCode
from orchestrator.model.download import Download
from orchestrator.model.enums import ContentRequest
from orchestrator.model.plan import Rejection, Rejections
from orchestrator.scheduler.checks import PlanContext, _Checker, check_plan
from orchestrator.scheduler.space import Space
from tests.scheduler.helpers import GROUP, make_app

KiB = 1024
DESTINATIONS = ("a.bin", "b.bin", "packs/c.bin", "packs/./c.bin", "packs//c.bin", "d/",
                "../out.bin", "/abs.bin", "")
URLS = ("http://127.0.0.1:8470/x.bin", "http://127.0.0.1:8470/y.bin",
        "http://elsewhere.example/z.bin", "http://127.0.0.1:8470", "not a url",
        "http://localhost/w.bin", "http://localhost.elsewhere.example/w.bin")

downloads = st.lists(st.builds(
    Download,
    id=st.sampled_from(("a", "b", "c", "d", "e", "f", "g", "h")),
    url=st.sampled_from(URLS),
    app_group=st.just(GROUP),
    essential=st.booleans(),
    size=st.none() | st.integers(0, 64 * KiB),
    priority=st.integers(0, 100),
    destination=st.sampled_from(DESTINATIONS) | st.builds("f/{}.bin".format, st.integers(0, 30)),
), max_size=40)

contexts = st.builds(
    lambda allowance, essential_allowance, request, launched, catalog_bytes, space: PlanContext(
        make_app(allowance=allowance, essential_allowance=essential_allowance), request,
        launched=launched, catalog_bytes=catalog_bytes, space=space),
    st.integers(0, 256 * KiB), st.integers(0, 128 * KiB), st.sampled_from(ContentRequest),
    st.booleans(), st.integers(0, 8 * KiB),
    st.none() | st.builds(Space, st.just(10**9), st.integers(0, 512 * KiB),
                          st.integers(0, 64 * KiB), st.integers(0, 64 * KiB)))


def refusals_one_by_one(context: PlanContext, given: list[Download]):
    checker = _Checker(context)
    accepted, rejections = [], []
    ranked = sorted(given, key=lambda download: (download.essential, download.priority),
                    reverse=True)  # a reversed sort keeps ties in their order
    for download in ranked:
        rejection = checker.refusal(download)
        (accepted if rejection is None else rejections).append(rejection or download)
    return tuple(accepted), tuple(rejections), checker.usage(), checker.storage()


@settings(max_examples=400, deadline=None)
@given(context=contexts, given_downloads=downloads)
def test_the_quick_walk_answers_as_the_refusal_does(context, given_downloads):
    plan = check_plan(context, given_downloads)
    accepted, rejections, usage, storage = refusals_one_by_one(context, given_downloads)
    if plan.extension_runs:
        assert plan.accepted == accepted
        assert plan.rejections == rejections
        assert [r.reason for r in plan.rejections] == [r.reason for r in rejections]
        assert plan.allowances == usage and plan.storage == storage


def test_a_plan_over_its_allowance_keeps_each_refusal_readable():
    app = make_app(allowance=10 * KiB)
    given_downloads = [Download(f"asset-{i}", f"http://127.0.0.1:8470/{i}.bin", GROUP,
                                size=4 * KiB, priority=i % 3, destination=f"f/{i}.bin")
                       for i in range(300)]
    plan = check_plan(PlanContext(app, ContentRequest.INSTALL), given_downloads)
    assert [d.id for d in plan.accepted] == ["asset-2", "asset-5"]  # 8 KiB of 10
    rejections = plan.rejections
    assert isinstance(rejections, Rejections) and len(rejections) == 298
    first = rejections[0]
    assert first == Rejection(ErrorCode.SESSION_DOWNLOAD_DISALLOWED_BY_ALLOWANCE,
                              "needs 4096 bytes but only 2048 of downloadAllowance (10.0 KiB) "
                              "are left before the first launch", "asset-8")
    assert rejections[-1].download_id == "asset-297" and rejections[-1] == rejections[297]
    assert rejections[1:3] == (rejections[1], rejections[2])
    assert list(rejections) == [rejections[i] for i in range(298)]
    assert rejections == tuple(rejections) and tuple(rejections) == rejections
    assert hash(rejections) == hash(tuple(rejections))
    assert rejections != tuple(rejections)[:-1]
    assert {r.code for r in rejections} == {ErrorCode.SESSION_DOWNLOAD_DISALLOWED_BY_ALLOWANCE}


def test_a_host_that_only_starts_like_an_allowed_one_is_refused():
    urls = ["http://localhost/a.bin", "http://localhost.elsewhere.example/b.bin",
            "http://localhost:8470/c.bin", "http://localhost/d.bin"]
    given_downloads = [Download(name, url, GROUP, size=KiB, destination=f"{name}.bin")
                       for name, url in zip("abcd", urls, strict=True)]
    plan = check_plan(PlanContext(make_app(), ContentRequest.INSTALL), given_downloads)
    assert [d.id for d in plan.accepted] == ["a", "c", "d"]
    assert [(r.download_id, r.code) for r in plan.rejections] == [
        ("b", ErrorCode.SESSION_DOWNLOAD_DISALLOWED_BY_DOMAIN)]


def test_an_allowance_beyond_64_bits_is_still_counted_exactly():
    app = make_app(allowance=2**64)
    context = PlanContext(app, ContentRequest.INSTALL, download_bytes_used=2**64 - 5 * KiB)
    given_downloads = [Download(name, f"http://127.0.0.1:8470/{name}.bin", GROUP, size=4 * KiB,
                                destination=f"{name}.bin") for name in "ab"]
    plan = check_plan(context, given_downloads)
    assert [d.id for d in plan.accepted] == ["a"]
    assert [r.reason.split(" of ")[0] for r in plan.rejections] == [
        "needs 4096 bytes but only 1024"]
