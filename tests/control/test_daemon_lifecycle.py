"""App lifecycle, purge and the download list of a real `bgassets daemon`, from the CLI.

The daemon starts on an empty state dir; apps arrive with `bgassets install`, run
with `launch`, stop with `terminate`: the framework's rule that only a running app
may promote a download holds across the control socket.
"""

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.control import ControlClient, socket_path
from orchestrator.devserver.thread import serve_in_thread
from orchestrator.errors import BackgroundAssetsError
from tests.control.daemon_apps import (
    Asset,
    KiB,
    MiB,
    bgassets,
    running_daemon,
    write_app,
    write_content,
)

GAME, NEWS = "com.example.game", "com.example.news"
pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def served(tmp_path):
    """Content of two apps on a slow DevServer: the big game files take many seconds."""
    content = tmp_path / "content"
    write_content(content / "game", [Asset("tutorial", 64 * KiB, essential=True),
                                     Asset("movie", 8 * MiB, priority=90),
                                     Asset("extra", 8 * MiB, priority=10),
                                     Asset("cache-icons", 40 * KiB)])
    write_content(content / "news", [Asset("front", 32 * KiB), Asset("cache-thumbs", 48 * KiB)])
    with serve_in_thread(content, rate_per_connection=256 * KiB) as server:
        yield {name: write_app(tmp_path / "apps" / name, name, f"{server.url}{name}/catalog.json")
               for name in ("game", "news")}


@pytest.fixture
def daemon(tmp_path):
    with running_daemon(tmp_path / "state") as running:
        yield running


def by_id(rows, app=GAME):
    return {row["download"]: row for row in rows if row["app"] == app}


def finished(*ids, app=GAME):
    return lambda rows: all(by_id(rows, app).get(i, {}).get("state") == "finished" for i in ids)


def test_launch_lets_the_app_promote_and_terminate_takes_that_back(served, daemon):
    installed = daemon.cli("install", str(served["game"]))
    assert installed.returncode == 0, installed.stderr
    assert installed.stdout.strip() == f"install: {GAME} 1.0"
    daemon.wait_for(finished("tutorial"))
    refused = daemon.cli("promote", "movie")
    assert refused.returncode == 1 and "error 51 callFromInactiveProcessNotAllowed" in \
        refused.stderr

    launched = daemon.cli("launch", GAME)
    assert launched.returncode == 0 and launched.stdout.strip() == f"launch: {GAME}"
    assert daemon.app(GAME)["running"] is True
    assert "launched, running" in daemon.cli("status").stdout
    promoted = daemon.cli("promote", "movie")
    assert promoted.returncode == 0, promoted.stderr
    assert promoted.stdout.strip() == f"promote: movie ({GAME})"
    assert by_id(daemon.json("downloads"))["movie"]["foreground"] is True

    terminated = daemon.cli("terminate", GAME)
    assert terminated.returncode == 0 and terminated.stdout.strip() == f"terminate: {GAME}"
    assert daemon.app(GAME)["running"] is False
    again = daemon.cli("promote", "extra")
    assert again.returncode == 1, again.stdout
    assert f"bgassets promote: error 51 callFromInactiveProcessNotAllowed: {GAME} is not " \
        "running" in again.stderr
    assert by_id(daemon.json("downloads"))["extra"]["foreground"] is False


def test_install_update_and_uninstall_from_manifests(served, daemon, tmp_path):
    assert daemon.cli("install", str(served["game"])).returncode == 0
    manifest = served["game"]
    manifest.write_text(manifest.read_text().replace('version: "1.0"', 'version: "2.0"'))
    updated = daemon.cli("update", str(manifest))
    assert updated.returncode == 0 and updated.stdout.strip() == f"update: {GAME} 2.0"
    assert daemon.app(GAME)["version"] == "2.0"

    not_installed = daemon.cli("update", str(served["news"]))
    assert not_installed.returncode == 1
    assert f"error 1051 appNotInstalled: {NEWS} is not installed" in not_installed.stderr

    container = tmp_path / "state" / "containers" / f"group.{GAME}"
    assert container.is_dir()
    removed = daemon.cli("uninstall", GAME, "--json")
    assert removed.returncode == 0
    assert json.loads(removed.stdout) == {"app": GAME, "action": "uninstall", "version": None}
    assert daemon.json("status")["apps"] == [] and not container.exists()
    twice = daemon.cli("uninstall", GAME)
    assert twice.returncode == 1 and "error 1051 appNotInstalled" in twice.stderr


def test_bad_manifests_are_one_clear_error_and_the_daemon_keeps_running(daemon, tmp_path):
    missing = daemon.cli("install", str(tmp_path / "nowhere.yaml"))
    assert missing.returncode == 2
    assert missing.stderr == f"bgassets install: {tmp_path / 'nowhere.yaml'}: no such file\n"
    broken = tmp_path / "broken" / "app.yaml"
    broken.parent.mkdir()
    broken.write_text("apiVersion: bgassets/v1\nkind: App\nmetadata: {id: 1}\nspec: {}\n")
    invalid = daemon.cli("install", str(broken))
    assert invalid.returncode == 1 and "Traceback" not in invalid.stderr
    assert invalid.stderr.startswith("bgassets install: error 1001 manifestInvalid: ")
    assert f"{broken}:3:" in invalid.stderr
    assert daemon.process.poll() is None and daemon.json("status")["apps"] == []


def test_a_paused_download_says_paused_without_a_speed(served, daemon):
    assert daemon.cli("install", str(served["game"])).returncode == 0
    daemon.wait_for(lambda rows: by_id(rows).get("movie", {}).get("bytes", 0) > 0)
    assert daemon.cli("pause", "movie").returncode == 0

    movie = by_id(daemon.json("downloads"))["movie"]
    assert (movie["state"], movie["reason"], movie["speed"]) == ("paused", "paused by request",
                                                                 None)
    assert "paused" not in movie  # one state field, not a state and a flag
    line = next(line for line in daemon.cli("downloads").stdout.splitlines() if " movie " in line)
    assert " paused " in line and "(paused by request)" in line and "/s" not in line

    assert daemon.cli("resume", "movie").returncode == 0
    movie = by_id(daemon.json("downloads"))["movie"]
    assert movie["state"] in ("waiting", "downloading") and movie["reason"] is None


def test_purge_app_evicts_only_that_apps_purgeable_files(served, daemon, tmp_path):
    for name in ("game", "news"):
        assert daemon.cli("install", str(served[name])).returncode == 0
    daemon.wait_for(lambda rows: finished("cache-icons")(rows)
                    and finished("cache-thumbs", app=NEWS)(rows))
    containers = tmp_path / "state" / "containers"
    icons = containers / f"group.{GAME}" / "Library" / "Caches" / "cache-icons.bin"
    thumbs = containers / f"group.{NEWS}" / "Library" / "Caches" / "cache-thumbs.bin"
    assert icons.is_file() and thumbs.is_file()

    async def purge_news():
        async with ControlClient(socket_path(daemon.state)) as client, \
                client.event_stream() as events:
            purge = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "orchestrator", "purge", "--app", NEWS, "--json",
                "--state-dir", str(daemon.state), stdout=subprocess.PIPE)
            output, _ = await purge.communicate()
            assert purge.returncode == 0
            seen, deadline = [], time.monotonic() + 20
            while time.monotonic() < deadline:  # until a second without events
                try:
                    event = await asyncio.wait_for(anext(events), 1.0)
                except TimeoutError:
                    return json.loads(output), seen
                if event["event"] == "asset.purged":
                    seen.append(event)
            raise AssertionError("the daemon's events never went quiet after the purge")

    answer, purged = asyncio.run(purge_news())
    assert answer == {"freed": 48 * KiB, "app": NEWS}
    assert [(e["app"], e["download"], e["bytes"]) for e in purged] == \
        [(NEWS, "cache-thumbs", 48 * KiB)]
    assert not thumbs.exists() and icons.is_file()
    rows = daemon.json("downloads")
    assert by_id(rows, NEWS)["cache-thumbs"]["purgeable"] is False
    assert by_id(rows)["cache-icons"]["purgeable"] is True
    assert daemon.cli("purge", "--app", NEWS).stdout.strip() == f"freed 0 B of {NEWS}"

    unknown = daemon.cli("purge", "--app", "com.example.nobody")
    assert unknown.returncode == 1 and "error 1051 appNotInstalled" in unknown.stderr


def test_a_malformed_request_is_request_invalid(daemon):
    async def ask():
        async with ControlClient(socket_path(daemon.state)) as client:
            refusals = []
            for call in (client.purge(-1), client.set_device({"airplane": True}),
                         client.app_action(GAME, "launch")):
                try:
                    await call
                except BackgroundAssetsError as error:
                    refusals.append((int(error.code), error.code.title))
            return refusals

    assert asyncio.run(ask()) == [(1073, "requestInvalid"), (1073, "requestInvalid"),
                                  (1051, "appNotInstalled")]


def test_status_prints_the_apps_and_the_device(served, daemon):
    assert daemon.cli("install", str(served["news"])).returncode == 0
    lines = daemon.cli("status").stdout.splitlines()
    assert lines[0].startswith(NEWS)
    assert lines[-1].startswith("device default: online; low power mode off; background "
                                "refresh on; in-app content on; storage ")

    async def go_offline():
        async with ControlClient(socket_path(daemon.state)) as client:
            await client.set_device({"online": False, "lowPowerMode": True,
                                     "backgroundRefresh": {"apps": {NEWS: False}}})

    asyncio.run(go_offline())
    device = daemon.cli("status").stdout.splitlines()[-1]
    assert device.startswith(f"device default: offline; low power mode on; background refresh "
                             f"on (off for {NEWS});")
    assert daemon.json("status")["device"]["online"] is False


def test_a_busy_state_dir_and_a_missing_daemon_have_their_own_codes(daemon, tmp_path):
    second = daemon.cli("daemon")
    assert second.returncode == 1
    assert second.stderr.startswith("bgassets daemon: error 1071 stateDirBusy: another "
                                    "bgassets daemon already listens")

    daemon.process.send_signal(signal.SIGKILL)  # leaves its socket behind
    daemon.process.wait(timeout=10)
    assert socket_path(daemon.state).exists()
    stale = daemon.cli("status")
    assert stale.returncode == 1
    assert stale.stderr.startswith("bgassets status: error 1072 daemonNotRunning: ")
    never = bgassets("downloads", "--state-dir", str(tmp_path / "never-used"))
    assert never.returncode == 1 and "error 1072 daemonNotRunning: no daemon at" in never.stderr


def test_a_state_dir_held_by_another_orchestrator_is_busy(tmp_path):
    from orchestrator.service import Orchestrator

    async def daemon_beside_a_run():
        async with Orchestrator(tmp_path / "state"):
            return await asyncio.to_thread(bgassets, "daemon", "--state-dir",
                                           str(tmp_path / "state"))

    refused = asyncio.run(daemon_beside_a_run())
    assert refused.returncode == 1
    assert refused.stderr.startswith("bgassets daemon: error 1071 stateDirBusy: ")
    assert "in use by another bgassets process" in refused.stderr


def test_daemon_help_names_every_command_that_talks_to_it():
    from orchestrator.cli.main import build_parser

    text = " ".join(bgassets("daemon", "--help").stdout.split())
    commands = build_parser()._subparsers._group_actions[0].choices
    talking = [name for name, parser in commands.items()
               if parser.get_default("remote") is not None or name == "tui"]
    assert {"status", "downloads", "promote", "pause", "resume", "cancel", "purge", "launch",
            "terminate", "install", "update", "uninstall", "tui"} <= set(talking)
    listed = text[text.index("These commands talk to it"):]
    for name in talking:
        assert f" {name}," in listed or f" {name} " in listed, name


def test_the_app_commands_need_a_daemon(tmp_path):
    for words in (("launch", GAME), ("terminate", GAME), ("uninstall", GAME),
                  ("install", str(Path(__file__)))):
        result = bgassets(*words, "--state-dir", str(tmp_path))
        assert result.returncode == 1 and "daemonNotRunning" in result.stderr, words
