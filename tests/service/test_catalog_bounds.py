"""A catalog is bounded: in size (the maximum, or what is left of downloadAllowance before the
first launch), in time (a deadline) and in rate (a server that drips is given up)."""

import asyncio
import json
import os
import subprocess
import sys
import time

from orchestrator.devserver import DevServer
from orchestrator.engine import Engine, RetryPolicy
from orchestrator.service import Orchestrator
from tests.engine.servers import endless_chunked, serve
from tests.service.scenario import APP_ID, GROUP, Asset, KiB, Recorder, Scenario

OTHER_ID, OTHER_GROUP = "com.example.other", "group.com.example.other"
FAST_RETRY = RetryPolicy(attempts=2, base_delay=0.01)


def scene_for(root, **options):
    scene = Scenario(root, [Asset("a", KiB)], **options)
    scene.write_content()
    return scene


def write_manifests(scene, url, app_id=APP_ID):
    manifest = scene.write_manifests(url)
    if app_id != APP_ID:
        for path in (manifest, manifest.parent / "extension.yaml"):
            path.write_text(path.read_text().replace(GROUP, OTHER_GROUP).replace(APP_ID, app_id))
    return manifest


def pad_catalog(scene, size):
    """Make the served catalog ``size`` bytes of valid JSON (spaces before its end)."""
    catalog = scene.content / "game" / "catalog.json"
    text = catalog.read_text()
    catalog.write_text(text[:-1] + " " * (size - len(text)) + "}")


class DiskWatch:
    """The largest file seen in the state dir (the journal aside), sampled every few ms."""

    def __init__(self, folder):
        self.folder, self.largest = folder, 0
        self._task = None

    def _sample(self):
        for root, _, names in os.walk(self.folder):
            for name in names:
                if not name.startswith("journal"):
                    try:
                        size = os.stat(os.path.join(root, name)).st_size
                    except OSError:
                        continue
                    self.largest = max(self.largest, size)

    async def _run(self):
        while True:
            self._sample()
            await asyncio.sleep(0.002)

    def files(self):
        return sorted(name for _, _, names in os.walk(self.folder) for name in names
                      if not name.startswith("journal") and "catalog" in name)

    async def __aenter__(self):
        self._task = asyncio.ensure_future(self._run())
        return self

    async def __aexit__(self, *exc):
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._sample()


async def failed_catalog(recorder, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        failed = [e for e in recorder.named("download.failed") if e["download"] == "@catalog"]
        if failed:
            return failed[0]
        await asyncio.sleep(0.01)
    raise AssertionError("the catalog never failed")


async def test_an_endless_catalog_is_cut_off_at_the_maximum_and_the_next_app_installs(tmp_path):
    cap = 1024 * KiB
    bad, good = scene_for(tmp_path / "bad"), scene_for(tmp_path / "good")
    recorder = Recorder()
    async with serve({"/game/catalog.json": endless_chunked(pause=0.01)}) as (url, _), \
            DevServer(good.content) as good_server:
        bad_manifest = write_manifests(bad, f"{url}/")
        good_manifest = write_manifests(good, good_server.url, OTHER_ID)
        async with Engine(retry=FAST_RETRY) as engine, \
                Orchestrator(tmp_path / "state", engine=engine,
                             max_catalog_size=cap) as orchestrator, \
                DiskWatch(tmp_path / "state") as disk:
            orchestrator.events.subscribe(recorder)
            await orchestrator.install(bad_manifest)
            failed = await failed_catalog(recorder)
            await orchestrator.install(good_manifest)
            await orchestrator.wait(OTHER_ID, "all", timeout=30)
    assert (failed["app"], failed["code"], failed["name"]) == (APP_ID, 1014, "catalogTooLarge")
    assert "cut off" in failed["message"]
    assert cap // 2 < disk.largest <= cap + 64 * KiB  # seen growing, never past the cap
    assert disk.files() == []  # no partial catalog left behind
    finished = recorder.named("download.finished")
    assert [(e["app"], e["download"]) for e in finished] == [(OTHER_ID, "a")]


async def test_an_endless_catalog_over_the_allowance_is_refused_with_203(tmp_path):
    allowance = 128 * KiB
    scene = scene_for(tmp_path, download_allowance=allowance)
    recorder = Recorder()
    async with serve({"/game/catalog.json": endless_chunked(pause=0.01)}) as (url, _):
        manifest = write_manifests(scene, f"{url}/")
        async with Engine(retry=FAST_RETRY) as engine, \
                Orchestrator(tmp_path / "state", engine=engine) as orchestrator, \
                DiskWatch(tmp_path / "state") as disk:
            orchestrator.events.subscribe(recorder)
            await orchestrator.install(manifest)
            failed = await failed_catalog(recorder)
    assert (failed["code"], failed["name"]) == (203, "sessionDownloadDisallowedByAllowance")
    assert str(allowance) in failed["message"]
    assert allowance // 2 < disk.largest <= allowance
    assert disk.files() == []


async def test_a_declared_catalog_over_the_allowance_is_refused_before_its_body(tmp_path):
    allowance = 64 * KiB
    scene = scene_for(tmp_path, download_allowance=allowance)
    recorder = Recorder()
    async with DevServer(scene.content) as server:
        manifest = write_manifests(scene, server.url)
        pad_catalog(scene, 4 * allowance)
        async with Engine(retry=FAST_RETRY) as engine, \
                Orchestrator(tmp_path / "state", engine=engine) as orchestrator, \
                DiskWatch(tmp_path / "state") as disk:
            orchestrator.events.subscribe(recorder)
            await orchestrator.install(manifest)
            failed = await failed_catalog(recorder)
    assert failed["code"] == 203
    assert disk.largest <= allowance
    assert disk.files() == []


async def test_a_dripping_catalog_is_given_up_under_the_minimum_rate(tmp_path):
    deadline = 8.0
    scene = scene_for(tmp_path)
    recorder = Recorder()
    async with DevServer(scene.content, rate_per_connection=200) as server:
        manifest = write_manifests(scene, server.url)
        pad_catalog(scene, 64 * KiB)
        async with Engine(retry=FAST_RETRY) as engine, \
                Orchestrator(tmp_path / "state", engine=engine,
                             catalog_deadline=deadline) as orchestrator:
            orchestrator.events.subscribe(recorder)
            started = time.monotonic()
            await orchestrator.install(manifest)
            failed = await failed_catalog(recorder)
            elapsed = time.monotonic() - started
    assert (failed["code"], failed["name"]) == (1021, "networkError")
    assert "minimum" in failed["message"]
    assert elapsed < deadline + 3
    assert not any("catalog" in p.name for p in (tmp_path / "state").rglob("*"))


async def test_a_slow_catalog_is_given_up_at_the_deadline(tmp_path):
    deadline = 2.0
    scene = scene_for(tmp_path)
    recorder = Recorder()
    async with DevServer(scene.content, rate_per_connection=4 * KiB) as server:
        manifest = write_manifests(scene, server.url)
        pad_catalog(scene, 256 * KiB)
        async with Engine(retry=FAST_RETRY) as engine, \
                Orchestrator(tmp_path / "state", engine=engine, catalog_deadline=deadline,
                             catalog_min_rate=0) as orchestrator:
            orchestrator.events.subscribe(recorder)
            started = time.monotonic()
            await orchestrator.install(manifest)
            failed = await failed_catalog(recorder)
            elapsed = time.monotonic() - started
    assert failed["code"] == 1021
    assert "longer than 2 s" in failed["message"]
    assert deadline - 0.5 < elapsed < deadline + 3
    assert not any("catalog" in p.name for p in (tmp_path / "state").rglob("*"))


def test_simulate_gives_a_dripping_catalog_up_within_its_timeout(tmp_path):
    """One byte a second (sent a 4 KiB chunk at a time): the default minimum rate ends the
    fetch after its 10 s window, well within ``simulate --timeout 20``."""
    from orchestrator.devserver.thread import serve_in_thread

    scene = scene_for(tmp_path)
    with serve_in_thread(scene.content, rate_per_connection=1) as server:
        manifest = write_manifests(scene, server.url)
        pad_catalog(scene, 16 * KiB)
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "orchestrator", "--state-dir", str(tmp_path / "state"),
             "simulate", "install", str(manifest), "--json", "--timeout", "20"],
            capture_output=True, text=True, timeout=60)
        elapsed = time.monotonic() - started
    events = [json.loads(line) for line in result.stdout.splitlines()]
    failed = [e for e in events if e["event"] == "download.failed"]
    assert [(e["download"], e["code"]) for e in failed] == [("@catalog", 1021)], result.stderr
    assert "minimum" in failed[0]["message"]
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert elapsed < 20


async def test_a_devserver_endless_catalog_is_cut_off_at_its_declared_length(tmp_path):
    """The DevServer's ``endless`` fault states the length in Content-Range, then keeps
    sending: the catalog is cut off there and fails as a size mismatch, never growing."""
    scene = scene_for(tmp_path)
    recorder = Recorder()
    async with DevServer(scene.content, faults=["endless:1"]) as server:
        manifest = write_manifests(scene, server.url)
        size = (scene.content / "game" / "catalog.json").stat().st_size
        async with Engine(retry=FAST_RETRY) as engine, \
                Orchestrator(tmp_path / "state", engine=engine,
                             max_catalog_size=256 * KiB) as orchestrator, \
                DiskWatch(tmp_path / "state") as disk:
            orchestrator.events.subscribe(recorder)
            await orchestrator.install(manifest)
            failed = await failed_catalog(recorder)
    assert failed["code"] == 1010 and "cut off" in failed["message"]
    assert disk.largest <= size
    assert disk.files() == []
