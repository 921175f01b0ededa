"""The bundled scenario library plays green: each scenario of ``manifests/scenarios/``
runs on a real orchestrator, dev server and journal, on a virtual clock."""

from __future__ import annotations

import pytest

from orchestrator.bundled import manifests_dir
from orchestrator.manifests import load_scenario
from orchestrator.scenario import ScenarioRun

LIBRARY = sorted((manifests_dir() / "scenarios").glob("*.yaml"))


def test_the_library_has_the_expected_scenarios():
    names = {path.stem for path in LIBRARY}
    assert {"first-install-metered", "essential-fails-then-background", "unused-for-a-week",
            "in-app-content-off", "storage-pressure", "flaky-server", "allotment-formula",
            "periodic-interval-formula"} <= names


@pytest.mark.parametrize("path", LIBRARY, ids=[p.stem for p in LIBRARY])
async def test_scenario_passes(path, tmp_path):
    scenario = load_scenario(path)
    result = await ScenarioRun(scenario, tmp_path).run()
    failed = [f"{f.step}: {m}" for f in result.failures for m in f.messages]
    assert failed == []
    # Every step left a line on the timeline, and time really was virtual.
    assert {line.step for line in result.lines if line.step} == {
        step.where for step in scenario.steps}
    assert result.virtual_seconds >= scenario.steps[-1].at
