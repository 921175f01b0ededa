"""A handler extension through the whole lifecycle: real DevServer, real child processes."""

import textwrap

from orchestrator.devserver import DevServer
from orchestrator.engine import Engine, RetryPolicy
from orchestrator.model.device import Device
from orchestrator.service import Orchestrator
from tests.service.scenario import APP_ID, GROUP, Asset, KiB, Recorder, Scenario

HANDLERS = '''
import time
from orchestrator.sdk import BackgroundAssetsError, DownloaderExtension, read_catalog


class Downloader(DownloaderExtension):
    def downloads(self, request, manifest_path, info):
        catalog = read_catalog(manifest_path, self.catalog_url)
        return [self.download(a.id, a.url, size=a.size, sha256=a.sha256,
                              essential=a.essential and request.name == "INSTALL",
                              priority=a.priority, destination=f"packs/{a.id}")
                for a in catalog.assets]

    def finished(self, download, path):
        self.move_into_container(path, f"handled/{download.id}")


class Slow(DownloaderExtension):
    def downloads(self, request, manifest_path, info):
        time.sleep(60)


class Hog(DownloaderExtension):
    def downloads(self, request, manifest_path, info):
        self.kept = bytearray(256 * 2**20)
        return []


class Dropper(Downloader):
    def finished(self, download, path):
        raise OSError("no room for it")


class Eager(Downloader):
    def downloads(self, request, manifest_path, info):
        planned = list(super().downloads(request, manifest_path, info))
        try:
            self.start_foreground(planned[0])
        except BackgroundAssetsError as error:
            (self.container / "refused.txt").write_text(str(int(error.code)))
        return planned


class Notes(Downloader):
    def failed(self, download, error):
        (self.container / "failed.txt").write_text(f"{download.id} {int(error.code)}")
        return []
'''


async def install_with(tmp_path, handler, assets, *, device=None, memory="32MiB", wait="all",
                       catalog=True):
    scene = Scenario(tmp_path, assets)
    scene.write_content()
    recorder = Recorder()
    async with DevServer(scene.content) as server:
        manifest = scene.write_manifests(server.url)
        if not catalog:
            (scene.content / "game" / "catalog.json").unlink()
        extension = manifest.parent / "extension.yaml"
        text = extension.read_text().replace(
            "  rules:", f"  handler: handlers:{handler}\n  limits: {{memory: {memory}}}\n  rules:")
        extension.write_text(text)
        (manifest.parent / "handlers.py").write_text(textwrap.dedent(HANDLERS))
        async with Engine(retry=RetryPolicy(attempts=2, base_delay=0.01)) as engine, \
                Orchestrator(tmp_path / "state", engine=engine, device=device) as orchestrator:
            orchestrator.events.subscribe(recorder)
            await orchestrator.install(manifest)
            if wait:
                await orchestrator.wait(APP_ID, wait, timeout=30)
            spent, _ = orchestrator.runtime_today(APP_ID)
            return recorder, spent


async def test_handler_plans_and_receives_every_file(tmp_path):
    assets = [Asset("tutorial", 256 * KiB, essential=True), Asset("extra", 64 * KiB)]
    recorder, spent = await install_with(tmp_path, "Downloader", assets)
    assert not recorder.named("extension.terminated")
    assert sorted(e["download"] for e in recorder.named("download.finished")) == [
        "extra", "tutorial"]
    container = tmp_path / "state" / "containers" / GROUP
    for asset in assets:
        assert (container / "handled" / asset.id).read_bytes() == asset.data()
    assert 0 < spent < 5


async def test_slow_handler_is_terminated_at_the_app_budget(tmp_path):
    recorder, spent = await install_with(tmp_path, "Slow", [Asset("a", KiB)],
                                         device=Device(daily_allotment_seconds=1), wait=None)
    [terminated] = recorder.named("extension.terminated")
    assert terminated["reason"] == "runtime budget"
    assert not recorder.named("download.scheduled")
    assert spent >= 0.5


async def test_handler_over_its_memory_limit_is_terminated(tmp_path):
    recorder, _ = await install_with(tmp_path, "Hog", [Asset("a", KiB)], memory="16MiB",
                                     wait=None)
    [terminated] = recorder.named("extension.terminated")
    assert terminated["reason"] == "memory limit"


async def test_handler_failed_reenqueues_the_essential_download_as_non_essential(tmp_path):
    assets = [Asset("liar", 256 * KiB, essential=True, catalog_size=200 * KiB, sha256=False)]
    recorder, _ = await install_with(tmp_path, "Downloader", assets)
    assert recorder.named("download.failed")[0]["code"] == 1010
    assert recorder.named("download.reenqueued")[0]["essential"] is False
    assert recorder.named("download.finished")[-1]["essential"] is False
    container = tmp_path / "state" / "containers" / GROUP
    assert (container / "handled" / "liar").stat().st_size == 256 * KiB


async def test_a_failed_catalog_reaches_the_handler_as_a_failed_manifest_download(tmp_path):
    recorder, _ = await install_with(tmp_path, "Notes", [Asset("a", KiB)], catalog=False)
    [failed] = recorder.named("download.failed")
    assert (failed["download"], failed["code"]) == ("@catalog", 1020)
    container = tmp_path / "state" / "containers" / GROUP
    assert (container / "failed.txt").read_text() == "@catalog 1020"
    assert recorder.named("app.launchable")


async def test_a_finished_call_that_fails_is_a_failed_download_not_a_delivered_one(tmp_path):
    recorder, _ = await install_with(tmp_path, "Dropper", [Asset("extra", 64 * KiB)])
    assert not recorder.named("download.finished")
    [failed] = recorder.named("download.failed")
    assert (failed["download"], failed["code"]) == ("extra", 1060)
    assert "finished() ended" in failed["message"]
    assert recorder.named("extension.terminated")
    leftovers = [p for p in (tmp_path / "state").rglob("*") if p.is_file()
                 and p.name.startswith("extra")]
    assert leftovers == []


async def test_an_extension_cannot_start_a_download_in_the_foreground(tmp_path):
    recorder, _ = await install_with(tmp_path, "Eager", [Asset("extra", 64 * KiB)])
    refused = tmp_path / "state" / "containers" / GROUP / "refused.txt"
    assert refused.read_text() == "50"  # callFromExtensionNotAllowed, as in the framework
    assert [e["download"] for e in recorder.named("download.finished")] == ["extra"]
