"""`bgassets run --headless`: the main job on a small examples folder, offline."""

import json
import socket
import subprocess
import sys

from orchestrator.demo.content import refresh_catalog
from tests.service.scenario import Asset, KiB, Scenario


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_headless_run_installs_launches_and_fetches_everything(tmp_path):
    port = free_port()
    scene = Scenario(tmp_path / "work", [Asset("tutorial", 96 * KiB, essential=True),
                                         Asset("extra", 64 * KiB)])
    scene.content.joinpath("game").mkdir(parents=True)
    scene.write_manifests(f"http://127.0.0.1:{port}/")
    examples = tmp_path / "examples" / "game"
    examples.mkdir(parents=True)
    for name in ("app.yaml", "extension.yaml"):
        examples.joinpath(name).write_text((scene.root / "manifests" / name).read_text())
    catalog = json.loads((scene.content / "game" / "catalog.json").read_text())
    examples.joinpath("catalog.json").write_text(json.dumps(catalog))
    refresh_catalog(examples / "catalog.json")

    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "--state-dir", str(tmp_path / "state"), "run",
         str(tmp_path / "examples"), "--headless", "--port", str(port),
         "--rate-per-connection", "0"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "app.launchable" in result.stdout and "app.launched" in result.stdout
    assert "run: done in" in result.stdout and "0 failed download(s)" in result.stdout
    assert "2/2 downloads" in result.stdout


def test_run_refuses_a_folder_without_apps(tmp_path):
    result = subprocess.run([sys.executable, "-m", "orchestrator", "run", str(tmp_path),
                             "--headless"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "no <app>/app.yaml" in result.stderr
