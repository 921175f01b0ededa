"""Handover to a connected app's delegate, and the engine publishing straight into the container.

A declarative extension's files are published by the engine at their destination;
an app that connects with a delegate before a file is done still gets that file at
an ephemeral path (the container's ``tmp/bgassets``), and what it does not move is
deleted.
"""

import asyncio
import hashlib

from orchestrator.devserver import DevServer
from orchestrator.engine import Engine, RetryPolicy
from orchestrator.service import Orchestrator
from tests.service.scenario import APP_ID, GROUP, Asset, KiB, Recorder, Scenario


class Delegate:
    """Keeps the first file it is given (moved next to ``keep``), leaves the others."""

    def __init__(self, keep):
        self.keep = keep
        self.finished_paths = {}
        self.failed_ids = []

    def finished(self, download, path):
        self.finished_paths[download.id] = path
        if len(self.finished_paths) == 1:
            path.replace(self.keep / download.id)

    def failed(self, download, error):
        self.failed_ids.append(download.id)


async def test_a_delegate_connected_mid_install_gets_ephemeral_files(tmp_path):
    assets = [Asset("tutorial", 64 * KiB, essential=True, priority=100),
              Asset("level-1", 256 * KiB, priority=90), Asset("level-2", 256 * KiB, priority=80)]
    scene = Scenario(tmp_path, assets)
    scene.write_content()
    keep = tmp_path / "kept"
    keep.mkdir()
    delegate = Delegate(keep)
    recorder = Recorder()
    container = tmp_path / "state" / "containers" / GROUP
    # 512 KiB/s per connection: the non-essential files take about half a second each.
    async with DevServer(scene.content, rate_per_connection=512 * KiB) as server:
        manifest = scene.write_manifests(server.url)
        async with Engine(retry=RetryPolicy(attempts=2, base_delay=0.01)) as engine, \
                Orchestrator(tmp_path / "state", engine=engine, max_active=1) as orchestrator:
            orchestrator.events.subscribe(recorder)
            await orchestrator.install(manifest)
            await orchestrator.wait(APP_ID, "essential", timeout=30)
            assert (container / "assets" / "tutorial.bin").exists()  # published in place
            orchestrator.launch(APP_ID, delegate)
            await orchestrator.wait(APP_ID, "all", timeout=30)

    assert set(delegate.finished_paths) == {"level-1", "level-2"} and not delegate.failed_ids
    for path in delegate.finished_paths.values():
        assert path.parent == container / "tmp" / "bgassets", "an ephemeral path, inside"
        assert not path.exists(), "what the delegate did not move is deleted"
    kept = next(iter(delegate.finished_paths))
    data = (keep / kept).read_bytes()
    expected = next(a for a in assets if a.id == kept).data()
    assert hashlib.sha256(data).digest() == hashlib.sha256(expected).digest()
    assert not (container / "assets" / "level-1.bin").exists()
    assert not (container / "assets" / "level-2.bin").exists()
    finished = {e["download"]: e for e in recorder.named("download.finished")}
    assert finished["tutorial"]["path"] == str(container / "assets" / "tutorial.bin")
    assert finished["level-1"]["path"] is None and finished["level-2"]["path"] is None


async def test_declarative_files_are_published_in_place_with_nothing_left_in_staging(tmp_path):
    assets = [Asset(f"a{i}", 16 * KiB) for i in range(20)] + [Asset("big", 3 * 1024 * KiB)]
    scene = Scenario(tmp_path, assets)
    scene.write_content()
    async with DevServer(scene.content) as server:
        manifest = scene.write_manifests(server.url)
        async with Orchestrator(tmp_path / "state") as orchestrator:
            await orchestrator.install(manifest)
            await orchestrator.wait(APP_ID, "all", timeout=30)
    container = tmp_path / "state" / "containers" / GROUP
    for asset in assets:
        data = (container / "assets" / f"{asset.id}.bin").read_bytes()
        assert hashlib.sha256(data).digest() == hashlib.sha256(asset.data()).digest()
    assert list((container / "assets").glob("*.part*")) == []
    staging = tmp_path / "state" / "staging" / GROUP
    assert [p.name for p in staging.iterdir() if p.is_file()] == []


class Stuck:
    """A delegate whose ``finished`` never returns: the daemon stops while it waits."""

    def __init__(self):
        self.given = asyncio.Event()

    async def finished(self, download, path):
        self.given.set()
        await asyncio.Event().wait()

    def failed(self, download, error):
        pass


async def test_a_file_the_delegate_held_when_the_daemon_stopped_is_delivered_after_restart(
        tmp_path):
    assets = [Asset("tutorial", 32 * KiB, essential=True)]
    scene = Scenario(tmp_path, assets)
    scene.write_content()
    level = Asset("level", 96 * KiB)  # the app's own download, not in the catalog
    (scene.content / "game" / "level.bin").write_bytes(level.data())
    container = tmp_path / "state" / "containers" / GROUP
    stuck = Stuck()
    async with DevServer(scene.content) as server:
        manifest = scene.write_manifests(server.url)
        async with Orchestrator(tmp_path / "state") as orchestrator:
            await orchestrator.install(manifest)
            await orchestrator.wait(APP_ID, "essential", timeout=30)
            orchestrator.launch(APP_ID, stuck)
            orchestrator.schedule(APP_ID, "level", f"{server.url}game/level.bin",
                                  size=level.size)
            await asyncio.wait_for(stuck.given.wait(), 30)
            held = list((container / "tmp" / "bgassets").iterdir())
            assert [p.name.endswith("level.bin") for p in held] == [True]
        recorder = Recorder()
        async with Orchestrator(tmp_path / "state") as orchestrator:  # no app connected
            orchestrator.events.subscribe(recorder)
            await orchestrator.wait(APP_ID, "all", timeout=30)
    # The extension's rules got the file, and what the delegate held is gone. The journal
    # had not recorded the download as handed over, so it was fetched once more.
    assert (container / "assets" / "level.bin").read_bytes() == level.data()
    assert not (container / "tmp" / "bgassets").exists()
    assert [e["download"] for e in recorder.named("download.finished")] == ["level"]
    assert server.stats.bytes_by_path["/game/level.bin"] <= 2 * level.size
