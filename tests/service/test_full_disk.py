"""A full disk is a clean failure: diskError (1030) for the downloads, the journal kept whole;
and what does not fit in the free space does not start (1031).

The state dir sits on a small tmpfs so that ENOSPC is real, not simulated.
"""

import asyncio
import contextlib
import gc
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from orchestrator.devserver import DevServer
from orchestrator.devserver.thread import serve_in_thread
from orchestrator.errors import ErrorCode, JournalError
from orchestrator.journal import Journal
from orchestrator.model.enums import DownloadState
from orchestrator.service import Orchestrator
from orchestrator.service.views import download_views, to_json
from tests.service.disk import fill, small_disk_scenario, small_tmpfs
from tests.service.scenario import APP_ID, GROUP, Asset, KiB, MiB, Recorder, Scenario


def simulate(state, event, manifest):
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", "--state-dir", str(state), "simulate", event,
         str(manifest), "--json", "--wait", "all", "--timeout", "30"],
        capture_output=True, text=True, timeout=60)


def simulate_install(state, manifest):
    return simulate(state, "install", manifest)


def pad_catalog(scene, size):
    """Trailing spaces (still JSON) so that the catalog needs ``size`` bytes on disk."""
    catalog = scene.content / "game" / "catalog.json"
    text = catalog.read_text()
    catalog.write_text(text + " " * (size - len(text)))


def one_disk_error_line(result, journal):
    """The result of a command a full journal stopped: exit 1, one line naming it."""
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"bgassets simulate: error 1030 diskError: {journal}: ")
    assert "the disk is full" in lines[0] and "free some space" in lines[0]


def test_simulate_defers_downloads_that_do_not_fit_and_stops_with_not_enough_storage(
        tmp_path, small_disk):
    scene = small_disk_scenario(tmp_path, [
        Asset("tutorial", 256 * KiB, essential=True), Asset("a", 1 * MiB), Asset("b", 1 * MiB),
        Asset("c", 1 * MiB)])
    scene.write_content()
    with serve_in_thread(scene.content) as server:
        result = simulate_install(small_disk, scene.write_manifests(server.url))
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    # What would not fit never started, so nothing filled the disk and failed half-way.
    assert not [e for e in events if e["event"] == "download.failed"]
    deferred = [e for e in events if e["event"] == "download.deferred"]
    assert deferred and all(e["code"] == 1031 and e["name"] == "notEnoughStorage"
                            and e["needed"] == MiB for e in deferred)
    assert all("taken by the downloads that run" in e["reason"] for e in deferred)
    finished = {e["download"] for e in events if e["event"] == "download.finished"}
    waiting = {e["download"] for e in deferred}
    assert "tutorial" in finished and not finished & waiting
    assert finished | waiting == {"tutorial", "a", "b", "c"}
    assert "Traceback" not in result.stderr and "never retrieved" not in result.stderr
    summary = result.stderr.strip().splitlines()[-1]
    assert summary.startswith("simulate: ") and "1031 notEnoughStorage" in summary
    assert all(e["app"] in (APP_ID, None) for e in events)


async def test_disk_filling_up_mid_transfer_fails_downloads_and_keeps_the_journal(
        tmp_path, small_disk):
    scene = small_disk_scenario(tmp_path, [Asset("a", 512 * KiB), Asset("b", 512 * KiB)])
    scene.write_content()
    recorder, unhandled = Recorder(), []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: unhandled.append(context))
    async with DevServer(scene.content, rate_per_connection=1 * MiB) as server:
        manifest = scene.write_manifests(server.url)
        async with Orchestrator(small_disk) as orchestrator:
            orchestrator.events.subscribe(recorder)
            await orchestrator.install(manifest)
            await orchestrator.wait(APP_ID, "essential", timeout=10)
            await asyncio.sleep(0.2)
            filler = fill(small_disk)
            await orchestrator.wait(APP_ID, "all", timeout=10)
            failed = recorder.named("download.failed")
            assert sorted(e["download"] for e in failed) == ["a", "b"]
            assert all(e["code"] == ErrorCode.DISK_ERROR and "the disk is full" in e["message"]
                       for e in failed)
            shown = {(row["download"], row["state"], row["error"])
                     for row in map(to_json, download_views(orchestrator, APP_ID))}
            assert shown == {("a", "failed", 1030), ("b", "failed", 1030)}
            filler.unlink()
            orchestrator.journal.flush()
    gc.collect()
    assert not unhandled
    with Journal.in_state_dir(small_disk) as journal:
        assert journal._query("PRAGMA integrity_check")[0][0] == "ok"
        rows = {(r.download.id, r.download.state, r.error_code) for r in journal.downloads()}
        assert rows == {("a", DownloadState.FAILED, 1030), ("b", DownloadState.FAILED, 1030)}


async def test_downloads_failed_for_a_full_disk_resume_once_space_is_back(tmp_path, small_disk):
    scene = small_disk_scenario(tmp_path, [Asset("a", 512 * KiB), Asset("b", 512 * KiB)])
    scene.write_content()
    recorder = Recorder()
    async with DevServer(scene.content, rate_per_connection=2 * MiB) as server:
        manifest = scene.write_manifests(server.url)
        async with Orchestrator(small_disk) as orchestrator:
            orchestrator.disk_retry_interval = 0.1
            orchestrator.events.subscribe(recorder)
            await orchestrator.install(manifest)
            await orchestrator.wait(APP_ID, "essential", timeout=10)
            await asyncio.sleep(0.05)
            filler = fill(small_disk)
            await orchestrator.wait(APP_ID, "all", timeout=10)
            assert sorted(e["download"] for e in recorder.named("download.failed")) == ["a", "b"]
            await asyncio.sleep(0.3)
            assert not recorder.named("download.reenqueued")  # no room yet: nothing retried
            filler.unlink()
            for _ in range(100):
                if len(recorder.named("download.finished")) == 2:
                    break
                await asyncio.sleep(0.05)
    assert sorted(e["download"] for e in recorder.named("download.reenqueued")) == ["a", "b"]
    assert sorted(e["download"] for e in recorder.named("download.finished")) == ["a", "b"]
    for asset in scene.assets:
        path = small_disk / "containers" / GROUP / "assets" / f"{asset.id}.bin"
        assert path.read_bytes() == asset.data()


def test_simulate_on_a_full_journal_exits_1_with_one_line_and_changes_nothing(
        tmp_path, small_disk):
    scene = small_disk_scenario(tmp_path, [Asset("tutorial", 64 * KiB, essential=True)])
    scene.write_content()
    journal = small_disk / "journal.sqlite"
    with serve_in_thread(scene.content) as server:
        manifest = scene.write_manifests(server.url)
        assert simulate(small_disk, "install", manifest).returncode == 0
        scene.version = "2.0"
        scene.write_manifests(server.url)
        # Nothing fits, not even the journal's shared memory: it cannot be opened.
        filler = fill(small_disk)
        one_disk_error_line(simulate(small_disk, "update", manifest), journal)
        filler.unlink()
        # Held open elsewhere, it opens, and the app record is what finds no room.
        with Journal(journal) as held:
            filler = fill(small_disk)
            one_disk_error_line(simulate(small_disk, "update", manifest), journal)
            periodic = simulate(small_disk, "periodic", manifest)
            one_disk_error_line(periodic, journal)
            assert [json.loads(line)["event"] for line in periodic.stdout.splitlines()] == [
                "request.waiting"]
            filler.unlink()
            assert held._query("PRAGMA integrity_check")[0][0] == "ok"
            record = held.app(APP_ID)
            assert (record.version, record.pending_request) == ("1.0", None)
        assert simulate(small_disk, "update", manifest).returncode == 0


def test_simulate_install_whose_catalog_finds_no_room_stops_with_exit_1(tmp_path, small_disk):
    scene = small_disk_scenario(tmp_path, [Asset("tutorial", 64 * KiB, essential=True)])
    scene.write_content()
    with serve_in_thread(scene.content) as server:
        manifest = scene.write_manifests(server.url)
        pad_catalog(scene, 1 * MiB)
        filler = fill(small_disk, leave=512 * KiB)
        result = simulate(small_disk, "install", manifest)
        assert result.returncode == 1, result.stdout[-3000:] + result.stderr
        events = [json.loads(line) for line in result.stdout.splitlines()]
        assert [(e["download"], e["code"]) for e in events if e["event"] == "download.failed"
                ] == [("@catalog", 1030)]
        assert [(e["request"], e["code"]) for e in events if e["event"] == "request.waiting"
                ] == [("install", 1030)]
        assert "app.launchable" not in {e["event"] for e in events}
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith("simulate: 2 failures")
        filler.unlink()
        # The install is still pending: the next run makes it.
        again = simulate(small_disk, "install", manifest)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr
    assert (small_disk / "containers" / GROUP / "assets" / "tutorial.bin").read_bytes() == \
        scene.assets[0].data()


@contextlib.asynccontextmanager
async def _install_whose_catalog_finds_no_room(
        scene: Scenario, state: Path) -> AsyncIterator[tuple[Orchestrator, Recorder, Path,
                                                            DevServer, Path]]:
    """An install whose 1 MiB catalog finds 512 KiB free: (orchestrator, recorder,
    manifest, server, the file filling the disk)."""
    scene.write_content()
    recorder = Recorder()
    async with DevServer(scene.content) as server:
        manifest = scene.write_manifests(server.url)
        pad_catalog(scene, 1 * MiB)
        async with Orchestrator(state) as orchestrator:
            orchestrator.disk_retry_interval = 0.1
            orchestrator.events.subscribe(recorder)
            filler = fill(state, leave=512 * KiB)
            await orchestrator.install(manifest)
            yield orchestrator, recorder, manifest, server, filler


async def test_a_catalog_the_full_disk_had_no_room_for_is_fetched_once_space_is_back(
        tmp_path, small_disk):
    scene = small_disk_scenario(tmp_path, [Asset("tutorial", 64 * KiB, essential=True),
                                Asset("a", 128 * KiB)])
    async with _install_whose_catalog_finds_no_room(scene, small_disk) as (
            orchestrator, recorder, _manifest, _server, filler):
        assert [(e["download"], e["code"]) for e in recorder.named("download.failed")] == [
            ("@catalog", 1030)]
        waiting = recorder.named("request.waiting")
        assert [(e["request"], e["code"]) for e in waiting] == [("install", 1030)]
        assert not orchestrator.settled(APP_ID, "essential")  # not launchable meanwhile
        await asyncio.sleep(0.3)
        assert not recorder.named("catalog.fetched")  # no room yet: not fetched again
        filler.unlink()
        await orchestrator.wait(APP_ID, "all", timeout=10)
    assert len(recorder.named("download.failed")) == 1
    assert sorted(e["download"] for e in recorder.named("download.finished")) == [
        "a", "tutorial"]
    assert recorder.named("app.launchable")


@pytest.mark.parametrize("printing", [["--json"], []], ids=["json", "timeline"])
def test_simulate_printing_to_a_full_disk_exits_1_with_one_line(tmp_path, printing):
    scene = small_disk_scenario(tmp_path, [Asset("tutorial", 64 * KiB, essential=True)])
    scene.write_content()
    with serve_in_thread(scene.content) as server, open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "orchestrator", "--state-dir", str(tmp_path / "state"),
             "simulate", "install", str(scene.write_manifests(server.url)), *printing],
            stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "bgassets simulate: error 1030 diskError: cannot write the events to stdout (No space "
        "left on device); free some space there or send them elsewhere")
    assert (tmp_path / "state" / "containers" / GROUP / "assets" / "tutorial.bin").is_file()


async def test_purge_frees_a_full_disk_and_uninstall_on_one_keeps_the_app_whole(
        tmp_path, small_disk):
    scene = small_disk_scenario(
        tmp_path, [Asset("cache-icons", 256 * KiB), Asset("level", 64 * KiB)],
        rules=('{match: {id: "cache-*"}, destination: "Library/Caches/{filename}"}',
               '{destination: "assets/{filename}"}'))
    scene.write_content()
    recorder = Recorder()
    container = small_disk / "containers" / GROUP
    async with DevServer(scene.content) as server:
        manifest = scene.write_manifests(server.url)
        async with Orchestrator(small_disk) as orchestrator:
            orchestrator.events.subscribe(recorder)
            await orchestrator.install(manifest)
            await orchestrator.wait(APP_ID, "all", timeout=10)
            filler = fill(small_disk)
            # What purge removes first makes room for its own bookkeeping.
            assert orchestrator.purge() == 256 * KiB
            assert [e["download"] for e in recorder.named("asset.purged")] == ["cache-icons"]
            filler.unlink()
            filler = fill(small_disk)
            with pytest.raises(JournalError) as refused:
                await orchestrator.uninstall(APP_ID)
            assert refused.value.code == ErrorCode.DISK_ERROR
            assert APP_ID in orchestrator.apps and (container / "assets" / "level.bin").is_file()
            assert orchestrator.journal.app(APP_ID) is not None
            filler.unlink()
            await orchestrator.uninstall(APP_ID)
            assert not container.exists()
    with Journal.in_state_dir(small_disk) as journal:
        assert journal._query("PRAGMA integrity_check")[0][0] == "ok"
        assert journal.apps() == [] and journal.downloads() == []


async def test_a_delivery_the_containers_file_system_refuses_fails_with_disk_error(tmp_path):
    scene = small_disk_scenario(tmp_path, [Asset("a", 64 * KiB)])
    scene.write_content()
    recorder, unhandled = Recorder(), []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: unhandled.append(context))
    # Containers on a file system of their own: the staged file cannot be renamed there.
    with small_tmpfs(tmp_path / "state" / "containers", "1m"):
        async with DevServer(scene.content) as server:
            manifest = scene.write_manifests(server.url)
            async with Orchestrator(tmp_path / "state") as orchestrator:
                orchestrator.events.subscribe(recorder)
                await orchestrator.install(manifest)
                await orchestrator.wait(APP_ID, "all", timeout=10)
                rows = [to_json(view) for view in download_views(orchestrator, APP_ID)]
    gc.collect()
    assert not unhandled
    failed = recorder.named("download.failed")
    assert [(e["download"], e["code"]) for e in failed] == [("a", 1030)]
    assert f"cannot write {tmp_path}/state/containers/{GROUP}/assets/a.bin" in \
        failed[0]["message"]
    assert [(row["download"], row["state"], row.get("error")) for row in rows] == [
        ("a", "failed", 1030)]


async def test_an_update_while_the_install_waits_for_space_is_the_request_made_once_it_is_back(
        tmp_path, small_disk):
    scene = small_disk_scenario(tmp_path, [Asset("tutorial", 64 * KiB, essential=True)])
    async with _install_whose_catalog_finds_no_room(scene, small_disk) as (
            orchestrator, recorder, manifest, server, filler):
        scene.version = "2.0"
        scene.write_manifests(server.url)
        pad_catalog(scene, 1 * MiB)
        await orchestrator.update(manifest)
        assert [e["request"] for e in recorder.named("request.waiting")] == [
            "install", "update"]
        filler.unlink()
        await orchestrator.wait(APP_ID, "all", timeout=10)
        assert orchestrator.apps[APP_ID].app.version == "2.0"
    assert [e["request"] for e in recorder.named("extension.request")] == ["update"]
    assert [e["download"] for e in recorder.named("download.finished")] == ["tutorial"]
