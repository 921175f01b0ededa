"""A full disk is a clean failure: diskError (1030) for the downloads, the journal kept whole.

The state dir sits on a small tmpfs so that ENOSPC is real, not simulated.
"""

import asyncio
import errno
import gc
import json
import os
import shutil
import subprocess
import sys

import pytest

from orchestrator.control.views import download_rows
from orchestrator.devserver import DevServer
from orchestrator.devserver.thread import serve_in_thread
from orchestrator.errors import ErrorCode
from orchestrator.journal import Journal
from orchestrator.model.enums import DownloadState
from orchestrator.service import Orchestrator
from tests.service.scenario import APP_ID, GROUP, Asset, KiB, MiB, Recorder, Scenario


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs at ``tmp_path/state``, unmounted afterwards."""
    state = tmp_path / "state"
    state.mkdir()
    mounted = os.geteuid() == 0 and shutil.which("mount") is not None and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(state)],
        capture_output=True).returncode == 0
    if not mounted:
        reason = "mounting a tmpfs needs root and mount(8)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}: cannot test a full disk under CI")
        pytest.skip(reason)
    try:
        yield state
    finally:
        if subprocess.run(["umount", str(state)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(state)], capture_output=True)


def simulate_install(state, manifest):
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", "--state-dir", str(state), "simulate", "install",
         str(manifest), "--json", "--wait", "all", "--timeout", "30"],
        capture_output=True, text=True, timeout=60)


def test_simulate_fails_downloads_that_do_not_fit_with_disk_error(tmp_path, small_disk):
    scene = Scenario(tmp_path, [Asset("tutorial", 256 * KiB, essential=True),
                                Asset("a", 1 * MiB), Asset("b", 1 * MiB), Asset("c", 1 * MiB)])
    scene.write_content()
    with serve_in_thread(scene.content) as server:
        result = simulate_install(small_disk, scene.write_manifests(server.url))
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    failed = [e for e in events if e["event"] == "download.failed"]
    assert failed and all(e["code"] == 1030 and e["name"] == "diskError" for e in failed)
    assert all("the disk is full" in e["message"] and str(small_disk) in e["message"]
               for e in failed)
    finished = {e["download"] for e in events if e["event"] == "download.finished"}
    assert "tutorial" in finished and finished | {e["download"] for e in failed} == \
        {"tutorial", "a", "b", "c"}
    assert "Traceback" not in result.stderr and "never retrieved" not in result.stderr
    summary = result.stderr.strip().splitlines()[-1]
    assert summary.startswith("simulate: ") and "1030 diskError" in summary
    assert all(e["app"] in (APP_ID, None) for e in events)


def fill(folder):
    """Write a file in ``folder`` until the disk is full; return its path."""
    path = folder / "filler"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, bytes(64 * KiB))
    except OSError as error:
        assert error.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return path


async def test_disk_filling_up_mid_transfer_fails_downloads_and_keeps_the_journal(
        tmp_path, small_disk):
    scene = Scenario(tmp_path, [Asset("a", 1 * MiB), Asset("b", 1 * MiB)])
    scene.write_content()
    recorder, unhandled = Recorder(), []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: unhandled.append(context))
    async with DevServer(scene.content, rate_per_connection=2 * MiB) as server:
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
            shown = {(row["download"], row["state"], row.get("error"))
                     for row in download_rows(orchestrator, APP_ID)}
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
    scene = Scenario(tmp_path, [Asset("a", 512 * KiB), Asset("b", 512 * KiB)])
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
