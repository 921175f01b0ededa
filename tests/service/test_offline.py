"""Offline means offline: no catalog fetch, no transfer, no foreground start until online."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from orchestrator.devserver import DevServer
from orchestrator.errors import BackgroundAssetsError, ErrorCode
from orchestrator.model.device import Device, Network
from orchestrator.model.enums import ContentRequest
from orchestrator.service import Orchestrator
from tests.service.scenario import APP_ID, Asset, KiB, Recorder, Scenario

CATALOG = "/game/catalog.json"
OFFLINE = Device(network=Network(online=False))


def online(device: Device, value: bool = True) -> Device:
    return replace(device, network=replace(device.network, online=value))


async def until(condition, timeout: float = 20.0) -> None:
    """Poll ``condition`` every 10 ms; a generous bound, never a pass/fail timing."""
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


def served(tmp_path, assets):
    scene = Scenario(tmp_path, assets)
    scene.write_content()
    return scene


async def test_install_while_offline_waits_for_the_network_then_fetches(tmp_path):
    assets = [Asset("tutorial", 64 * KiB, essential=True), Asset("extra", 32 * KiB)]
    scene = served(tmp_path, assets)
    async with DevServer(scene.content) as server:
        manifest = scene.write_manifests(server.url)
        async with Orchestrator(tmp_path / "state", device=OFFLINE) as o:
            events = Recorder()
            o.events.subscribe(events)
            await o.install(manifest)
            assert server.stats.requests == 0
            assert [e["request"] for e in events.named("request.waiting")] == ["install"]
            assert events.named("extension.request") == []
            loaded = o.apps[APP_ID]
            assert not loaded.launchable and loaded.progress.fraction < 1
            with pytest.raises(BackgroundAssetsError) as refused:
                o.launch(APP_ID)
            assert refused.value.code == ErrorCode.APP_NOT_LAUNCHABLE
            assert "offline" in refused.value.message
            with pytest.raises(asyncio.TimeoutError):
                await o.wait(APP_ID, "all", timeout=0.2)
            assert server.stats.requests == 0

            o.set_device(online(o.device))
            await o.wait(APP_ID, "all", timeout=20)
            assert server.stats.requests_by_path[CATALOG] == 1
            assert {e["download"] for e in events.named("download.finished")} == {
                "tutorial", "extra"}
            assert o.apps[APP_ID].launchable and o.apps[APP_ID].progress.fraction == 1.0
            o.launch(APP_ID)


async def test_a_catalog_fetch_stops_when_the_device_goes_offline(tmp_path):
    assets = [Asset(f"a{i:03}", 1 * KiB) for i in range(300)]
    scene = served(tmp_path, assets)
    async with DevServer(scene.content, rate_per_connection=4 * KiB) as server:
        manifest = scene.write_manifests(server.url)
        assert (scene.content / "game" / "catalog.json").stat().st_size > 40 * KiB
        async with Orchestrator(tmp_path / "state") as o:
            events = Recorder()
            o.events.subscribe(events)
            install = asyncio.create_task(o.install(manifest))
            await until(lambda: server.stats.requests_by_path[CATALOG] == 1)
            o.set_device(online(o.device, False))
            await asyncio.wait_for(install, 20)
            assert [e["request"] for e in events.named("request.waiting")] == ["install"]
            assert events.named("catalog.fetched") == [] and events.named("download.failed") == []
            assert not o.apps[APP_ID].launchable

            server.rate_per_connection = None
            o.set_device(online(o.device))
            await o.wait(APP_ID, "all", timeout=20)
            assert server.stats.requests_by_path[CATALOG] == 2
            assert len(events.named("download.finished")) == len(assets)


async def test_promotion_while_offline_is_refused_and_nothing_starts(tmp_path):
    # A metered network holds the background download back (the app's policy forbids it),
    # so it has not started when the device goes offline.
    assets = [Asset("tutorial", 16 * KiB, essential=True), Asset("movie", 256 * KiB)]
    scene = Scenario(tmp_path, assets, allow_metered=False)
    scene.write_content()
    metered = Device(network=Network(online=True, metered=True))
    async with DevServer(scene.content) as server:
        manifest = scene.write_manifests(server.url)
        async with Orchestrator(tmp_path / "state", device=metered) as o:
            events = Recorder()
            o.events.subscribe(events)
            await o.install(manifest)
            await o.wait(APP_ID, "essential", timeout=20)
            o.launch(APP_ID)
            o.set_device(online(o.device, False))
            requests = server.stats.requests
            events.clear()
            with pytest.raises(BackgroundAssetsError) as refused:
                o.promote("movie")
            assert refused.value.code == ErrorCode.NETWORK_ERROR
            assert "offline" in refused.value.message
            assert not o.find_download("movie").foreground
            await o.periodic(APP_ID)
            assert [e["request"] for e in events.named("request.waiting")] == ["periodic"]
            await asyncio.sleep(0.2)
            assert events.named("download.started") == [] and not o.is_running("movie")
            assert server.stats.requests == requests

            o.set_device(online(o.device))
            o.promote("movie")
            await o.wait(APP_ID, "all", timeout=20)
            assert [e["download"] for e in events.named("download.finished")] == ["movie"]
            assert server.stats.requests_by_path[CATALOG] == 2  # the periodic run, once online


async def test_an_install_stopped_offline_is_made_after_a_restart(tmp_path):
    assets = [Asset("tutorial", 32 * KiB, essential=True)]
    scene = served(tmp_path, assets)
    async with DevServer(scene.content) as server:
        manifest = scene.write_manifests(server.url)
        async with Orchestrator(tmp_path / "state", device=OFFLINE) as o:
            await o.install(manifest)
        async with Orchestrator(tmp_path / "state", device=OFFLINE) as o:
            assert not o.apps[APP_ID].launchable and server.stats.requests == 0
            o.set_device(Device())
            await o.wait(APP_ID, "all", timeout=20)
            assert o.apps[APP_ID].launchable
        assert server.stats.requests_by_path[CATALOG] == 1


async def test_an_offline_blip_during_the_catalog_fetch_keeps_the_app_unlaunchable(tmp_path):
    # Offline and back online while the catalog comes in: the fetch stops and is made again;
    # until that one is planned and its essential download has ended, nothing is launchable.
    assets = [Asset("tutorial", 64 * KiB, essential=True),
              *(Asset(f"a{i:03}", 1 * KiB) for i in range(300))]
    scene = served(tmp_path, assets)
    async with DevServer(scene.content, rate_per_connection=4 * KiB) as server:
        manifest = scene.write_manifests(server.url)
        async with Orchestrator(tmp_path / "state") as o:
            events = Recorder()
            o.events.subscribe(events)
            install = asyncio.create_task(o.install(manifest))
            await until(lambda: server.stats.requests_by_path[CATALOG] == 1)
            o.set_device(online(o.device, False))
            o.set_device(online(o.device))
            server.rate_per_connection = None
            await asyncio.wait_for(install, 20)
            assert not o.apps[APP_ID].launchable
            with pytest.raises(BackgroundAssetsError):
                o.launch(APP_ID)

            await o.wait(APP_ID, "all", timeout=20)
            assert server.stats.requests_by_path[CATALOG] == 2
            assert len(events.named("download.finished")) == len(assets)
            names = [(e["event"], e.get("download")) for e in events]
            assert names.count(("app.launchable", None)) == 1
            assert names.index(("download.finished", "tutorial")) \
                < names.index(("app.launchable", None))
            o.launch(APP_ID)


async def test_an_update_waiting_offline_is_made_after_a_restart(tmp_path):
    scene = served(tmp_path, [Asset("tutorial", 32 * KiB, essential=True)])
    async with DevServer(scene.content) as server:
        manifest = scene.write_manifests(server.url)
        async with Orchestrator(tmp_path / "state") as o:
            await o.install(manifest)
            await o.wait(APP_ID, "all", timeout=20)
            o.launch(APP_ID)
            o.set_device(online(o.device, False))
            scene.version = "2.0"
            scene.assets.append(Asset("level-2", 16 * KiB, essential=True))
            scene.write_content()
            scene.write_manifests(server.url)
            await o.update(manifest)
            assert o.waiting_request(APP_ID) == ContentRequest.UPDATE
        assert server.stats.requests_by_path[CATALOG] == 1

        async with Orchestrator(tmp_path / "state") as o:
            events = Recorder()
            o.events.subscribe(events)
            assert not o.apps[APP_ID].launchable
            await o.wait(APP_ID, "all", timeout=20)
            assert server.stats.requests_by_path[CATALOG] == 2
            assert [e["request"] for e in events.named("extension.request")] == ["update"]
            assert [e["download"] for e in events.named("download.finished")] == ["level-2"]
            assert o.apps[APP_ID].app.version == "2.0" and o.apps[APP_ID].launchable
            assert o.journal.app(APP_ID).pending_request is None
            o.launch(APP_ID)


async def test_a_periodic_request_waiting_offline_is_made_after_a_restart(tmp_path):
    scene = served(tmp_path, [Asset("tutorial", 16 * KiB, essential=True)])
    async with DevServer(scene.content) as server:
        manifest = scene.write_manifests(server.url)
        async with Orchestrator(tmp_path / "state") as o:
            await o.install(manifest)
            await o.wait(APP_ID, "all", timeout=20)
            o.launch(APP_ID)
            o.set_device(online(o.device, False))
            await o.periodic(APP_ID)
            assert o.waiting_request(APP_ID) == ContentRequest.PERIODIC

        async with Orchestrator(tmp_path / "state") as o:
            events = Recorder()
            o.events.subscribe(events)
            assert o.apps[APP_ID].launchable
            await until(lambda: events.named("extension.request"))
            assert [e["request"] for e in events.named("extension.request")] == ["periodic"]
            await until(lambda: o.journal.app(APP_ID).pending_request is None)
        assert server.stats.requests_by_path[CATALOG] == 2
