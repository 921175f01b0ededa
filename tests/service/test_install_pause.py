"""Pausing, resuming and cancelling an install as a whole, against a real DevServer.

A paused install holds every download where it is, keeps the app from launching and
survives a restart; resumed, its transfers continue with Range requests from the bytes on
disk. A cancelled install leaves no container, no staging files and no journal rows.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import textwrap
from collections.abc import Callable

import pytest

from orchestrator.devserver import DevServer
from orchestrator.errors import BackgroundAssetsError, ErrorCode
from orchestrator.events import Event, EventKind
from orchestrator.model.enums import DownloadState
from orchestrator.service import Orchestrator
from orchestrator.service.views import AppState, app_view, download_view
from tests.service.scenario import APP_ID, GROUP, Asset, KiB, MiB, Recorder, Scenario

pytestmark = pytest.mark.timeout(60)
TUTORIAL = Asset("tutorial", 2 * MiB, essential=True)
EXTRA = Asset("extra", 256 * KiB)
RATE = 2 * MiB
# What a pause may cost: the bytes the server handed to the socket in its last chunk
# (256 KiB, the DevServer's read size) that never reached the .part.
READ_BUFFER = 256 * KiB


async def seen(orchestrator: Orchestrator, wanted: Callable[[Event], bool],
               timeout: float = 20) -> Event:
    """The next event of ``orchestrator`` that ``wanted`` accepts."""
    found: asyncio.Future[Event] = asyncio.get_running_loop().create_future()

    def check(event: Event) -> None:
        if not found.done() and wanted(event):
            found.set_result(event)

    unsubscribe = orchestrator.events.subscribe(check)
    try:
        return await asyncio.wait_for(found, timeout)
    finally:
        unsubscribe()


def progressed(download: str, at_least: int) -> Callable[[Event], bool]:
    return lambda e: e.event == EventKind.DOWNLOAD_PROGRESS and e.data["download"] == download \
        and e.data["bytes"] >= at_least


def resumed_from(server: DevServer, path: str) -> int:
    """Where the second and last request of ``path`` started: the first one asks for the
    whole file (with ``bytes=0-`` or no range at all), the one after the pause a range."""
    assert server.stats.requests_by_path[path] == 2
    starts = [int(header.removeprefix("bytes=").split("-")[0])
              for asked, header in server.stats.range_headers if asked == path]
    assert starts in ([starts[-1]], [0, starts[-1]])
    return starts[-1]


def journal_rows(state) -> dict[str, int]:
    """Rows the journal file holds for the app, table by table, read with sqlite3."""
    with sqlite3.connect(state / "journal.sqlite") as db:
        keys = [r[0] for r in db.execute("SELECT key FROM downloads WHERE app_id = ?",
                                         (APP_ID,))]
        like = (f"{GROUP}/%",)
        return {
            "apps": db.execute("SELECT COUNT(*) FROM apps WHERE id = ?", (APP_ID,)).fetchone()[0],
            "downloads": len(keys),
            "transitions": db.execute("SELECT COUNT(*) FROM transitions WHERE key LIKE ?",
                                      like).fetchone()[0],
            "engine_state": db.execute("SELECT COUNT(*) FROM engine_state WHERE key LIKE ?",
                                       like).fetchone()[0],
            "launches": db.execute("SELECT COUNT(*) FROM launches WHERE app_id = ?",
                                   (APP_ID,)).fetchone()[0],
            "runtime": db.execute("SELECT COUNT(*) FROM runtime WHERE app_id = ?",
                                  (APP_ID,)).fetchone()[0],
        }


@pytest.fixture
def scene(tmp_path):
    built = Scenario(tmp_path, [TUTORIAL, EXTRA])
    built.write_content()
    return built


async def test_pause_holds_every_download_and_resume_continues_with_a_range_request(
        tmp_path, scene):
    recorder = Recorder()
    async with DevServer(scene.content, rate_per_connection=RATE) as server, \
            Orchestrator(tmp_path / "state") as orchestrator:
        orchestrator.events.subscribe(recorder)
        manifest = scene.write_manifests(server.url)
        await orchestrator.install(manifest)
        await seen(orchestrator, progressed("tutorial", 512 * KiB))

        assert orchestrator.pause_install(APP_ID) == 2  # the essential one and the extra
        paused = download_view(orchestrator, APP_ID, "tutorial")
        assert (paused.state, paused.reason) == (DownloadState.PAUSED, "install paused")
        assert 512 * KiB <= paused.bytes < TUTORIAL.size
        view = app_view(orchestrator, APP_ID)
        assert view.state == AppState.PAUSED and not view.launchable
        assert 0 < view.progress < 1
        with pytest.raises(BackgroundAssetsError) as refused:
            orchestrator.launch(APP_ID)
        assert refused.value.code == ErrorCode.APP_NOT_LAUNCHABLE
        assert "paused" in refused.value.message
        with pytest.raises(BackgroundAssetsError) as alone:
            orchestrator.resume("tutorial")
        assert alone.value.code == ErrorCode.INSTALL_PAUSED
        assert orchestrator.journal.app(APP_ID).install_paused_at is not None
        await orchestrator.install(manifest)  # this version again: nothing changes
        assert app_view(orchestrator, APP_ID).state == AppState.PAUSED
        assert "install is paused" in recorder.named("app.installed")[-1]["reason"]

        assert orchestrator.resume_install(APP_ID) == 2
        await orchestrator.wait(APP_ID, "all", timeout=20)
        assert orchestrator.journal.app(APP_ID).install_paused_at is None
        assert app_view(orchestrator, APP_ID).state == AppState.LAUNCHABLE

    tutorial = f"/game/{TUTORIAL.id}.bin"
    assert resumed_from(server, tutorial) >= paused.bytes  # from the bytes on disk
    assert TUTORIAL.size <= server.stats.bytes_by_path[tutorial] <= TUTORIAL.size + READ_BUFFER
    data = (tmp_path / "state" / "containers" / GROUP / "assets" / "tutorial.bin").read_bytes()
    assert data == TUTORIAL.data()
    kinds = [e["event"] for e in recorder]
    assert kinds.index("install.paused") < kinds.index("install.resumed") \
        < kinds.index("app.launchable")
    assert recorder.named("install.paused")[0]["downloads"] == 2
    assert [e["reason"] for e in recorder.named("download.paused")] == ["install paused"] * 2
    assert [e["download"] for e in recorder.named("download.resumed")] == ["tutorial"]


async def test_a_paused_install_stays_paused_across_a_restart(tmp_path, scene):
    state = tmp_path / "state"
    async with DevServer(scene.content, rate_per_connection=RATE) as server:
        manifest = scene.write_manifests(server.url)
        async with Orchestrator(state) as orchestrator:
            await orchestrator.install(manifest)
            await seen(orchestrator, progressed("tutorial", 512 * KiB))
            orchestrator.pause_install(APP_ID)
        requests_before = server.stats.requests

        async with Orchestrator(state) as restarted:
            view = app_view(restarted, APP_ID)
            assert view.state == AppState.PAUSED and view.pending == 2
            for download in ("tutorial", "extra"):
                held = download_view(restarted, APP_ID, download)
                assert (held.state, held.reason) == (DownloadState.PAUSED, "install paused")
            with pytest.raises(BackgroundAssetsError) as refused:
                restarted.launch(APP_ID)
            assert refused.value.code == ErrorCode.APP_NOT_LAUNCHABLE
            resumed = asyncio.ensure_future(seen(restarted, lambda e: e.event in (
                EventKind.DOWNLOAD_STARTED, EventKind.DOWNLOAD_RESUMED)))
            assert server.stats.requests == requests_before  # nothing moved while paused
            restarted.resume_install(APP_ID)
            await resumed
            await restarted.wait(APP_ID, "all", timeout=20)
            assert app_view(restarted, APP_ID).state == AppState.LAUNCHABLE
    tutorial = f"/game/{TUTORIAL.id}.bin"
    assert resumed_from(server, tutorial) >= 512 * KiB
    assert TUTORIAL.size <= server.stats.bytes_by_path[tutorial] <= TUTORIAL.size + READ_BUFFER


async def test_cancel_install_leaves_no_container_and_no_journal_rows(tmp_path, scene):
    state = tmp_path / "state"
    recorder = Recorder()
    async with DevServer(scene.content, rate_per_connection=RATE) as server, \
            Orchestrator(state) as orchestrator:
        orchestrator.events.subscribe(recorder)
        await orchestrator.install(scene.write_manifests(server.url))
        await seen(orchestrator, progressed("tutorial", 256 * KiB))
        assert journal_rows(state)["downloads"] == 2

        assert await orchestrator.cancel_install(APP_ID) == 2
        assert APP_ID not in orchestrator.apps
        assert not (state / "containers" / GROUP).exists()
        assert not (state / "staging" / GROUP).exists()
        assert journal_rows(state) == dict.fromkeys(
            ("apps", "downloads", "transitions", "engine_state", "launches", "runtime"), 0)
        with pytest.raises(BackgroundAssetsError) as gone:
            orchestrator.pause_install(APP_ID)
        assert gone.value.code == ErrorCode.APP_NOT_INSTALLED
    cancelled = recorder.named("install.cancelled")
    assert [(e["app"], e["downloads"]) for e in cancelled] == [(APP_ID, 2)]
    assert recorder.named("download.failed") == [] and recorder.named("app.launchable") == []


async def test_an_uninstalled_paused_install_leaves_nothing_and_installs_again(tmp_path, scene):
    state = tmp_path / "state"
    async with DevServer(scene.content, rate_per_connection=RATE) as server, \
            Orchestrator(state) as orchestrator:
        manifest = scene.write_manifests(server.url)
        await orchestrator.install(manifest)
        await seen(orchestrator, progressed("tutorial", 256 * KiB))
        orchestrator.pause_install(APP_ID)
        await orchestrator.uninstall(APP_ID)
        assert not (state / "containers" / GROUP).exists()
        assert journal_rows(state)["apps"] == journal_rows(state)["downloads"] == 0
        server.rate_per_connection = None
        await orchestrator.install(manifest)  # a first install again, not paused
        await orchestrator.wait(APP_ID, "all", timeout=20)
        assert app_view(orchestrator, APP_ID).state == AppState.LAUNCHABLE
        assert orchestrator.journal.app(APP_ID).install_paused_at is None


async def test_an_install_that_has_ended_or_is_not_paused_is_refused_with_its_code(
        tmp_path, scene):
    async with DevServer(scene.content, rate_per_connection=RATE) as server, \
            Orchestrator(tmp_path / "state") as orchestrator:
        manifest = scene.write_manifests(server.url)
        await orchestrator.install(manifest)
        with pytest.raises(BackgroundAssetsError) as not_paused:
            orchestrator.resume_install(APP_ID)
        assert not_paused.value.code == ErrorCode.INSTALL_NOT_PAUSED
        orchestrator.pause_install(APP_ID)
        with pytest.raises(BackgroundAssetsError) as twice:
            orchestrator.pause_install(APP_ID)
        assert twice.value.code == ErrorCode.INSTALL_PAUSED
        server.rate_per_connection = None
        orchestrator.resume_install(APP_ID)
        await orchestrator.wait(APP_ID, "essential", timeout=20)
        for call in (orchestrator.pause_install, orchestrator.resume_install):
            with pytest.raises(BackgroundAssetsError) as ended:
                call(APP_ID)
            assert ended.value.code == ErrorCode.INSTALL_NOT_IN_PROGRESS
            assert "launchable" in ended.value.message
        with pytest.raises(BackgroundAssetsError) as ended:
            await orchestrator.cancel_install(APP_ID)
        assert ended.value.code == ErrorCode.INSTALL_NOT_IN_PROGRESS
        assert APP_ID in orchestrator.apps


async def test_an_update_of_an_app_launched_before_can_be_paused_but_not_cancelled(
        tmp_path, scene):
    async with DevServer(scene.content) as server, \
            Orchestrator(tmp_path / "state") as orchestrator:
        await orchestrator.install(scene.write_manifests(server.url))
        await orchestrator.wait(APP_ID, "all", timeout=20)
        orchestrator.launch(APP_ID)
        scene.assets.append(Asset("level-2", 2 * MiB, essential=True))
        scene.write_content()
        scene.version = "2.0"
        server.rate_per_connection = 256 * KiB
        await orchestrator.update(scene.write_manifests(server.url))
        orchestrator.pause_install(APP_ID)
        with pytest.raises(BackgroundAssetsError) as refused:
            await orchestrator.cancel_install(APP_ID)
        assert refused.value.code == ErrorCode.UPDATE_NOT_CANCELLABLE
        scene.version = "3.0"
        with pytest.raises(BackgroundAssetsError) as newer:
            await orchestrator.update(scene.write_manifests(server.url))
        assert newer.value.code == ErrorCode.INSTALL_PAUSED
        assert (tmp_path / "state" / "containers" / GROUP / "assets" / "tutorial.bin").exists()
        assert app_view(orchestrator, APP_ID).state == AppState.PAUSED


SLOW_HANDLER = '''
import os, time
from orchestrator.sdk import DownloaderExtension


class Slow(DownloaderExtension):
    def downloads(self, request, manifest_path, info):
        with open({pid_file!r}, "w") as out:
            out.write(str(os.getpid()))
        time.sleep(60)
'''


async def test_cancel_install_while_the_extension_runs_kills_it_and_plans_nothing(
        tmp_path, scene):
    pid_file = tmp_path / "handler.pid"
    state = tmp_path / "state"
    async with DevServer(scene.content) as server, Orchestrator(state) as orchestrator:
        manifest = scene.write_manifests(server.url)
        extension = manifest.parent / "extension.yaml"
        extension.write_text(extension.read_text().replace(
            "  rules:", "  handler: handlers:Slow\n  rules:"))
        (manifest.parent / "handlers.py").write_text(
            textwrap.dedent(SLOW_HANDLER.format(pid_file=str(pid_file))))
        asked = asyncio.ensure_future(seen(orchestrator,
                                           lambda e: e.event == EventKind.EXTENSION_REQUEST))
        install = asyncio.ensure_future(orchestrator.install(manifest))
        await asked
        while not pid_file.exists() or not pid_file.read_text():
            await asyncio.sleep(0.02)  # the child writes it once it runs: no event for that
        pid = int(pid_file.read_text())

        assert await asyncio.wait_for(orchestrator.cancel_install(APP_ID), 10) == 0
        with pytest.raises(BackgroundAssetsError) as stopped:
            await install
        assert stopped.value.code == ErrorCode.CANCELLED
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        assert APP_ID not in orchestrator.apps
        assert not (state / "containers" / GROUP).exists()
        assert journal_rows(state)["apps"] == 0
        assert server.stats.requests_by_path["/game/tutorial.bin"] == 0
