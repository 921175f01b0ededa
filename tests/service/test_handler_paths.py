"""Relative paths reach a handler as absolute ones: it runs in its extension's folder.

An Extension's ``handler: module:Class`` is imported from the manifest's folder, and
the catalog, container and file paths it is given come from the state dir; given as
relative paths (``simulate install apps/app.yaml --state-dir state``) they must mean
what they mean in the orchestrator's working directory, not in the handler's.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from orchestrator.devserver.thread import serve_in_thread
from orchestrator.model.download import Download
from orchestrator.service.handler import call_handler, finished_call
from tests.service.scenario import APP_ID, GROUP, Asset, KiB, Scenario

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = '''
from orchestrator.sdk import DownloaderExtension, read_catalog


class Downloader(DownloaderExtension):
    def downloads(self, request, manifest_path, info):
        catalog = read_catalog(manifest_path, self.catalog_url)
        return [self.download(a.id, a.url, size=a.size, sha256=a.sha256,
                              essential=a.essential, destination=f"packs/{a.id}")
                for a in catalog.assets]

    def finished(self, download, path):
        self.move_into_container(path, f"handled/{download.id}")
'''


def with_handler(manifest: Path) -> None:
    extension = manifest.parent / "extension.yaml"
    extension.write_text(extension.read_text().replace(
        "  rules:", "  handler: handlers:Downloader\n  rules:"))
    (manifest.parent / "handlers.py").write_text(textwrap.dedent(HANDLERS))


def test_a_handler_next_to_a_relative_manifest_with_a_relative_state_dir(tmp_path):
    assets = [Asset("tutorial", 64 * KiB, essential=True), Asset("extra", 16 * KiB)]
    scene = Scenario(tmp_path, assets)
    scene.write_content()
    with serve_in_thread(scene.content) as server:
        manifest = scene.write_manifests(server.url)
        with_handler(manifest)
        result = subprocess.run(
            [sys.executable, "-m", "orchestrator", "--state-dir", "state", "simulate",
             "install", str(manifest.relative_to(tmp_path)), "--json"],
            cwd=tmp_path, capture_output=True, text=True, timeout=60,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert not [e for e in events if e["event"] == "extension.terminated"], result.stdout
    finished = sorted(e["download"] for e in events if e["event"] == "download.finished")
    assert finished == ["extra", "tutorial"]
    container = tmp_path / "state" / "containers" / GROUP
    for asset in assets:
        assert (container / "handled" / asset.id).read_bytes() == asset.data()
    assert all(e["app"] in (APP_ID, None) for e in events)


async def test_call_handler_makes_relative_folders_absolute(tmp_path, monkeypatch):
    (tmp_path / "ext").mkdir()
    (tmp_path / "ext" / "handlers.py").write_text(textwrap.dedent(HANDLERS))
    (tmp_path / "staged.bin").write_bytes(b"payload")
    (tmp_path / "state" / "container").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    download = Download(id="pack", url="http://127.0.0.1/pack", app_group=GROUP)
    call = finished_call(download, Path("staged.bin"), Path("state/container"))
    outcome = await call_handler("handlers:Downloader", Path("ext"), call,
                                 runtime_budget=30, state_dir=Path("state"))
    assert outcome.ok, outcome.terminated
    assert (tmp_path / "state" / "container" / "handled" / "pack").read_bytes() == b"payload"
    assert not (tmp_path / "staged.bin").exists()
