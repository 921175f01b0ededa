"""Whether an ``expect`` step holds: each check compares what was expected with what
the views and the events say, and a failed one says both."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.engine.staging import file_sha256
from orchestrator.model.enums import DownloadState
from orchestrator.model.scenario import ABSENT, Bound, DownloadCheck, Expectation
from orchestrator.scenario.observed import Observed, in_order
from orchestrator.service.views import AppState, AppView, DownloadView

_SHOWN_IDS = 8


@dataclass(frozen=True)
class Present:
    """The state a check reads: the apps' views, their downloads and their containers."""

    apps: Mapping[str, AppView]
    downloads: Sequence[DownloadView]
    containers: Mapping[str, Path]


def failures(expect: Expectation, present: Present, observed: Observed) -> list[str]:
    """Each check of ``expect`` that does not hold, as "expected ..., found ..."."""
    apps = [expect.app] if expect.app else sorted(present.apps)
    missing = [app for app in apps if app not in present.apps]
    if missing:
        return [f"{missing[0]} is not installed"]
    found: list[str] = []
    if expect.launchable is not None:
        found += _launchable(expect.launchable, [present.apps[a] for a in apps])
    states = _states([d for d in present.downloads if d.app in apps])
    for name, check, wanted in (("finished", expect.finished, {DownloadState.FINISHED}),
                                ("failed", expect.failed, {DownloadState.FAILED}),
                                ("waiting", expect.waiting, _PENDING)):
        if check is not None:
            found += _downloads(name, check, states, wanted)
    if expect.files:
        found += _files(expect.files, present.containers[apps[0]])
    app = expect.app
    numbers = (
        ("periodic runs", expect.periodic_runs, observed.periodic_of(app), ""),
        ("runtime today", expect.runtime_today,
         sum(present.apps[a].runtime_today for a in apps), " s"),
        ("allotment", expect.allotment, sum(present.apps[a].runtime_allotment for a in apps),
         " s"),
        ("bytes downloaded", expect.bytes_downloaded, observed.bytes_of(app), " bytes"),
    )
    for name, bound, value, unit in numbers:
        if bound is not None and not bound.holds(value):
            found.append(f"{name}: expected {bound.describe(unit)}, found {value:g}{unit}")
    if expect.periodic_interval is not None:
        found += _intervals(expect.periodic_interval,
                            {a: present.apps[a].periodic_interval for a in apps})
    missing_codes = sorted(set(expect.codes) - observed.codes_of(app))
    if missing_codes:
        seen = ", ".join(str(c) for c in sorted(observed.codes_of(app))) or "none"
        found.append(f"codes: expected {', '.join(str(c) for c in missing_codes)} to have "
                     f"been seen, seen: {seen}")
    if expect.events:
        count = in_order(observed.kinds_of(app), expect.events)
        if count < len(expect.events):
            after = f" after {expect.events[count - 1]}" if count else ""
            found.append(f"events: expected {' then '.join(expect.events)}; "
                         f"{expect.events[count]} was not seen{after}")
    return found


_LAUNCHABLE = frozenset({AppState.LAUNCHABLE, AppState.LAUNCHED})
_PENDING = frozenset({DownloadState.CREATED, DownloadState.WAITING, DownloadState.DOWNLOADING,
                      DownloadState.PAUSED})


def _launchable(wanted: bool, apps: list[AppView]) -> list[str]:
    wrong = [a for a in apps if (a.state in _LAUNCHABLE) != wanted]
    return [f"launchable: expected {str(wanted).lower()} for {a.id}, found "
            f"{str(not wanted).lower()} (state {a.state.value}, {a.pending} pending)"
            for a in wrong]


def _states(downloads: Sequence[DownloadView]) -> dict[tuple[str, str], DownloadState]:
    """Each download's latest state by app and id: a pending one over its ended record
    (an essential download re-enqueued after it failed is pending, not failed)."""
    states: dict[tuple[str, str], DownloadState] = {}
    for view in sorted(downloads, key=lambda v: v.state not in _PENDING):
        states.setdefault((view.app, view.id), view.state)
    return states


def _downloads(name: str, check: DownloadCheck,
               by_key: Mapping[tuple[str, str], DownloadState],
               wanted: frozenset[DownloadState] | set[DownloadState]) -> list[str]:
    matching = sorted(i for (_, i), state in by_key.items() if state in wanted)
    # An id check holds when that id is in the state in every app that has it.
    states: dict[str, DownloadState] = {}
    for (_, download_id), state in sorted(by_key.items(), key=lambda i: i[1] not in wanted):
        states[download_id] = state
    if check.count is not None:
        if check.count.holds(len(matching)):
            return []
        shown = ", ".join(matching[:_SHOWN_IDS]) + (" …" if len(matching) > _SHOWN_IDS else "")
        return [f"{name}: expected {check.count.describe()} downloads, found "
                f"{len(matching)}" + (f" ({shown})" if matching else "")]
    wrong = [i for i in check.ids if states.get(i) not in wanted]
    return [f"{name}: expected {i} {name}, found it "
            + (states[i].label if i in states else "not scheduled") for i in wrong]


def _files(files: Mapping[str, str], container: Path) -> list[str]:
    found = []
    for relative, wanted in files.items():
        path = container / relative
        digest = file_sha256(path) if path.is_file() else None
        if wanted == ABSENT:
            if digest is not None or path.exists():
                found.append(f"files: expected {relative} absent, found it")
        elif digest is None:
            found.append(f"files: expected {relative}, found no readable file there "
                         f"({container})")
        elif digest != wanted:
            found.append(f"files: expected {relative} with sha256 {wanted}, found {digest}")
    return found


def _intervals(bound: Bound, intervals: Mapping[str, float | None]) -> list[str]:
    found = []
    for app, interval in intervals.items():
        if interval is None:
            found.append(f"periodic interval of {app}: expected {bound.describe(' s')}, "
                         "found none (no periodic run is scheduled)")
        elif not bound.holds(round(interval, 3)):
            found.append(f"periodic interval of {app}: expected {bound.describe(' s')}, "
                         f"found {interval:g} s")
    return found
