"""A scenario: timed steps of device life and the expectations that must hold.

Plain data, built from a schema-validated ``kind: Scenario`` document; the runner in
``orchestrator.scenario`` plays it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from orchestrator.model.units import parse_size

DEFAULT_START = "2026-01-05T08:00:00Z"
# A scenario spans at most this much virtual time, and its repeated steps lay out at most
# this many steps: past them it is refused, rather than run for ages or fill the memory.
MAX_SPAN = 3650 * 86_400.0
MAX_STEPS = 100_000
_DURATION_RE = re.compile(r"^[ \t]*([0-9]+(?:\.[0-9]+)?)[ \t]*([smhd]?)[ \t]*$")
_SECONDS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0}


def parse_duration(value: int | float | str) -> float:
    """Seconds in ``90s``, ``5m``, ``2h``, ``3d`` or a plain number; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{value!r} is not a duration: write a number of seconds from 0")
        return float(value)
    match = _DURATION_RE.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a duration: write a number and s, m, h or d")
    return float(match.group(1)) * _SECONDS[match.group(2)]


def format_duration(seconds: float) -> str:
    """``3d 04:05:06`` or ``04:05:06.2``: virtual time as the timeline shows it."""
    days, rest = divmod(max(0.0, seconds), 86_400.0)
    hours, rest = divmod(rest, 3600.0)
    minutes, secs = divmod(rest, 60.0)
    clock = f"{int(hours):02d}:{int(minutes):02d}:{secs:04.1f}"
    return f"{int(days)}d {clock}" if days else clock


class Action(StrEnum):
    """What a step does; the value is its key in the document."""

    INSTALL = "install"
    UPDATE = "update"
    LAUNCH = "launch"
    TERMINATE = "terminate"
    PERIODIC = "periodic"
    PURGE = "purge"
    DEVICE = "device"
    SERVER = "server"
    WAIT = "wait"
    EXPECT = "expect"


@dataclass(frozen=True)
class Bound:
    """A number that must be exactly ``equal``, or within ``at_least`` .. ``at_most``."""

    equal: float | None = None
    at_least: float | None = None
    at_most: float | None = None

    def holds(self, value: float) -> bool:
        if self.equal is not None:
            return value == self.equal
        return (self.at_least is None or value >= self.at_least) and \
            (self.at_most is None or value <= self.at_most)

    def describe(self, unit: str = "") -> str:
        """``7``, ``at least 2``, ``between 6 and 8`` (with ``unit`` after each number)."""
        def shown(number: float) -> str:
            return f"{number:g}{unit}"

        if self.equal is not None:
            return shown(self.equal)
        if self.at_least is not None and self.at_most is not None:
            return f"between {shown(self.at_least)} and {shown(self.at_most)}"
        if self.at_least is not None:
            return f"at least {shown(self.at_least)}"
        return f"at most {shown(self.at_most)}" if self.at_most is not None else "any"

    @classmethod
    def parse(cls, value: Any, unit: Any = float) -> Bound:
        if isinstance(value, Mapping):
            low, high = value.get("atLeast"), value.get("atMost")
            return cls(at_least=None if low is None else float(unit(low)),
                       at_most=None if high is None else float(unit(high)))
        return cls(equal=float(unit(value)))


@dataclass(frozen=True)
class DownloadCheck:
    """Which downloads must be in a state: these ids, or a count within a bound."""

    ids: tuple[str, ...] = ()
    count: Bound | None = None

    @classmethod
    def parse(cls, value: Any) -> DownloadCheck:
        if isinstance(value, list):
            return cls(ids=tuple(str(v) for v in value))
        return cls(count=Bound.parse(value, int))


ABSENT = "absent"


@dataclass(frozen=True)
class Expectation:
    """The checks of one ``expect`` step; None is "not checked"."""

    app: str | None = None
    launchable: bool | None = None
    finished: DownloadCheck | None = None
    failed: DownloadCheck | None = None
    waiting: DownloadCheck | None = None
    files: Mapping[str, str] = field(default_factory=dict)  # path -> sha256 or ABSENT
    periodic_runs: Bound | None = None
    runtime_today: Bound | None = None
    allotment: Bound | None = None
    periodic_interval: Bound | None = None
    bytes_downloaded: Bound | None = None
    codes: tuple[int, ...] = ()
    events: tuple[str, ...] = ()

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Expectation:
        def check(key: str) -> DownloadCheck | None:
            return None if key not in data else DownloadCheck.parse(data[key])

        def bound(key: str, unit: Any) -> Bound | None:
            return None if key not in data else Bound.parse(data[key], unit)

        return cls(
            app=data.get("app"), launchable=data.get("launchable"),
            finished=check("finished"), failed=check("failed"), waiting=check("waiting"),
            files={str(k): str(v).lower() for k, v in (data.get("files") or {}).items()},
            periodic_runs=bound("periodicRuns", int),
            runtime_today=bound("runtimeToday", parse_duration),
            allotment=bound("allotment", parse_duration),
            periodic_interval=bound("periodicInterval", parse_duration),
            bytes_downloaded=bound("bytesDownloaded", parse_size),
            codes=tuple(int(c) for c in data.get("codes") or ()),
            events=tuple(str(e) for e in data.get("events") or ()))


@dataclass(frozen=True)
class ServerSettings:
    """What a ``server`` block sets; None leaves the setting as it is."""

    content: Path | None = None
    rate_per_connection: int | None = None
    faults: tuple[str, ...] | None = None
    catalog: Path | None = None
    app: str | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any] | None, base: Path) -> ServerSettings:
        data = data or {}
        rate = data.get("ratePerConnection")
        faults = data.get("faults")
        return cls(
            content=base / data["content"] if "content" in data else None,
            rate_per_connection=None if rate is None else parse_size(rate),
            faults=None if faults is None else tuple(str(f) for f in faults),
            catalog=base / data["catalog"] if "catalog" in data else None,
            app=data.get("app"))


@dataclass(frozen=True)
class Step:
    """One action at virtual second ``at``; ``index`` is its place in ``spec.steps``."""

    index: int
    at: float
    action: Action
    app: str | None = None
    # The action's own settings: the update's manifest or version, the device fields, the
    # server settings, the wait, the expectation, the purge's bytes.
    manifest: Path | None = None
    version: str | None = None
    device: Mapping[str, Any] | None = None
    server: ServerSettings | None = None
    wait: str | float | None = None
    expect: Expectation | None = None
    purge_bytes: int | None = None

    @property
    def where(self) -> str:
        """``spec.steps[3]``: the step's place, for messages."""
        return f"spec.steps[{self.index}]"


@dataclass(frozen=True)
class Scenario:
    """A scenario document, its paths made absolute (relative to the document)."""

    name: str
    file: Path
    apps: tuple[Path, ...]
    steps: tuple[Step, ...]
    start: float
    description: str = ""
    extension: Path | None = None
    device: Path | Mapping[str, Any] | None = None
    server: ServerSettings = field(default_factory=ServerSettings)

    @classmethod
    def from_document(cls, data: Mapping[str, Any], file: Path) -> Scenario:
        """Build from a schema-validated document; repeated steps are laid out in time."""
        base = file.parent
        spec = data["spec"]
        apps = spec["app"] if isinstance(spec["app"], list) else [spec["app"]]
        device = spec.get("device")
        return cls(
            name=data["metadata"]["name"], file=file,
            description=data["metadata"].get("description", ""),
            apps=tuple(base / a for a in apps),
            extension=base / spec["extension"] if "extension" in spec else None,
            device=base / device if isinstance(device, str) else device,
            server=ServerSettings.parse(spec.get("server"), base),
            start=parse_start(spec.get("start", DEFAULT_START)),
            steps=timeline(spec["steps"], base))


def parse_start(text: str) -> float:
    """Epoch seconds of an RFC 3339 time such as ``2026-01-05T08:00:00Z``."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} names no time zone: end it with Z for UTC")
    return moment.timestamp()


def timeline(steps: Sequence[Mapping[str, Any]], base: Path) -> tuple[Step, ...]:
    """Every step at each moment it happens, in time order (the written order within a
    moment)."""
    laid: list[Step] = []
    for index, data in enumerate(steps):
        first = parse_duration(data["at"])
        moments = [first]
        if "every" in data:
            every, until = parse_duration(data["every"]), parse_duration(data["until"])
            if every <= 0:
                raise ValueError(f"spec.steps[{index}].every must be more than 0")
            count = int((until - first) // every) + 1 if until >= first else 0
            if len(laid) + count > MAX_STEPS:
                raise ValueError(f"spec.steps[{index}] repeats {count:,} times: a scenario "
                                 f"has at most {MAX_STEPS:,} steps")
            moments = [first + n * every for n in range(count)]
        if max(moments, default=0.0) > MAX_SPAN:
            raise ValueError(f"spec.steps[{index}] is more than {MAX_SPAN / 86_400:g} days "
                             "from the start")
        laid.extend(_step(index, at, data, base) for at in moments)
    return tuple(sorted(laid, key=lambda step: (step.at, step.index)))


def _step(index: int, at: float, data: Mapping[str, Any], base: Path) -> Step:
    action = next(a for a in Action if a.value in data)
    value = data[action.value]
    options = value if isinstance(value, Mapping) else {}
    app = options.get("app") if action not in (Action.DEVICE, Action.EXPECT) else None
    if action == Action.UPDATE:
        manifest = options.get("manifest")
        return Step(index, at, action, app, manifest=None if manifest is None else
                    base / manifest, version=options.get("version"))
    if action == Action.DEVICE:
        return Step(index, at, action, device=value)
    if action == Action.SERVER:
        return Step(index, at, action, app, server=ServerSettings.parse(value, base))
    if action == Action.WAIT:
        wait = value if value in ("essential", "all") else parse_duration(value)
        return Step(index, at, action, wait=wait)
    if action == Action.EXPECT:
        expectation = Expectation.parse(value)
        return Step(index, at, action, expectation.app, expect=expectation)
    if action == Action.PURGE:
        amount = options.get("bytes")
        return Step(index, at, action, app, purge_bytes=None if amount is None else
                    parse_size(amount))
    return Step(index, at, action, app)
