"""A daemon whose state dir fills up: coded failures, answers throughout, resumes on its own.

The daemon is a real process (``bgassets daemon``) on a 2 MiB tmpfs, its content on a
DevServer on 127.0.0.1, and the test talks to it through the control socket. Its disk
retry interval is set short, as the class attribute tests set in-process.
"""

import asyncio
import contextlib
import hashlib
import signal
import sys
import textwrap

import pytest

from orchestrator.control import ControlClient, socket_path
from orchestrator.devserver import DevServer
from orchestrator.errors import BackgroundAssetsError, ErrorCode
from orchestrator.journal import Journal
from orchestrator.model.enums import ContentRequest
from orchestrator.service import Orchestrator
from tests.service.disk import fill, small_disk_scenario
from tests.service.scenario import APP_ID, GROUP, Asset, KiB, Recorder

pytestmark = pytest.mark.timeout(90)

RETRY_INTERVAL = 0.2
# ``bgassets daemon ARGS`` with the disk retry interval of the first argument.
DAEMON = ("import sys; from orchestrator.service.context import ServiceContext; "
          "ServiceContext.disk_retry_interval = float(sys.argv[1]); "
          "from orchestrator.cli.main import main; sys.exit(main(sys.argv[2:]))")
# All essential, so that all three transfer at once when the disk fills up: a download
# due to start on a disk already full would wait for space instead (download.deferred).
ASSETS = [Asset("tutorial", 256 * KiB, essential=True), Asset("movie", 384 * KiB, essential=True),
          Asset("extra", 192 * KiB, essential=True)]


@contextlib.asynccontextmanager
async def running_daemon(state):
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", DAEMON, str(RETRY_INTERVAL), "--state-dir", str(state), "daemon",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stderr = []
    try:
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert b"listening on" in line, await process.stderr.read()
        yield process, stderr
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 30)
        stderr.append(err.decode())


async def collect(client, events):
    with contextlib.suppress(BackgroundAssetsError):
        async for event in client.events():
            events.append(event)


async def until(predicate, what, timeout=15.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"not reached within {timeout:g} s: {what}")
        await asyncio.sleep(0.05)


def named(events, name):
    return [e for e in events if e["event"] == name]


def rows_by_id(rows):
    return {row["download"]: row for row in rows if row["app"] == APP_ID}


async def refused_for_the_disk(call, journal):
    with pytest.raises(BackgroundAssetsError) as refused:
        await call
    assert refused.value.code == ErrorCode.DISK_ERROR, refused.value.message
    assert str(journal) in refused.value.message


async def test_a_daemon_on_a_full_disk_fails_cleanly_and_resumes_once_space_is_back(
        tmp_path, small_disk):
    scene = small_disk_scenario(tmp_path, ASSETS)
    scene.write_content()
    journal = small_disk / "journal.sqlite"
    events = []
    async with DevServer(scene.content, rate_per_connection=256 * KiB) as server:
        manifest = scene.write_manifests(server.url)
        async with running_daemon(small_disk) as (process, stderr), \
                ControlClient(socket_path(small_disk)) as client:
            watcher = asyncio.create_task(collect(client, events))
            await client.install(manifest)
            await until(lambda: len(named(events, "download.started")) == 3, "3 started")
            filler = fill(small_disk)  # while every download is still transferring

            await until(lambda: len(named(events, "download.failed")) == 3, "3 failures")
            failed = named(events, "download.failed")
            assert all(e["code"] == ErrorCode.DISK_ERROR and e["name"] == "diskError"
                       for e in failed), failed
            assert sorted(e["download"] for e in failed) == ["extra", "movie", "tutorial"]
            shown = rows_by_id(await client.downloads())
            assert {i: (r["state"], r.get("error")) for i, r in shown.items()} == {
                i: ("failed", 1030) for i in ("extra", "movie", "tutorial")}
            # Every journal write now fails (filled again: what the failed transfers left
            # behind may have been removed): each is a coded answer, and nothing changes.
            fill(small_disk)
            await refused_for_the_disk(client.app_action(APP_ID, "periodic"), journal)
            await refused_for_the_disk(client.app_action(APP_ID, "launch"), journal)
            scene.version = "2.0"
            await refused_for_the_disk(
                client.install(scene.write_manifests(server.url), ContentRequest.UPDATE),
                journal)
            await refused_for_the_disk(client.app_action(APP_ID, "uninstall"), journal)
            status = await client.status()
            assert [(a["app"], a["version"]) for a in status["apps"]] == [(APP_ID, "1.0")]
            assert (small_disk / "containers" / GROUP).is_dir()  # kept with its record
            waiting = [e for e in named(events, "request.waiting") if e.get("code")]
            assert [(e["request"], e["code"]) for e in waiting] == [("periodic", 1030)]
            assert not named(events, "download.reenqueued")

            filler.unlink()
            failed_at = len(events)

            def back() -> set[str]:
                """The failed downloads scheduled again since space is back: re-enqueued
                by the failure policy, or planned again by the periodic request that
                waited for space, whichever came first (both wait the retry interval)."""
                return {e["download"] for e in events[failed_at:]
                        if e["event"] in ("download.reenqueued", "download.scheduled")}

            # Back within the retry interval (and some slack for a busy machine).
            await until(lambda: back() == {"extra", "movie", "tutorial"}, "3 scheduled again",
                        timeout=RETRY_INTERVAL * 10)
            await until(lambda: len(named(events, "download.finished")) == 3, "3 finished")
            again = [e for e in events[failed_at:]
                     if e["event"] in ("download.reenqueued", "download.scheduled")]
            assert sorted(e["download"] for e in again) == ["extra", "movie", "tutorial"]
            assert not any(e["essential"] for e in again)  # never essential after the install
            await until(lambda: len(named(events, "catalog.fetched")) == 2,
                        "the periodic request made again")
            await asyncio.sleep(RETRY_INTERVAL * 2)
            finished = [e["download"] for e in named(events, "download.finished")]
            assert sorted(finished) == ["extra", "movie", "tutorial"]  # each once
            shown = rows_by_id(await client.downloads())
            assert {i: r["state"] for i, r in shown.items()} == {
                "extra": "finished", "movie": "finished", "tutorial": "finished"}
            assert (await client.status())["apps"][0]["state"] == "launchable"
            watcher.cancel()
        assert process.returncode == 0, stderr
    assert "Traceback" not in stderr[0] and "never retrieved" not in stderr[0], stderr[0]
    for asset in ASSETS:
        data = (small_disk / "containers" / GROUP / "assets" / f"{asset.id}.bin").read_bytes()
        assert hashlib.sha256(data).hexdigest() == hashlib.sha256(asset.data()).hexdigest()
    with Journal(journal) as written:
        assert written._query("PRAGMA integrity_check")[0][0] == "ok"
        assert written.app(APP_ID).pending_request is None


HANDLERS = '''
from orchestrator.sdk import DownloaderExtension, read_catalog


class Downloader(DownloaderExtension):
    def downloads(self, request, manifest_path, info):
        catalog = read_catalog(manifest_path, self.catalog_url)
        return [self.download(a.id, a.url, size=a.size, sha256=a.sha256,
                              essential=a.essential and request.name == "INSTALL",
                              priority=a.priority, destination=f"handled/{a.id}")
                for a in catalog.assets]
'''


async def test_handler_downloads_a_full_disk_failed_come_back_once_space_is_back(
        tmp_path, small_disk):
    scene = small_disk_scenario(tmp_path, [Asset("tutorial", 128 * KiB, essential=True),
                                           Asset("movie", 256 * KiB, essential=True)])
    scene.write_content()
    recorder, unhandled = Recorder(), []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: unhandled.append(context))
    async with DevServer(scene.content, rate_per_connection=256 * KiB) as server:
        manifest = scene.write_manifests(server.url)
        extension = manifest.parent / "extension.yaml"
        extension.write_text(extension.read_text().replace(
            "  rules:", "  handler: handlers:Downloader\n  rules:"))
        (manifest.parent / "handlers.py").write_text(textwrap.dedent(HANDLERS))
        async with Orchestrator(small_disk, bypass_allotment=True) as orchestrator:
            orchestrator.disk_retry_interval = RETRY_INTERVAL
            orchestrator.events.subscribe(recorder)
            await orchestrator.install(manifest)
            # While both transfer: one due to start on a full disk would fail for space.
            await until(lambda: len(recorder.named("download.started")) == 2, "2 started")
            filler = fill(small_disk)
            await orchestrator.wait(APP_ID, "all", timeout=30)
            failed = recorder.named("download.failed")
            assert sorted((e["download"], e["code"]) for e in failed) == [
                ("movie", 1030), ("tutorial", 1030)]
            assert orchestrator.settled(APP_ID, "essential")  # the essential one ended
            filler.unlink()
            await until(lambda: len(recorder.named("download.finished")) == 2, "2 finished")
    assert sorted((e["download"], e["essential"]) for e in recorder.named("download.reenqueued")
                  ) == [("movie", False), ("tutorial", False)]
    for asset in scene.assets:
        path = small_disk / "containers" / GROUP / "handled" / asset.id
        assert path.read_bytes() == asset.data()
    assert not unhandled
