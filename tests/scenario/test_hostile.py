"""Hostile scenario documents: whatever a Scenario file holds, ``validate`` answers with
located problems and loading it gives a scenario or a ManifestError, never a traceback,
and nothing it says makes the runner lay out more than a bounded number of steps."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.bundled import manifests_dir
from orchestrator.errors import ManifestError
from orchestrator.manifests import load_scenario, validate_paths
from orchestrator.model.scenario import MAX_STEPS

LIBRARY = sorted((manifests_dir() / "scenarios").glob("*.yaml"))
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["0s", "1e400d", "5x", "essential", "all", "-3d", "99999999999d",
                     "1d", "0.000001s", "absent", "../nowhere.yaml", "/", "@", "500:99x@",
                     "2026-13-45T99:00:00Z", "reset:2x@/a/*", "install", "{}"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12) | st.sampled_from(
        ["at", "every", "until", "install", "expect", "device", "server", "wait", "app",
         "finished", "files", "faults", "storage", "catalog", "version"]), inner,
        max_size=4)), max_leaves=12)


def paths(node: Any, where: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [where]
    if isinstance(node, dict):
        for key, child in node.items():
            found += paths(child, (*where, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += paths(child, (*where, index))
    return found


def replaced(data: Any, where: tuple[Any, ...], value: Any) -> Any:
    if not where:
        return value
    data = copy.deepcopy(data)
    node = data
    for part in where[:-1]:
        node = node[part]
    node[where[-1]] = value
    return data


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(source=st.sampled_from(LIBRARY), pick=st.integers(min_value=0), value=VALUES)
def test_a_mangled_scenario_is_answered_not_crashed_on(tmp_path: Path, source: Path,
                                                       pick: int, value: Any) -> None:
    data = yaml.safe_load(source.read_text())
    apps = data["spec"]["app"]
    data["spec"]["app"] = str((source.parent / apps).resolve())
    where = paths(data)[pick % len(paths(data))]
    target = tmp_path / "mangled.yaml"
    target.write_text(yaml.safe_dump(replaced(data, where, value), sort_keys=False))
    problems = validate_paths([target])
    try:
        scenario = load_scenario(target)
    except ManifestError as error:
        assert problems, f"load refused what validate accepted: {error}"
        assert str(target) in str(error)
        return
    assert problems == []
    assert len(scenario.steps) <= MAX_STEPS
