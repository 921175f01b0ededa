"""Install to launch against a real DevServer: essential first, launch gate, priorities."""

import hashlib

import pytest

from orchestrator.devserver import DevServer
from orchestrator.engine import Engine, RetryPolicy
from orchestrator.errors import BackgroundAssetsError, ErrorCode
from orchestrator.service import Orchestrator
from tests.service.scenario import APP_ID, GROUP, Asset, KiB, MiB, Recorder, Scenario


async def run_install(tmp_path, assets, *, faults=(), wait="all", **scenario):
    scene = Scenario(tmp_path, assets, **scenario)
    scene.write_content()
    recorder = Recorder()
    async with DevServer(scene.content, faults=faults) as server:
        manifest = scene.write_manifests(server.url)
        async with Engine(retry=RetryPolicy(attempts=3, base_delay=0.01)) as engine:
            engine_options = {"engine": engine}
            async with Orchestrator(tmp_path / "state", max_active=1,
                                    **engine_options) as orchestrator:
                orchestrator.events.subscribe(recorder)
                await orchestrator.install(manifest)
                await orchestrator.wait(APP_ID, wait, timeout=30)
                return orchestrator, recorder, scene


def container(tmp_path):
    return tmp_path / "state" / "containers" / GROUP


async def test_install_essential_first_then_launchable_then_priority(tmp_path):
    assets = [Asset("low", 64 * KiB, priority=10), Asset("tutorial", 2 * MiB, essential=True),
              Asset("high", 64 * KiB, priority=90)]
    _, recorder, _ = await run_install(tmp_path, assets)
    started = [e["download"] for e in recorder.named("download.started")]
    assert started == ["tutorial", "high", "low"]
    names = [e["event"] for e in recorder.events]
    launchable = names.index("app.launchable")
    finished = [i for i, e in enumerate(recorder.events) if e["event"] == "download.finished"]
    assert recorder.events[finished[0]]["download"] == "tutorial" and finished[0] < launchable
    for asset in assets:
        data = (container(tmp_path) / "assets" / f"{asset.id}.bin").read_bytes()
        assert hashlib.sha256(data).digest() == hashlib.sha256(asset.data()).digest()
    progress = recorder.named("app.progress")
    assert progress[-1]["fraction"] == 1.0
    assert [p["fraction"] for p in progress] == sorted(p["fraction"] for p in progress)


async def test_essential_over_allowance_is_rejected(tmp_path):
    assets = [Asset("big", 2 * MiB, essential=True), Asset("ok", 64 * KiB, essential=True)]
    _, recorder, _ = await run_install(tmp_path, assets, essential_allowance=1 * MiB)
    rejected = recorder.named("plan.rejected")
    assert [(r["download"], r["code"]) for r in rejected] == [("big", 112)]
    assert [e["download"] for e in recorder.named("download.finished")] == ["ok"]


async def test_wrong_essential_size_fails_then_completes_as_non_essential(tmp_path):
    assets = [Asset("liar", 256 * KiB, essential=True, catalog_size=200 * KiB, sha256=False)]
    _, recorder, _ = await run_install(tmp_path, assets)
    failed = recorder.named("download.failed")
    assert failed[0]["download"] == "liar" and failed[0]["code"] == ErrorCode.SIZE_MISMATCH
    assert recorder.named("download.reenqueued")[0]["essential"] is False
    finished = recorder.named("download.finished")
    assert finished[-1]["download"] == "liar" and finished[-1]["essential"] is False
    assert (container(tmp_path) / "assets" / "liar.bin").stat().st_size == 256 * KiB


async def test_launch_is_refused_until_essential_downloads_end(tmp_path):
    scene = Scenario(tmp_path, [Asset("tutorial", 4 * MiB, essential=True)])
    scene.write_content()
    async with DevServer(scene.content, rate_per_connection=4 * MiB) as server:
        manifest = scene.write_manifests(server.url)
        async with Orchestrator(tmp_path / "state") as orchestrator:
            await orchestrator.install(manifest)
            with pytest.raises(BackgroundAssetsError) as refused:
                orchestrator.launch(APP_ID)
            assert refused.value.code == ErrorCode.APP_NOT_LAUNCHABLE
            assert "tutorial" in refused.value.message
            await orchestrator.wait(APP_ID, "essential", timeout=30)
            orchestrator.launch(APP_ID)
            assert orchestrator.journal.app(APP_ID).launched
