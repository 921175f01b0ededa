"""pause-install, resume-install and cancel-install from the CLI, on a real daemon process.

The daemon serves its control socket; the CLI runs as a process of its own for every
command. A paused install survives the daemon's restart, and resumed its transfer
continues from the bytes on disk (a Range request), as the DevServer's counters show.
"""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from orchestrator.client import DownloadManager
from orchestrator.control import ControlServer, socket_path
from orchestrator.devserver import DevServer
from orchestrator.devserver.thread import serve_in_thread
from orchestrator.errors import BackgroundAssetsError, ErrorCode
from orchestrator.events import EventKind
from orchestrator.service import Orchestrator
from tests.control.daemon_apps import Asset, KiB, MiB, running_daemon, write_app, write_content

GAME, GROUP = "com.example.game", "group.com.example.game"
TUTORIAL = Asset("tutorial", 2 * MiB, essential=True)
pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def served(tmp_path):
    """The game's content on a DevServer slow enough for the CLI to act mid-install."""
    content = tmp_path / "content"
    write_content(content / "game", [TUTORIAL, Asset("extra", 64 * KiB)])
    with serve_in_thread(content, rate_per_connection=256 * KiB) as server:
        yield server, write_app(tmp_path / "apps" / "game", "game",
                                f"{server.url}game/catalog.json")


def rows(daemon):
    return {row["download"]: row for row in daemon.json("downloads") if row["app"] == GAME}


def every_download_finished(found):
    return {r["download"]: r["state"] for r in found if r["app"] == GAME} == {
        "tutorial": "finished", "extra": "finished"}


def journal_counts(state):
    with sqlite3.connect(state / "journal.sqlite") as db:
        return [db.execute(f"SELECT COUNT(*) FROM {table} WHERE {column} = ?",
                           (GAME,)).fetchone()[0]
                for table, column in (("apps", "id"), ("downloads", "app_id"))]


def test_a_paused_install_survives_a_daemon_restart_and_resumes_where_it_stood(
        tmp_path, served):
    server, manifest = served
    state = tmp_path / "state"
    with running_daemon(state) as daemon:
        assert daemon.cli("install", str(manifest)).returncode == 0
        daemon.wait_for(lambda found: any(r["download"] == "tutorial" and r["bytes"] >= 128 * KiB
                                          for r in found))
        paused = daemon.cli("pause-install", GAME)
        assert paused.returncode == 0, paused.stderr
        assert paused.stdout.strip() == \
            f"pause-install: {GAME} (2 download(s) paused; now paused)"
        again = daemon.cli("pause-install", GAME)
        assert again.returncode == 1 and "error 1042 installPaused" in again.stderr
        launch = daemon.cli("launch", GAME)
        assert launch.returncode == 1 and "error 1050 appNotLaunchable" in launch.stderr
        assert "paused" in launch.stderr
    log = daemon.process.stderr.read()  # the daemon has stopped: its whole log
    assert f"<6>install.paused {GAME}: 2 download(s), install progress at " in log
    with running_daemon(state) as daemon:
        assert daemon.app(GAME)["state"] == "paused"
        status = daemon.cli("status")
        assert status.returncode == 0 and f"{GAME:<32} paused" in status.stdout
        held = rows(daemon)["tutorial"]
        assert (held["state"], held["reason"]) == ("paused", "install paused")
        server.rate_per_connection = None
        resumed = daemon.cli("resume-install", GAME, "--json")
        assert resumed.returncode == 0, resumed.stderr
        assert '"downloads": 2' in resumed.stdout and '"state": "installing"' in resumed.stdout
        daemon.wait_for(every_download_finished)
        assert daemon.app(GAME)["state"] == "launchable"
    tutorial = "/game/tutorial.bin"
    starts = [int(header.removeprefix("bytes=").split("-")[0])
              for path, header in server.stats.range_headers if path == tutorial]
    assert server.stats.requests_by_path[tutorial] == 2 and starts[-1] >= 128 * KiB
    assert server.stats.bytes_by_path[tutorial] <= TUTORIAL.size + 256 * KiB


def test_cancel_install_removes_the_app_and_refusals_name_their_code(tmp_path, served):
    server, manifest = served
    state = tmp_path / "state"
    with running_daemon(state) as daemon:
        unknown = daemon.cli("pause-install", "com.example.nothing")
        assert unknown.returncode == 1
        assert "error 1051 appNotInstalled: com.example.nothing is not installed" in \
            unknown.stderr and "Traceback" not in unknown.stderr
        assert daemon.cli("install", str(manifest)).returncode == 0
        resumed = daemon.cli("resume-install", GAME)
        assert resumed.returncode == 1 and "error 1043 installNotPaused" in resumed.stderr
        cancelled = daemon.cli("cancel-install", GAME)
        assert cancelled.returncode == 0, cancelled.stderr
        assert cancelled.stdout.strip() == \
            f"cancel-install: {GAME} (2 download(s) cancelled; now not installed)"
        assert [app["app"] for app in daemon.json("status")["apps"]] == []
        assert not (state / "containers" / GROUP).exists()
        assert journal_counts(state) == [0, 0]

        server.rate_per_connection = None
        assert daemon.cli("install", str(manifest)).returncode == 0
        daemon.wait_for(every_download_finished)  # the extra starts once it is launchable
        for command in ("pause-install", "resume-install", "cancel-install"):
            ended = daemon.cli(command, GAME)
            assert ended.returncode == 1, command
            assert f"error 1041 installNotInProgress: {GAME} has no install to" in ended.stderr
        assert daemon.app(GAME)["state"] == "launchable"


class Taker:
    """An app's delegate that keeps the files it is handed."""

    def __init__(self, into):
        self.into, self.taken = into, []

    def finished(self, download, path):
        path.rename(self.into / download.id)
        self.taken.append(download.id)


async def test_an_app_that_connects_while_its_install_is_paused_waits_for_the_resume(tmp_path):
    write_content(tmp_path / "content" / "game", [TUTORIAL, Asset("extra", 64 * KiB)])
    state, kept = tmp_path / "state", tmp_path / "kept"
    kept.mkdir()
    async with DevServer(tmp_path / "content", rate_per_connection=1 * MiB) as server, \
            Orchestrator(state) as orchestrator, \
            ControlServer(orchestrator, socket_path(state)):
        manifest = write_app(tmp_path / "apps" / "game", "game", f"{server.url}game/catalog.json")
        moving = asyncio.Event()
        orchestrator.events.subscribe(lambda e: e.event == EventKind.DOWNLOAD_PROGRESS
                                      and moving.set())
        await orchestrator.install(manifest)
        await asyncio.wait_for(moving.wait(), 20)
        orchestrator.pause_install(GAME)

        with pytest.raises(BackgroundAssetsError) as refused:
            async with DownloadManager(GAME, state):
                pass
        assert refused.value.code == ErrorCode.APP_NOT_LAUNCHABLE
        assert "paused" in refused.value.message
        manager = DownloadManager(GAME, state, wait_until_launchable=True)
        manager.delegate = Taker(kept)
        connecting = asyncio.ensure_future(manager.__aenter__())
        assert not orchestrator.apps[GAME].running
        server.rate_per_connection = None
        orchestrator.resume_install(GAME)
        await asyncio.wait_for(connecting, 20)
        try:
            assert orchestrator.apps[GAME].running  # connected once launchable
            await orchestrator.wait(GAME, "all", timeout=20)
        finally:
            await manager.__aexit__(None, None, None)
    assert manager.delegate.taken == ["extra"]  # the app got what finished once it ran
