"""A running orchestrator never writes out of an app group container.

Folders swapped for symlinks while an install runs, a symlinked container, and two
downloads into one file, against a real DevServer and real folders.
"""

import json
import subprocess
import sys

import pytest

from orchestrator.devserver import DevServer
from orchestrator.engine import Engine, RetryPolicy
from orchestrator.errors import BackgroundAssetsError, ErrorCode
from orchestrator.service import Orchestrator
from tests.service.scenario import APP_ID, GROUP, Asset, KiB, MiB, Recorder, Scenario

SESSIONS = ('{destination: "sessions/{filename}"}',)


def container(tmp_path):
    return tmp_path / "state" / "containers" / GROUP


class SwapOnFirstFinish(Recorder):
    """Moves ``sessions/`` aside and puts a symlink to ``outside`` there, once a file is in."""

    def __init__(self, sessions, outside):
        super().__init__()
        self.sessions, self.outside = sessions, outside

    def __call__(self, event):
        super().__call__(event)
        if event.as_dict()["event"] == "download.finished" and not self.sessions.is_symlink():
            self.sessions.rename(self.sessions.with_name("moved-aside"))
            self.sessions.symlink_to(self.outside)


async def install_swapping(tmp_path, assets, **server):
    scene = Scenario(tmp_path, assets, rules=SESSIONS)
    scene.write_content()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    recorder = SwapOnFirstFinish(container(tmp_path) / "sessions", outside)
    async with DevServer(scene.content, **server) as served:
        manifest = scene.write_manifests(served.url)
        async with Engine(retry=RetryPolicy(attempts=2, base_delay=0.01)) as engine, \
                Orchestrator(tmp_path / "state", max_active=1, engine=engine) as orchestrator:
            orchestrator.events.subscribe(recorder)
            await orchestrator.install(manifest)
            await orchestrator.wait(APP_ID, "all", timeout=30)
    return recorder, outside


def outcome(recorder):
    finished = [e["download"] for e in recorder.named("download.finished")]
    failed = {e["download"]: e["code"] for e in recorder.named("download.failed")}
    return finished, failed


async def test_small_files_after_a_folder_became_a_symlink_fail_and_stay_inside(tmp_path):
    assets = [Asset(name, 64 * KiB, priority=90 - i) for i, name in enumerate("abc")]
    recorder, outside = await install_swapping(tmp_path, assets, rate_per_connection=512 * KiB)
    finished, failed = outcome(recorder)
    assert finished == ["a"]
    assert failed == {"b": ErrorCode.PATH_OUTSIDE_CONTAINER, "c": ErrorCode.PATH_OUTSIDE_CONTAINER}
    assert list(outside.iterdir()) == []
    assert (container(tmp_path) / "moved-aside" / "a.bin").read_bytes() == assets[0].data()


async def test_large_files_after_a_folder_became_a_symlink_fail_and_stay_inside(tmp_path):
    assets = [Asset(name, 2 * MiB, priority=90 - i) for i, name in enumerate("ab")]
    recorder, outside = await install_swapping(tmp_path, assets, rate_per_connection=16 * MiB)
    finished, failed = outcome(recorder)
    assert finished == ["a"] and failed == {"b": ErrorCode.PATH_OUTSIDE_CONTAINER}
    assert "symlink" in recorder.named("download.failed")[0]["message"]
    assert list(outside.iterdir()) == []


async def test_a_second_install_after_the_swap_writes_nothing_outside(tmp_path):
    """The folder was seen (and would have been remembered) by the first install."""
    scene = Scenario(tmp_path, [Asset("a", 64 * KiB), Asset("big", 2 * MiB)], rules=SESSIONS)
    scene.write_content()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    recorder = Recorder()
    async with DevServer(scene.content) as served:
        manifest = scene.write_manifests(served.url)
        async with Orchestrator(tmp_path / "state") as orchestrator:
            orchestrator.events.subscribe(recorder)
            await orchestrator.install(manifest)
            await orchestrator.wait(APP_ID, "all", timeout=30)
            sessions = container(tmp_path) / "sessions"
            sessions.rename(container(tmp_path) / "moved-aside")
            sessions.symlink_to(outside)
            recorder.clear()
            scene.version = "2.0"
            scene.write_manifests(served.url)
            await orchestrator.update(manifest)
            await orchestrator.wait(APP_ID, "all", timeout=30)
    failed = {e["download"]: e["code"] for e in recorder.named("download.failed")}
    assert failed == {"a": ErrorCode.PATH_OUTSIDE_CONTAINER,
                      "big": ErrorCode.PATH_OUTSIDE_CONTAINER}
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("linked", ["container", "containers folder"])
async def test_a_symlinked_container_or_containers_folder_refuses_the_install(linked, tmp_path):
    scene = Scenario(tmp_path, [Asset("a", 64 * KiB), Asset("big", 2 * MiB)], rules=SESSIONS)
    scene.write_content()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    link = container(tmp_path) if linked == "container" else container(tmp_path).parent
    link.parent.mkdir(parents=True)
    link.symlink_to(outside)
    recorder = Recorder()
    async with DevServer(scene.content) as served:
        manifest = scene.write_manifests(served.url)
        async with Orchestrator(tmp_path / "state") as orchestrator:
            orchestrator.events.subscribe(recorder)
            with pytest.raises(BackgroundAssetsError) as refused:
                await orchestrator.install(manifest)
            assert refused.value.code == ErrorCode.PATH_OUTSIDE_CONTAINER
            assert "symlink" in refused.value.message
            assert orchestrator.journal.app(APP_ID) is None  # refused before any record
    assert recorder.named("download.scheduled") == []
    assert served.stats.requests_by_path == {}
    assert list(outside.iterdir()) == []  # nothing made where the link points


def two_into_one_file(tmp_path):
    return Scenario(tmp_path, [Asset("one", 64 * KiB, priority=90, url="x/same.bin"),
                               Asset("two", 64 * KiB, priority=10, url="y/same.bin")],
                    rules=('{destination: "packs/{filename}"}',))


async def test_two_downloads_into_one_file_are_refused_in_the_orchestrators_plan(tmp_path):
    scene = two_into_one_file(tmp_path)
    for asset, folder in zip(scene.assets, ("x", "y"), strict=True):
        (scene.content / "game" / folder).mkdir(parents=True)
        (scene.content / "game" / folder / "same.bin").write_bytes(asset.data())
    recorder = Recorder()
    async with DevServer(scene.content) as served:
        manifest = scene.write_manifests(served.url)
        async with Orchestrator(tmp_path / "state") as orchestrator:
            orchestrator.events.subscribe(recorder)
            await orchestrator.install(manifest)
            await orchestrator.wait(APP_ID, "all", timeout=30)
    rejected = [(e["download"], e["code"]) for e in recorder.named("plan.rejected")]
    assert rejected == [("two", ErrorCode.DESTINATION_CONFLICT)]
    assert [e["download"] for e in recorder.named("download.finished")] == ["one"]


def test_two_downloads_into_one_file_are_refused_by_bgassets_plan(tmp_path):
    manifest = two_into_one_file(tmp_path).write_manifests("http://127.0.0.1:9/")
    catalog = tmp_path / "content" / "game" / "catalog.json"
    result = subprocess.run([sys.executable, "-m", "orchestrator", "plan", str(manifest),
                             "--event", "install", "--catalog", str(catalog), "--json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert [d["id"] for d in plan["downloads"]] == ["one"]
    assert [(r["download"], r["code"]) for r in plan["rejections"]] == [
        ("two", ErrorCode.DESTINATION_CONFLICT)]


async def test_purge_never_deletes_through_a_symlinked_caches_folder(tmp_path):
    scene = Scenario(tmp_path, [Asset("thumbs", 16 * KiB)],
                     rules=('{destination: "Library/Caches/{filename}"}',))
    scene.write_content()
    async with DevServer(scene.content) as served:
        manifest = scene.write_manifests(served.url)
        async with Orchestrator(tmp_path / "state") as orchestrator:
            await orchestrator.install(manifest)
            await orchestrator.wait(APP_ID, "all", timeout=30)
            caches = container(tmp_path) / "Library" / "Caches"
            [delivered] = [path for path in caches.iterdir() if path.is_file()]
            outside = tmp_path / "elsewhere"
            caches.rename(tmp_path / "moved-aside")
            outside.mkdir()
            (outside / delivered.name).write_bytes(b"someone else's file")
            caches.symlink_to(outside)
            assert orchestrator.purge() == 0
    assert (outside / delivered.name).read_bytes() == b"someone else's file"
