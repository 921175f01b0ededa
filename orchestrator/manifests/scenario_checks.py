"""A Scenario's own checks, beyond its schema: the files it names are there, and its
times and steps make sense together."""

from __future__ import annotations

from pathlib import Path

from orchestrator.manifests.problems import PathTuple, dotted
from orchestrator.manifests.sources import Source
from orchestrator.model.scenario import Action, parse_duration, parse_start, timeline


def check_scenario(scenario: Source) -> None:
    """Named files and folders exist; ``until`` is not before ``at``; ``files`` checks
    name their app when there are several; the start time parses."""
    base = Path(scenario.directory or ".")
    spec = scenario.get("spec") or {}
    apps = spec.get("app")
    several = isinstance(apps, list) and len(apps) > 1
    if isinstance(apps, list):
        for index, app in enumerate(apps):
            _file(scenario, base, ("spec", "app", index), app)
    else:
        _file(scenario, base, ("spec", "app"), apps)
    if "extension" in spec:
        if several:
            scenario.report(("spec", "extension"), "spec.extension: an extension override "
                            "needs a single app in spec.app")
        _file(scenario, base, ("spec", "extension"), spec["extension"])
    if isinstance(spec.get("device"), str):
        _file(scenario, base, ("spec", "device"), spec["device"])
    _server(scenario, base, ("spec", "server"), spec.get("server"))
    if "start" in spec:
        try:
            parse_start(spec["start"])
        except ValueError as error:
            scenario.report(("spec", "start"), f"spec.start: {error}")
    for index, step in enumerate(spec.get("steps") or []):
        _step(scenario, base, ("spec", "steps", index), step, several)
    if not scenario.problems:
        try:
            timeline(spec.get("steps") or [], base)
        except ValueError as error:
            scenario.report(("spec", "steps"), f"spec.steps: {error}")


def _step(scenario: Source, base: Path, path: PathTuple, step: dict[str, object],
          several: bool) -> None:
    actions = [action.value for action in Action if action.value in step]
    if len(actions) != 1:
        found = f"it has {' and '.join(actions)}" if actions else "it has none"
        scenario.report(path, f"{dotted(path)}: a step has exactly one action ({found}): "
                        + ", ".join(action.value for action in Action))
    at, every, until = (_seconds(scenario, (*path, key), step.get(key))
                        for key in ("at", "every", "until"))
    if at is not None and until is not None and until < at:
        scenario.report((*path, "until"), f"{dotted((*path, 'until'))}: {step['until']} is "
                        f"before the step's at ({step['at']})")
    if every == 0:
        scenario.report((*path, "every"), f"{dotted((*path, 'every'))}: must be more than 0")
    update = step.get("update")
    if isinstance(update, dict) and "manifest" in update:
        _file(scenario, base, (*path, "update", "manifest"), update["manifest"])
    _server(scenario, base, (*path, "server"), step.get("server"))
    expect = step.get("expect")
    if several and isinstance(expect, dict) and "files" in expect and "app" not in expect:
        scenario.report((*path, "expect", "files"), f"{dotted((*path, 'expect', 'files'))}: "
                        "the scenario has several apps: say whose container with app")


def _server(scenario: Source, base: Path, path: PathTuple, server: object) -> None:
    if not isinstance(server, dict):
        return
    if "content" in server:
        _file(scenario, base, (*path, "content"), server["content"], folder=True)
    if "catalog" in server:
        _file(scenario, base, (*path, "catalog"), server["catalog"])


def _file(scenario: Source, base: Path, path: PathTuple, name: object, *,
          folder: bool = False) -> None:
    target = base / str(name)
    found = target.is_dir() if folder else target.is_file()
    if not found:
        what = "folder" if folder else "file"
        scenario.report(path, f"{dotted(path)}: no such {what} {target}")


def _seconds(scenario: Source, path: PathTuple, value: object) -> float | None:
    """The duration at ``path`` in seconds (None when there is none, or it is reported)."""
    if value is None:
        return None
    try:
        return parse_duration(value)  # type: ignore[arg-type]
    except ValueError as error:
        scenario.report(path, f"{dotted(path)}: {error}")
        return None
