"""Scenario steps against real parts: two apps made by the scaffold, their catalogs and
files in a folder the scenario's dev server serves on a free loopback port."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from orchestrator.bundled.editor import write_files
from orchestrator.bundled.scaffold import Identity, scaffold_files
from orchestrator.manifests import load_scenario
from orchestrator.scenario import ScenarioRun
from tests.support.ports import free_port

GAME, MAPS = "com.example.game", "com.example.maps"


def asset(content: Path, app: str, name: str, size: int, *, essential: bool = False) -> dict:
    data = hashlib.sha256(f"{app}/{name}".encode()).digest() * (size // 32)
    path = content / app / "files" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"id": name.split(".")[0], "url": f"files/{name}", "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), "essential": essential}


def world(root: Path) -> dict[str, str]:
    """Both apps and their content; version 2 of game's catalog beside the scenario. The
    sha256 of each file by its container path."""
    port, content = free_port(), root / "content"
    sums = {}
    for app_id in (GAME, MAPS):
        name = app_id.rsplit(".", 1)[1]
        url = f"http://127.0.0.1:{port}/{name}/catalog.json"
        write_files(scaffold_files(root / "apps" / name, root / "apps" / "schemas",
                                   Identity(app_id, "EXAMPLE123", name, url), None))
        first = [asset(content, name, "intro.bin", 64 * 1024, essential=True),
                 asset(content, name, "level-1.bin", 256 * 1024)]
        (content / name / "catalog.json").write_text(json.dumps({"version": "1",
                                                                  "assets": first}))
        sums.update({f"{name}/{a['id']}": a["sha256"] for a in first})
    added = asset(content, "game", "level-2.bin", 128 * 1024)
    second = json.loads((content / "game" / "catalog.json").read_text())
    second["assets"].append(added)
    (root / "game-v2.json").write_text(json.dumps({"version": "2", "assets": second["assets"]}))
    sums["game/level-2"] = added["sha256"]
    return sums


async def play(root: Path, steps: str):
    path = root / "steps.yaml"
    path.write_text(f"""apiVersion: bgassets/v1
kind: Scenario
metadata: {{name: steps}}
spec:
  app: [apps/game/app.yaml, apps/maps/app.yaml]
  server: {{content: content}}
  steps:
{steps}""")
    return await ScenarioRun(load_scenario(path), root / "work").run()


def messages(result) -> list[str]:
    return [f"{f.step}: {m}" for f in result.failures for m in f.messages]


async def test_an_update_to_a_new_catalog_fetches_what_it_adds(tmp_path):
    sums = world(tmp_path)
    served = tmp_path / "content" / "game" / "catalog.json"
    before = served.read_bytes()
    result = await play(tmp_path, f"""\
    - {{at: 0s, install: {{}}}}
    - {{at: 0s, wait: all}}
    - at: 1m
      expect: {{finished: 4}}
    - {{at: 1h, server: {{catalog: game-v2.json, app: {GAME}}}}}
    - {{at: 1h, update: {{version: "1.1", app: {GAME}}}}}
    - {{at: 1h, wait: all}}
    - at: 2h
      expect:
        app: {GAME}
        finished: [intro, level-1, level-2]
        events: [app.installed, extension.request, download.finished]
        files:
          assets/level-2.bin: {sums["game/level-2"]}
    - at: 2h
      expect: {{app: {MAPS}, finished: 2, files: {{assets/level-2.bin: absent}}}}
""")
    assert messages(result) == []
    assert served.read_bytes() == before  # the new catalog never lands in the user's folder
    updates = [line for line in result.lines if line.what == "update"]
    assert [line.subject for line in updates] == [GAME]
    assert updates[0].outcome.startswith("updated")


async def test_offline_requests_wait_and_a_failed_expectation_says_what_it_found(tmp_path):
    world(tmp_path)
    result = await play(tmp_path, f"""\
    - {{at: 0s, device: {{network: {{online: false}}}}}}
    - {{at: 0s, install: {{app: {GAME}}}}}
    - at: 10m
      expect: {{app: {GAME}, launchable: false, finished: 0}}
    - {{at: 1h, device: {{network: {{online: true}}}}}}
    - {{at: 1h, wait: essential}}
    - at: 2h
      expect: {{app: {GAME}, launchable: true, waiting: {{atMost: 1}}}}
    - at: 2h
      expect: {{app: {GAME}, finished: 99, periodicRuns: {{atLeast: 5}}}}
    - {{at: 3h, launch: {{app: com.example.nobody}}}}
""")
    failures = {f.step: f.messages for f in result.failures}
    assert set(failures) == {"spec.steps[6]", "spec.steps[7]"}
    assert failures["spec.steps[6]"][0].startswith("finished: expected 99 downloads, found 2")
    assert failures["spec.steps[6]"][1] == "periodic runs: expected at least 5, found 0"
    assert "com.example.nobody is not an app of this scenario" in failures["spec.steps[7]"][0]
    # The failure is at its step's moment of virtual time.
    assert [f.at // 3600 for f in result.failures] == [2, 3]


async def test_only_transient_failures_are_tried_again_by_the_extension_policy(tmp_path):
    """onFailure.retries (3 in the scaffold) brings back a background download that got
    5xx answers, after a backoff on the clock; a 404 fails for good at once."""
    world(tmp_path)
    catalog = tmp_path / "content" / "game" / "catalog.json"
    data = json.loads(catalog.read_text())
    gone = asset(tmp_path / "content", "game", "gone.bin", 32 * 1024)
    (tmp_path / "content" / "game" / "files" / "gone.bin").unlink()
    catalog.write_text(json.dumps({**data, "assets": [*data["assets"], gone]}))
    result = await play(tmp_path, f"""\
    - {{at: 0s, server: {{faults: ["500:6x@/maps/files/level-1.bin"]}}}}
    - {{at: 0s, install: {{}}}}
    - {{at: 0s, wait: all}}
    - at: 1h
      expect: {{app: {GAME}, failed: [gone], finished: [intro, level-1]}}
    - at: 1h
      expect:
        app: {MAPS}
        failed: 0
        finished: [intro, level-1]
        events: [download.failed, download.reenqueued, download.finished]
""")
    assert messages(result) == []
    failed = [line for line in result.lines if line.what == "download.failed"]
    assert sorted(line.subject for line in failed) == [GAME, MAPS]
    waited = next(line for line in result.lines if line.what == "wait")
    assert waited.at >= 30  # the maps download came back after the policy's backoff
