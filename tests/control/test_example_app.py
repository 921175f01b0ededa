"""examples/wwdc-sessions/session_manager.py, end to end: a real daemon serving the demo
content, and the example app in its own process.

One session is taken off the disk before the app starts, so the app finds it missing,
schedules it itself, and moves the finished file into place under exclusive control.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.control.daemon_apps import running_daemon

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "wwdc-sessions" / "session_manager.py"
APP_ID, GROUP = "com.example.wwdc-sessions", "group.com.example.wwdc-sessions"
pytestmark = pytest.mark.timeout(240)


def bgassets(state: Path, *args: str, **options) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orchestrator", "--state-dir", str(state),
                           *args], capture_output=True, text=True, timeout=120, **options)


def downloads(state: Path) -> list[dict]:
    answer = bgassets(state, "downloads", "--json")
    assert answer.returncode == 0, answer.stderr
    return json.loads(answer.stdout)


def test_the_example_app_adopts_the_sessions_and_fetches_a_missing_one(tmp_path, short_state):
    state = short_state
    apps = tmp_path / "apps"
    made = bgassets(state, "init", str(apps / "wwdc-sessions"), "--example", "wwdc-sessions")
    assert made.returncode == 0, made.stderr
    catalog = json.loads((apps / "wwdc-sessions" / "catalog.json").read_text())
    with running_daemon(state, str(apps), "--serve-demo"):
        ids = {asset["id"] for asset in catalog["assets"]}
        deadline = time.monotonic() + 180
        while {row["download"] for row in downloads(state)
               if row["app"] == APP_ID and row["state"] == "finished"} < ids:
            assert time.monotonic() < deadline, "the extension never fetched every session"
            time.sleep(0.5)
        sessions = state / "containers" / GROUP / "sessions"
        taken = sessions / Path(catalog["assets"][-1]["url"]).name
        taken.unlink()  # as if the app had deleted it to save space
        app = subprocess.run([sys.executable, str(EXAMPLE), "--state-dir", str(state),
                              "--timeout", "120"], capture_output=True, text=True,
                             timeout=180, cwd=tmp_path)
        assert app.returncode == 0, app.stdout + app.stderr
        missing_id = catalog["assets"][-1]["id"]
        assert f"  {missing_id}: scheduled" in app.stdout
        assert f"  finished {missing_id} -> {taken}" in app.stdout
        essential = [a["id"] for a in catalog["assets"] if a.get("essential")]
        assert all(any(line.startswith(f"* {i} ") for line in app.stdout.splitlines())
                   for i in essential)
        asset = catalog["assets"][-1]
        assert hashlib.sha256(taken.read_bytes()).hexdigest() == asset["sha256"]
