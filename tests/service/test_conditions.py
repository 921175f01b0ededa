"""Device conditions, restrictions before the first launch, and purge, end to end."""

import asyncio
import hashlib
from dataclasses import replace

from orchestrator.clock import VirtualClock
from orchestrator.devserver import DevServer
from orchestrator.model.device import Device, Network
from orchestrator.model.enums import DownloadState
from orchestrator.service import Orchestrator
from tests.service.scenario import APP_ID, GROUP, Asset, KiB, MiB, Recorder, Scenario


async def started(tmp_path, assets, server, device=None, **scenario):
    scene = Scenario(tmp_path, assets, **scenario)
    manifest = scene.write_manifests(server.url)
    orchestrator = Orchestrator(tmp_path / "state", device=device)
    await orchestrator.__aenter__()
    recorder = Recorder()
    orchestrator.events.subscribe(recorder)
    return orchestrator, recorder, manifest


def content(tmp_path, assets):
    scene = Scenario(tmp_path, assets)
    scene.write_content()
    return scene.content


async def test_host_outside_allow_list_is_refused_before_launch_and_allowed_after(tmp_path):
    assets = [Asset("near", 64 * KiB), Asset("far", 64 * KiB)]
    async with DevServer(content(tmp_path, assets)) as server:
        assets[1].url = f"http://localhost:{server.port}/game/far.bin"
        o, events, manifest = await started(tmp_path, assets, server)
        try:
            await o.install(manifest)
            await o.wait(APP_ID, "all", timeout=20)
            assert [(e["download"], e["code"]) for e in events.named("plan.rejected")] == [
                ("far", 202)]
            o.launch(APP_ID)
            await o.periodic(APP_ID)
            await o.wait(APP_ID, "all", timeout=20)
            assert [e["download"] for e in events.named("download.finished")] == ["near", "far"]
        finally:
            await o.__aexit__(None, None, None)


async def test_low_power_mode_means_periodic_does_nothing(tmp_path):
    assets = [Asset("a", 64 * KiB)]
    async with DevServer(content(tmp_path, assets)) as server:
        o, events, manifest = await started(tmp_path, assets, server)
        try:
            await o.install(manifest)
            await o.wait(APP_ID, "all", timeout=20)
            o.set_device(Device(low_power_mode=True))
            events.clear()
            await o.periodic(APP_ID)
            assert [(e["event"], e.get("code")) for e in events] == [("event.refused", 111)]
            assert server.stats.requests_by_path.get("/game/catalog.json") == 1
        finally:
            await o.__aexit__(None, None, None)


async def test_in_app_content_off_runs_nothing_before_first_launch(tmp_path):
    assets = [Asset("tutorial", 64 * KiB, essential=True), Asset("extra", 64 * KiB)]
    async with DevServer(content(tmp_path, assets)) as server:
        o, events, manifest = await started(tmp_path, assets, server,
                                            device=Device(in_app_content=False))
        try:
            await o.install(manifest)
            assert [e.get("code") for e in events.named("event.refused")] == [206]
            assert events.named("download.scheduled") == []
            o.launch(APP_ID)
            await o.periodic(APP_ID)
            await o.wait(APP_ID, "all", timeout=20)
            finished = events.named("download.finished")
            assert {e["download"] for e in finished} == {"tutorial", "extra"}
            assert not any(e["essential"] for e in finished)
        finally:
            await o.__aexit__(None, None, None)


async def test_metered_network_pauses_background_downloads_when_the_policy_forbids(tmp_path):
    assets = [Asset("big", 4 * MiB)]
    async with DevServer(content(tmp_path, assets), rate_per_connection=2 * MiB) as server:
        o, events, manifest = await started(tmp_path, assets, server, allow_metered=False)
        try:
            await o.install(manifest)
            while not events.named("download.progress"):
                await asyncio.sleep(0.02)
            o.set_device(replace(o.device, network=Network(online=True, metered=True)))
            assert events.named("download.paused")[0]["reason"] == "metered network"
            tracked = o.queue.tracked[f"{GROUP}/big"]
            assert o.queue.shown_state(tracked) is DownloadState.PAUSED
            assert (tracked.state, tracked.paused) == (DownloadState.DOWNLOADING,
                                                       "metered network")
            await asyncio.sleep(0.3)
            assert events.named("download.finished") == []
            assert o.journal.download(tracked.key).download.state is DownloadState.DOWNLOADING
            o.set_device(Device())
            while tracked.paused:  # the queue resumes it on its next decision
                await asyncio.sleep(0.01)
            assert o.queue.shown_state(tracked) is DownloadState.DOWNLOADING
            await o.wait(APP_ID, "all", timeout=20)
            assert events.named("download.finished")[0]["download"] == "big"
        finally:
            await o.__aexit__(None, None, None)


async def test_purge_evicts_purgeable_files_and_periodic_fetches_them_again(tmp_path):
    assets = [Asset("cache-me", 256 * KiB), Asset("keep-me", 128 * KiB)]
    async with DevServer(content(tmp_path, assets)) as server:
        rules = ('{match: {id: "cache-*"}, destination: "Library/Caches/{filename}"}',
                 '{destination: "{filename}"}')
        o, events, manifest = await started(tmp_path, assets, server, rules=rules)
        scene = Scenario(tmp_path, assets)
        try:
            await o.install(manifest)
            await o.wait(APP_ID, "all", timeout=20)
            container = tmp_path / "state" / "containers" / GROUP
            cached = container / "Library" / "Caches" / "cache-me.bin"
            assert cached.exists() and (container / "keep-me.bin").exists()
            o.launch(APP_ID)
            freed = o.purge()
            assert freed == 256 * KiB and not cached.exists()
            assert [e["download"] for e in events.named("asset.purged")] == ["cache-me"]
            await o.periodic(APP_ID)
            await o.wait(APP_ID, "all", timeout=20)
            scheduled = [e["download"] for e in events.named("download.scheduled")]
            assert scheduled == ["cache-me", "keep-me", "cache-me"]
            assert hashlib.sha256(cached.read_bytes()).digest() == \
                hashlib.sha256(scene.assets[0].data()).digest()
        finally:
            await o.__aexit__(None, None, None)


async def test_periodic_runs_when_due_from_usage(tmp_path):
    assets = [Asset("a", 64 * KiB)]
    clock = VirtualClock(1_000_000.0)
    async with DevServer(content(tmp_path, assets)) as server:
        scene = Scenario(tmp_path, assets)
        manifest = scene.write_manifests(server.url)
        async with Orchestrator(tmp_path / "state", clock=clock) as o:
            await o.install(manifest)
            await o.wait(APP_ID, "all", timeout=20)
            assert o.due_periodic() == []
            clock.advance(clock.elapsed + 23 * 3600)
            assert o.due_periodic() == []
            clock.advance(clock.elapsed + 2 * 3600)
            assert o.due_periodic() == [APP_ID]
            o.set_device(Device(low_power_mode=True))
            assert o.due_periodic() == []
