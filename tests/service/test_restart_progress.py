"""Install progress after a restart comes from the journal: 100 % once installed, else the
essential bytes delivered so far."""

from __future__ import annotations

import asyncio

from orchestrator.devserver import DevServer
from orchestrator.model.device import Device, Network
from orchestrator.service import Orchestrator
from tests.service.scenario import APP_ID, Asset, KiB, MiB, Recorder, Scenario

FULL = {"app": 1.0, "install": 1.0, "essential": 1.0}


async def test_an_installed_app_is_complete_and_launchable_after_a_restart(tmp_path):
    assets = [Asset("tutorial", 128 * KiB, essential=True), Asset("extra", 64 * KiB)]
    scene = Scenario(tmp_path, assets)
    scene.write_content()
    async with DevServer(scene.content) as server:
        manifest = scene.write_manifests(server.url)
        async with Orchestrator(tmp_path / "state", max_active=1) as o:
            await o.install(manifest)
            await o.wait(APP_ID, "all", timeout=20)
            installed = o.apps[APP_ID].progress
        async with Orchestrator(tmp_path / "state", max_active=1) as o:
            loaded = o.apps[APP_ID]
            assert loaded.launchable and loaded.progress.fraction == 1.0
            assert loaded.progress.phases() == FULL
            assert loaded.progress.total == installed.total
            o.launch(APP_ID)
        async with Orchestrator(tmp_path / "state") as o:
            assert o.apps[APP_ID].launched and o.apps[APP_ID].progress.fraction == 1.0


async def test_an_install_stopped_half_way_shows_the_essential_bytes_delivered(tmp_path):
    first, second = Asset("first", 64 * KiB, essential=True, priority=90), \
        Asset("second", 2 * MiB, essential=True, priority=10)
    scene = Scenario(tmp_path, [first, second])
    scene.write_content()
    async with DevServer(scene.content, rate_per_connection=1 * MiB) as server:
        manifest = scene.write_manifests(server.url)
        async with Orchestrator(tmp_path / "state", max_active=1) as o:
            events = Recorder()
            o.events.subscribe(events)
            await o.install(manifest)
            while not events.named("download.finished"):
                await asyncio.sleep(0.01)
        offline = Device(network=Network(online=False))
        async with Orchestrator(tmp_path / "state", device=offline) as o:
            loaded = o.apps[APP_ID]
            progress = loaded.progress
            assert not loaded.launchable
            assert (progress.essential_done, progress.essential_total) == (
                first.size, first.size + second.size)
            base_and_step = 4 * MiB + 1 * MiB
            assert progress.fraction == (base_and_step + first.size) / (
                base_and_step + first.size + second.size)
            server.rate_per_connection = None
            o.set_device(Device())
            await o.wait(APP_ID, "essential", timeout=20)
            assert o.apps[APP_ID].progress.fraction == 1.0
