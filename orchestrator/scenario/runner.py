"""Play a scenario: a real orchestrator and dev server on a virtual clock.

Bytes really move over loopback, handlers really run, and the journal is a real
SQLite file in a scratch state dir; only time is virtual. While anything transfers or
runs, it passes at the machine's pace; once nothing has for a few turns of the event
loop, it jumps to the next moment someone sleeps until (a retry's backoff, the next
periodic check) or the next step, whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from orchestrator.clock import VirtualClock
from orchestrator.devserver import DevServer
from orchestrator.errors import BackgroundAssetsError, ManifestError
from orchestrator.events import Event, describe
from orchestrator.manifests import load_app
from orchestrator.model.app import App
from orchestrator.model.device import Device
from orchestrator.model.scenario import Action, Scenario, ServerSettings, Step
from orchestrator.scenario.checks import Present, failures
from orchestrator.scenario.observed import NOTABLE, Observed
from orchestrator.scenario.stage import copy_manifest, merged, serve_content, starting_device
from orchestrator.service import Orchestrator
from orchestrator.service.controls import LocalControls
from orchestrator.service.views import download_views

T = TypeVar("T")
DAY = 86_400.0
# "wait: essential" and "wait: all" give up after this much virtual time.
WAIT_LIMIT = 30 * DAY
# The periodic scheduler looks at least this often (virtual seconds) whether a run is
# due, besides waking when the next one is.
PERIODIC_CHECK = 3600.0


@dataclass(frozen=True)
class Line:
    """One line of the timeline: a step and its outcome, or an event worth showing."""

    at: float
    what: str
    subject: str = ""
    outcome: str = ""
    ok: bool = True
    step: str | None = None  # spec.steps[N] for a step's line

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"at": round(self.at, 3), "what": self.what,
                                "subject": self.subject, "outcome": self.outcome,
                                "ok": self.ok}
        if self.step is not None:
            data["step"] = self.step
        return data


@dataclass(frozen=True)
class Failure:
    """An expectation that did not hold, or a step that could not be done."""

    step: str
    at: float
    messages: tuple[str, ...]


@dataclass
class Result:
    """How one scenario went."""

    scenario: Scenario
    lines: list[Line] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    real_seconds: float = 0.0
    virtual_seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.failures


class ScenarioRun:
    """One play of ``scenario`` in the scratch folder ``work`` (a state dir is made in
    it); ``on_line`` sees each timeline line as it happens."""

    clock: VirtualClock  # made when the play starts

    def __init__(self, scenario: Scenario, work: Path,
                 on_line: Callable[[Line], None] | None = None) -> None:
        self.scenario = scenario
        self.work = work
        self.on_line = on_line
        self.observed = Observed()
        self.result = Result(scenario)
        self.manifests: dict[str, Path] = {}  # app id -> the manifest installed
        self.apps: dict[str, App] = {}
        self._device_spec: dict[str, Any] = {}
        self._device_name = "scenario"
        self._catalog_paths: dict[str, Path] = {}  # app id -> served catalog file
        self._orchestrator: Orchestrator | None = None
        self._controls_of: LocalControls | None = None
        self._server: DevServer | None = None

    # Running ---------------------------------------------------------------------------

    async def run(self) -> Result:
        """Play every step; a scenario that cannot start raises ManifestError."""
        started = time.monotonic()
        self._load_apps()
        device = self._initial_device()
        served = serve_content(self.scenario, self.apps, list(self.manifests.values()),
                               self.work / "served")
        self._catalog_paths, port = served.catalogs, served.port
        server = DevServer(served.root, port=port, faults=self.scenario.server.faults or (),
                           rate_per_connection=self.scenario.server.rate_per_connection or None)
        try:
            await server.start()
        except OSError as error:
            raise ManifestError(
                f"{self.scenario.file}: cannot serve the apps' content on 127.0.0.1:{port}, "
                f"the port their manifestURL names: {error.strerror or error}; stop what "
                "uses it (a `bgassets run` or `serve`?)") from None
        self._server = server
        # Its zero is the play's start: making the served content takes no virtual time.
        self.clock = VirtualClock(self.scenario.start)
        try:
            async with Orchestrator(self.work / "state", device=device,
                                    clock=self.clock) as orchestrator:
                self._orchestrator = orchestrator
                self._controls_of = LocalControls(orchestrator)
                orchestrator.events.subscribe(self.observed)
                orchestrator.events.subscribe(self._event)
                periodic = asyncio.create_task(orchestrator.periodic_loop(PERIODIC_CHECK))
                try:
                    for step in self.scenario.steps:
                        await self._until(step.at)
                        await self._step(step)
                finally:
                    periodic.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await periodic
        finally:
            await server.stop()
        self.result.real_seconds = time.monotonic() - started
        self.result.virtual_seconds = self.clock.elapsed
        return self.result

    async def _until(self, target: float, done: Callable[[], bool] | None = None) -> bool:
        """Let virtual time run to ``target``; True as soon as ``done()`` holds."""
        return await self.clock.run_until(target, activity=lambda: self.observed.count,
                                          done=done)

    # Steps -------------------------------------------------------------------------------

    async def _step(self, step: Step) -> None:
        if step.app is not None and step.app not in self.apps:
            self._fail(step, [f"{step.app} is not an app of this scenario "
                              f"({', '.join(sorted(self.apps))})"])
            return
        action = _STEPS[step.action]
        await action(self, step)

    def _targets(self, step: Step) -> list[str]:
        return [step.app] if step.app else list(self.apps)

    async def _lifecycle(self, step: Step) -> None:
        for app_id in self._targets(step):
            try:
                outcome = await self._act(step, app_id, self._controls())
            except BackgroundAssetsError as error:
                self.observed.saw_code(app_id, int(error.code))
                outcome = f"refused: {int(error.code)} {error.code.title}: {error}"
            self._line(step, app_id, outcome)

    async def _act(self, step: Step, app_id: str, controls: LocalControls) -> str:
        if step.action == Action.INSTALL:
            await self._driving(controls.install(None, self.manifests[app_id]))
            return "installed; " + self._state(app_id)
        if step.action == Action.UPDATE:
            manifest = step.manifest or copy_manifest(
                self.manifests[app_id], self.work / "manifests", f"{app_id}-{step.version}",
                version=step.version)
            await self._driving(controls.update(None, manifest))
            self.manifests[app_id] = manifest
            return "updated; " + self._state(app_id)
        if step.action == Action.LAUNCH:
            await controls.launch(app_id)
            return "launched"
        if step.action == Action.TERMINATE:
            await controls.terminate(app_id)
            return "terminated"
        await self._driving(controls.periodic(app_id))
        return "periodic request made"

    async def _driving(self, work: Awaitable[T]) -> T:
        """``work``'s answer, virtual time running meanwhile: an install's catalog waits
        between tries on the clock like any download."""
        task = asyncio.ensure_future(work)
        await self._until(self.clock.elapsed + WAIT_LIMIT, task.done)
        return await task

    async def _purge(self, step: Step) -> None:
        freed = await self._controls().purge(step.purge_bytes, step.app)
        self._line(step, step.app or "", f"freed {freed:,} bytes")

    async def _device(self, step: Step) -> None:
        self._device_spec = merged(self._device_spec, step.device or {})
        try:
            device = self._make_device()
        except (ValueError, TypeError, KeyError) as error:
            self._fail(step, [f"device: {error}"])
            return
        await self._controls().set_device(device)
        self._line(step, "", _fields(step.device or {}))

    async def _server_step(self, step: Step) -> None:
        settings = step.server or ServerSettings()
        try:
            self._apply_server(settings, step.app)
        except (OSError, ValueError) as error:
            self._fail(step, [f"server: {error}"])
            return
        self._line(step, "", _server_text(settings))

    async def _wait(self, step: Step) -> None:
        orchestrator = self._running()
        if isinstance(step.wait, float):
            await self._until(self.clock.elapsed + step.wait)
            self._line(step, "", "waited")
            return
        until = str(step.wait)
        settled = await self._until(
            self.clock.elapsed + WAIT_LIMIT,
            lambda: all(orchestrator.settled(app_id, until) for app_id in self.apps))
        states = "; ".join(f"{app_id} {self._state(app_id)}" if len(self.apps) > 1
                           else self._state(app_id) for app_id in self.apps)
        if settled:
            self._line(step, "", f"{until}: done; {states}")
        else:
            self._fail(step, [f"wait {until}: still not done after {WAIT_LIMIT / DAY:g} "
                              f"days; {states}"])

    async def _expect(self, step: Step) -> None:
        assert step.expect is not None
        orchestrator = self._running()
        present = Present(
            apps=self._controls().snapshot().apps,
            downloads=download_views(orchestrator, recent=None),
            containers={a: orchestrator.layout.container(app.app_group)
                        for a, app in self.apps.items()})
        found = failures(step.expect, present, self.observed)
        if found:
            self._fail(step, found)
        else:
            self._line(step, step.app or "", "ok")

    # Set-up --------------------------------------------------------------------------------

    def _load_apps(self) -> None:
        for manifest in self.scenario.apps:
            app, _ = load_app(manifest)
            if self.scenario.extension is not None:
                manifest = copy_manifest(manifest, self.work / "manifests", f"{app.id}-override",
                                         extension=self.scenario.extension)
                app, _ = load_app(manifest)
            self.apps[app.id] = app
            self.manifests[app.id] = manifest

    def _initial_device(self) -> Device:
        self._device_name, self._device_spec = starting_device(self.scenario.device)
        return self._make_device()

    def _make_device(self) -> Device:
        return Device.from_document({"metadata": {"name": self._device_name},
                                     "spec": self._device_spec})

    def _apply_server(self, settings: ServerSettings, app_id: str | None) -> None:
        server = self._server
        assert server is not None
        if settings.faults is not None:
            server.set_faults(settings.faults)
        if settings.rate_per_connection is not None:
            server.rate_per_connection = settings.rate_per_connection or None
        if settings.catalog is not None:
            owners = [app_id] if app_id else list(self.apps)
            if len(owners) != 1:
                raise ValueError("a new catalog needs the app it is for (app: ...)")
            target = self._catalog_paths.get(owners[0])
            if target is None:
                raise ValueError(f"{owners[0]}'s catalog is not served by this scenario")
            # A new file in its place: the served one may be a hard link to the user's own.
            fresh = target.with_name(f".{target.name}.new")
            fresh.write_bytes(settings.catalog.read_bytes())
            os.replace(fresh, target)

    # Reporting -----------------------------------------------------------------------------

    def _running(self) -> Orchestrator:
        assert self._orchestrator is not None
        return self._orchestrator

    def _controls(self) -> LocalControls:
        assert self._controls_of is not None
        return self._controls_of

    def _state(self, app_id: str) -> str:
        view = self._controls().snapshot(app_id).apps.get(app_id)
        if view is None:
            return "not installed"
        return f"{view.state.value}, {view.pending} pending"

    def _event(self, event: Event) -> None:
        if event.event not in NOTABLE:
            return
        told = describe(event) or ""
        self._emit(Line(self.clock.elapsed, str(event.event), event.app or "",
                        told.removeprefix(str(event.event)).strip()))

    def _line(self, step: Step, subject: str, outcome: str) -> None:
        self._emit(Line(self.clock.elapsed, step.action.value, subject, outcome,
                        step=step.where))

    def _fail(self, step: Step, messages: list[str]) -> None:
        self.result.failures.append(Failure(step.where, self.clock.elapsed, tuple(messages)))
        self._emit(Line(self.clock.elapsed, step.action.value, step.app or "",
                        "; ".join(messages), ok=False, step=step.where))

    def _emit(self, line: Line) -> None:
        self.result.lines.append(line)
        if self.on_line is not None:
            self.on_line(line)


_STEPS: dict[Action, Callable[[ScenarioRun, Step], Any]] = {
    Action.INSTALL: ScenarioRun._lifecycle, Action.UPDATE: ScenarioRun._lifecycle,
    Action.LAUNCH: ScenarioRun._lifecycle, Action.TERMINATE: ScenarioRun._lifecycle,
    Action.PERIODIC: ScenarioRun._lifecycle, Action.PURGE: ScenarioRun._purge,
    Action.DEVICE: ScenarioRun._device, Action.SERVER: ScenarioRun._server_step,
    Action.WAIT: ScenarioRun._wait, Action.EXPECT: ScenarioRun._expect,
}


def _fields(change: Mapping[str, Any], prefix: str = "") -> str:
    """``lowPowerMode false, network.metered true``."""
    parts = []
    for key, value in change.items():
        if isinstance(value, Mapping):
            parts.append(_fields(value, f"{prefix}{key}."))
        else:
            parts.append(f"{prefix}{key} {yaml.safe_dump(value).strip().removesuffix('...')}"
                         .strip())
    return ", ".join(p for p in parts if p)


def _server_text(settings: ServerSettings) -> str:
    parts = []
    if settings.faults is not None:
        parts.append("faults " + (", ".join(settings.faults) or "none"))
    if settings.rate_per_connection is not None:
        parts.append(f"rate {settings.rate_per_connection:,} B/s per connection"
                     if settings.rate_per_connection else "no rate limit")
    if settings.catalog is not None:
        parts.append(f"catalog {settings.catalog.name}")
    return ", ".join(parts)
