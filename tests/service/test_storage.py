"""Storage, simulated and measured: purge, then defer; installs refused; the reserve kept."""

import asyncio
import hashlib
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from orchestrator.devserver import DevServer
from orchestrator.errors import BackgroundAssetsError, ErrorCode
from orchestrator.manifests import load_device
from orchestrator.model.device import Device, Storage
from orchestrator.model.enums import DownloadState
from orchestrator.service import Orchestrator
from orchestrator.service.views import download_view
from tests.service.disk import small_tmpfs
from tests.service.scenario import APP_ID, GROUP, Asset, KiB, MiB, Recorder, Scenario

LOW_STORAGE = Path(__file__).resolve().parents[2] / "manifests" / "devices" / "low-storage.yaml"
CACHES = ('{match: {id: "cache-*"}, destination: "Library/Caches/{filename}"}',
          '{destination: "assets/{filename}"}')


def nearly_full(left: int) -> Device:
    """The low-storage profile (64 GiB, 4 GiB reserve) with only ``left`` bytes above the
    reserve: its own 100 MiB would take seconds to fill over loopback."""
    device = load_device(LOW_STORAGE)
    storage = device.storage
    assert storage.capacity is not None
    return replace(device, storage=replace(
        storage, used=storage.capacity - storage.reserve - left))


def seen(orchestrator, name: str, download: str | None = None) -> asyncio.Future:
    """A future for the next event ``name`` (of ``download`` when given)."""
    future = asyncio.get_running_loop().create_future()

    def check(event) -> None:
        if event.event == name and download in (None, event.data.get("download")) \
                and not future.done():
            future.set_result(event.as_dict())

    unsubscribe = orchestrator.events.subscribe(check)
    future.add_done_callback(lambda _: unsubscribe())
    return future


def asset_path(state: Path, asset: Asset) -> Path:
    folder = "Library/Caches" if asset.id.startswith("cache-") else "assets"
    return state / "containers" / GROUP / folder / f"{asset.id}.bin"


async def test_low_storage_purges_then_defers_and_fetches_once_space_allows(tmp_path):
    assets = [Asset("cache-a", 512 * KiB, priority=90), Asset("cache-b", 512 * KiB, priority=80),
              Asset("movie", MiB, priority=50), Asset("series", MiB, priority=10)]
    scene = Scenario(tmp_path, assets, rules=CACHES, essential_max_install_size="1MiB")
    scene.write_content()
    device, recorder = nearly_full(3 * MiB // 2), Recorder()
    state = tmp_path / "state"
    async with DevServer(scene.content) as server:
        manifest = scene.write_manifests(server.url)
        async with Orchestrator(state, device=device, max_active=1) as orchestrator:
            orchestrator.events.subscribe(recorder)
            deferred = seen(orchestrator, "download.deferred", "series")
            movie = seen(orchestrator, "download.finished", "movie")
            await orchestrator.install(manifest)
            waiting = await asyncio.wait_for(deferred, 10)
            await asyncio.wait_for(movie, 10)

            # Both caches fit; the movie fits once one of them is purged; the series does
            # not fit even then, so nothing more is purged for it and it waits.
            purged = recorder.named("asset.purged")
            assert [(e["bytes"], e["download"].startswith("cache-")) for e in purged] == [
                (512 * KiB, True)]
            names = [(e["event"], e.get("download")) for e in recorder]
            assert names.index(("asset.purged", purged[0]["download"])) \
                < names.index(("download.started", "movie"))
            assert (waiting["code"], waiting["name"]) == (1031, "notEnoughStorage")
            assert waiting["needed"] == MiB and waiting["available"] < MiB
            assert ("download.started", "series") not in names
            view = download_view(orchestrator, APP_ID, "series")
            assert view.state == DownloadState.WAITING and "waiting for space" in view.reason
            assert not orchestrator.settled(APP_ID, "all")
            # The simulated disk's used space grew with what was delivered.
            kept = 512 * KiB + MiB
            assert orchestrator.delivered_bytes(APP_ID) == kept
            space = orchestrator.space()
            assert space.free == device.storage.capacity - device.storage.used - kept
            assert not asset_path(state, Asset(purged[0]["download"], 0)).exists()

            # Space is freed on the device; the series starts, and the next periodic run
            # fetches the purged cache file again.
            storage = device.storage
            orchestrator.set_device(replace(device, storage=replace(
                storage, used=storage.used - 4 * MiB)))
            await orchestrator.periodic(APP_ID)
            await orchestrator.wait(APP_ID, "all", timeout=10)
    finished = [e["download"] for e in recorder.named("download.finished")]
    assert sorted(finished) == sorted([*(a.id for a in assets), purged[0]["download"]])
    for asset in assets:
        assert hashlib.sha256(asset_path(state, asset).read_bytes()).digest() == \
            hashlib.sha256(asset.data()).digest()


async def test_an_install_whose_essential_max_install_size_does_not_fit_is_refused(tmp_path):
    scene = Scenario(tmp_path, [Asset("tutorial", 64 * KiB, essential=True)],
                     essential_max_install_size="64MiB")
    scene.write_content()
    recorder = Recorder()
    async with DevServer(scene.content) as server:
        manifest = scene.write_manifests(server.url)
        async with Orchestrator(tmp_path / "state", device=nearly_full(8 * MiB)) as orchestrator:
            orchestrator.events.subscribe(recorder)
            with pytest.raises(BackgroundAssetsError) as refused:
                await orchestrator.install(manifest)
            assert refused.value.code == ErrorCode.INSTALL_DOES_NOT_FIT
            message = refused.value.message
            assert "essentialMaxInstallSize is 64.0 MiB" in message
            assert "only 8.0 MiB available above the reserve of 4.0 GiB" in message
            assert APP_ID not in orchestrator.apps and orchestrator.journal.app(APP_ID) is None
    assert [e["event"] for e in recorder] == ["event.refused"]
    assert recorder[0]["code"] == 1032 and recorder[0]["request"] == "install"
    assert not (tmp_path / "state" / "containers" / GROUP).exists()


async def test_an_essential_download_that_does_not_fit_fails_at_once(tmp_path):
    scene = Scenario(tmp_path, [Asset("tutorial", 2 * MiB, essential=True),
                                Asset("level", 64 * KiB)], essential_max_install_size="1MiB")
    scene.write_content()
    recorder = Recorder()
    async with DevServer(scene.content) as server:
        manifest = scene.write_manifests(server.url)
        async with Orchestrator(tmp_path / "state", device=nearly_full(MiB)) as orchestrator:
            orchestrator.events.subscribe(recorder)
            await orchestrator.install(manifest)
            await orchestrator.wait(APP_ID, "all", timeout=10)
            rejected = recorder.named("plan.rejected")
            assert [(e["download"], e["code"]) for e in rejected] == [("tutorial", 1031)]
            assert "essential downloads do not wait" in rejected[0]["reason"]
            assert [e["download"] for e in recorder.named("download.finished")] == ["level"]
            assert orchestrator.settled(APP_ID, "essential")


async def test_without_a_storage_capacity_the_state_dirs_disk_is_measured(tmp_path):
    assets = [Asset("a", 512 * KiB, priority=90), Asset("b", 512 * KiB, priority=10)]
    scene = Scenario(tmp_path, assets, essential_max_install_size="64KiB")
    scene.write_content()
    recorder = Recorder()
    with small_tmpfs(tmp_path / "state", size="2m") as state:
        device = Device(storage=Storage(reserve=MiB))  # a reserve on the real disk
        async with DevServer(scene.content) as server:
            manifest = scene.write_manifests(server.url)
            async with Orchestrator(state, device=device, max_active=1) as orchestrator:
                orchestrator.events.subscribe(recorder)
                usage = shutil.disk_usage(state)
                space = orchestrator.space()
                assert (space.capacity, space.free, space.reserve) == (
                    usage.total, usage.free, MiB)
                deferred = seen(orchestrator, "download.deferred", "b")
                await orchestrator.install(manifest)
                waiting = await asyncio.wait_for(deferred, 10)
                await orchestrator.wait(APP_ID, "essential", timeout=10)
                assert waiting["needed"] == 512 * KiB and waiting["available"] < 512 * KiB
                assert [e["download"] for e in recorder.named("download.finished")] == ["a"]
                # The real disk holds what the engine wrote: the file and the journal.
                assert shutil.disk_usage(state).free == orchestrator.space().free
                assert shutil.disk_usage(state).free - MiB < 512 * KiB


async def test_a_foreground_start_without_room_is_refused_and_the_download_keeps_waiting(
        tmp_path):
    scene = Scenario(tmp_path, [Asset("small", 256 * KiB, priority=90),
                                Asset("large", MiB, priority=10)],
                     essential_max_install_size="64KiB")
    scene.write_content()
    recorder = Recorder()
    async with DevServer(scene.content) as server:
        manifest = scene.write_manifests(server.url)
        async with Orchestrator(tmp_path / "state", device=nearly_full(512 * KiB),
                                max_active=1) as orchestrator:
            orchestrator.events.subscribe(recorder)
            deferred = seen(orchestrator, "download.deferred", "large")
            await orchestrator.install(manifest)
            await asyncio.wait_for(deferred, 10)
            orchestrator.launch(APP_ID)
            with pytest.raises(BackgroundAssetsError) as refused:
                orchestrator.promote("large")
            assert refused.value.code == ErrorCode.NOT_ENOUGH_STORAGE
            assert "cannot start in the foreground: needs 1.0 MiB" in refused.value.message
            assert "waits in the background" in refused.value.message
            view = download_view(orchestrator, APP_ID, "large")
            assert (view.state, view.foreground) == (DownloadState.WAITING, False)
            assert not recorder.named("download.failed")
