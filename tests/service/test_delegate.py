"""Handover to a connected app's delegate, and the engine publishing straight into the container.

A declarative extension's files are published by the engine at their destination;
an app that connects with a delegate before a file is done still gets that file at
an ephemeral path, outside its container, and what it does not move is deleted.
"""

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
        assert container not in path.parents, "a delegate gets an ephemeral path"
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
