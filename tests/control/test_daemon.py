"""`bgassets daemon` and the commands that talk to it, over the real Unix socket."""

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys

import pytest

from orchestrator.control import ControlClient, socket_path
from orchestrator.devserver.thread import serve_in_thread
from orchestrator.errors import BackgroundAssetsError
from tests.service.scenario import APP_ID, Asset, KiB, MiB, Scenario


def cli(state, *args):
    return subprocess.run([sys.executable, "-m", "orchestrator", "--state-dir", str(state),
                           *args], capture_output=True, text=True, timeout=30)


@pytest.fixture
def daemon(tmp_path, short_state):
    scene = Scenario(tmp_path, [Asset("tutorial", 64 * KiB, essential=True),
                                Asset("movie", 8 * MiB, priority=90),
                                Asset("extra", 8 * MiB, priority=10)])
    scene.write_content()
    state = short_state
    with serve_in_thread(scene.content, rate_per_connection=512 * KiB) as server:
        scene.write_manifests(server.url)
        apps = tmp_path / "apps"
        (apps / "game").mkdir(parents=True)
        for name in ("app.yaml", "extension.yaml"):
            (apps / "game" / name).write_text((scene.root / "manifests" / name).read_text())
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "--state-dir", str(state), "daemon",
             str(apps)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = process.stdout.readline()
            assert "listening on" in line, process.stderr.read()
            yield state, process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=20)


def wait_for(state, predicate, timeout=20):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        downloads = json.loads(cli(state, "downloads", "--json").stdout)
        if predicate(downloads):
            return downloads
        time.sleep(0.1)
    raise AssertionError("condition not reached")


def test_status_downloads_and_actions_through_the_socket(daemon):
    state, process = daemon
    mode = stat.S_IMODE(os.stat(socket_path(state)).st_mode)
    assert mode == 0o600
    wait_for(state, lambda rows: any(r["download"] == "tutorial" and r["state"] == "finished"
                                     for r in rows))
    status = json.loads(cli(state, "status", "--json").stdout)
    assert status["apps"][0]["app"] == APP_ID and status["apps"][0]["state"] == "launchable"

    paused = cli(state, "pause", "extra")
    assert paused.returncode == 0 and "pause: extra" in paused.stdout
    refused = cli(state, "promote", "movie")
    assert refused.returncode == 1 and "error 51" in refused.stderr
    cancelled = cli(state, "cancel", "extra")
    assert cancelled.returncode == 0
    rows = wait_for(state, lambda rows: any(r["download"] == "extra" and r["state"] == "failed"
                                            for r in rows))
    assert [r["error"] for r in rows if r["download"] == "extra"] == [1040]
    text = cli(state, "downloads")
    assert "movie" in text.stdout and text.returncode == 0

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    assert not socket_path(state).exists()
    gone = cli(state, "status")
    assert gone.returncode == 1 and "start one with `bgassets daemon`" in gone.stderr
    assert "error 1072 daemonNotRunning" in gone.stderr


def test_an_app_scoped_client_sees_and_changes_only_its_app(daemon):
    state, _ = daemon
    wait_for(state, lambda rows: any(r["download"] == "tutorial" and r["state"] == "finished"
                                     for r in rows))

    async def scenario():
        async with ControlClient(socket_path(state), app=APP_ID) as client:
            status = await client.status()
            assert [a["app"] for a in status["apps"]] == [APP_ID]
            await client.app_action(APP_ID, "launch")
            promoted = await client.act("movie", "promote")
            assert promoted["action"] == "promote"
            with pytest.raises(BackgroundAssetsError) as refused:
                await client.purge(None)
            assert refused.value.code == 50
        async with ControlClient(socket_path(state), app="com.example.other") as stranger:
            with pytest.raises(BackgroundAssetsError) as unknown:
                await stranger.status()
            assert unknown.value.code == 1051

    asyncio.run(scenario())


def test_a_second_daemon_on_the_same_state_dir_is_refused(daemon):
    state, first = daemon
    second = cli(state, "daemon")
    assert second.returncode == 1
    assert "error 1071 stateDirBusy: another bgassets daemon already listens" in second.stderr
    assert "Traceback" not in second.stderr
    assert first.poll() is None
    status = cli(state, "status", "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["apps"]
