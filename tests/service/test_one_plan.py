"""`bgassets plan` prints the plan the service then schedules: one pipeline, not two.

The same app (allowances tight enough that some downloads are refused) is planned by
the command, in its own process, and installed by an orchestrator; the downloads
accepted, their order and the rejections with their codes must be the same.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from orchestrator.devserver.thread import serve_in_thread
from orchestrator.service import Orchestrator
from tests.service.scenario import APP_ID, Asset, KiB, Recorder, Scenario

pytestmark = pytest.mark.timeout(60)

ASSETS = [Asset("tutorial", 64 * KiB, essential=True), Asset("intro", 96 * KiB, essential=True),
          Asset("level-1", 128 * KiB, priority=90), Asset("level-2", 256 * KiB, priority=10),
          Asset("level-3", 64 * KiB, priority=60), Asset("movie", 900 * KiB, priority=80)]


async def test_the_command_and_the_service_make_the_same_plan(tmp_path):
    scene = Scenario(tmp_path, ASSETS, essential_allowance=100 * KiB,
                     download_allowance=600 * KiB)
    scene.write_content()
    with serve_in_thread(scene.content) as server:
        manifest = scene.write_manifests(server.url)
        printed = subprocess.run(
            [sys.executable, "-m", "orchestrator", "plan", str(manifest), "--event", "install",
             "--json"], capture_output=True, text=True, timeout=30)
        assert printed.returncode == 0, printed.stderr
        plan = json.loads(printed.stdout)
        recorder = Recorder()
        async with Orchestrator(tmp_path / "state") as orchestrator:
            orchestrator.events.subscribe(recorder)
            await orchestrator.install(manifest)
            await orchestrator.wait(APP_ID, "all", timeout=30)
    scheduled = [e["download"] for e in recorder.named("download.scheduled")]
    rejected = [(e["download"], e["code"]) for e in recorder.named("plan.rejected")]
    assert [d["id"] for d in plan["downloads"]] == scheduled
    assert [(r["download"], r["code"]) for r in plan["rejections"]] == rejected
    assert rejected and len(scheduled) >= 2, (scheduled, rejected)  # some refused, not all
