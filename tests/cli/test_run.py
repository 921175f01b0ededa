"""`bgassets run --headless`: the main job on a small examples folder, offline."""

import json
import shutil
import socket
import subprocess
import sys

import pytest

from tests.service.scenario import Asset, KiB, Scenario
from tests.support.ports import free_port


def test_headless_run_installs_launches_and_fetches_everything(tmp_path):
    port = free_port()
    scene = Scenario(tmp_path / "work", [Asset("tutorial", 96 * KiB, essential=True),
                                         Asset("extra", 64 * KiB)])
    scene.write_content()
    scene.write_manifests(f"http://127.0.0.1:{port}/")
    examples = tmp_path / "examples" / "game"
    shutil.copytree(scene.content / "game", examples)
    for name in ("app.yaml", "extension.yaml"):
        examples.joinpath(name).write_text((scene.root / "manifests" / name).read_text())

    command = [sys.executable, "-m", "orchestrator", "--state-dir", str(tmp_path / "state"),
               "run", str(tmp_path / "examples"), "--headless", "--port", str(port),
               "--rate-per-connection", "0"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "app.launchable" in result.stdout and "app.launched" in result.stdout
    assert "run: done in" in result.stdout and "0 failed download(s)" in result.stdout
    assert "2/2 downloads" in result.stdout

    again = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    summary = [line for line in again.stdout.splitlines() if "com.example.game " in line
               and " install " in line]
    assert summary, again.stdout
    assert all("launched" in line and "install 100%" in line for line in summary), summary


def test_run_refuses_a_folder_without_apps(tmp_path):
    result = subprocess.run([sys.executable, "-m", "orchestrator", "run", str(tmp_path),
                             "--headless"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "no <app>/app.yaml" in result.stderr


def run_headless(directory, state, port, *extra):
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", "run", str(directory), "--headless", "--port",
         str(port), "--rate-per-connection", "0", "--state-dir", str(state), *extra],
        capture_output=True, text=True, timeout=60)


def own_app(directory, name, port, assets):
    """DIR/<name>/: manifests, catalog and asset files, the catalog on the built-in server."""
    from tests.control.daemon_apps import write_app, write_content

    write_content(directory / name, assets)
    write_app(directory / name, name, f"http://127.0.0.1:{port}/{name}/catalog.json")


def test_run_serves_the_users_own_catalog_and_files_from_dir(tmp_path):
    from tests.control.daemon_apps import Asset

    port, directory = free_port(), tmp_path / "content"
    assets = [Asset("intro", 40 * KiB, essential=True), Asset("cache-art", 24 * KiB)]
    own_app(directory, "game", port, assets)

    result = run_headless(directory, tmp_path / "state", port)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed download(s)" in result.stdout and "2/2 downloads" in result.stdout
    container = tmp_path / "state" / "containers" / "group.com.example.game"
    assert (container / "assets" / "intro.bin").read_bytes() == assets[0].data()
    assert (container / "Library" / "Caches" / "cache-art.bin").read_bytes() == assets[1].data()
    assert not (tmp_path / "state" / "demo-content").exists()  # DIR itself was served


def test_run_on_apps_of_another_server_starts_no_server_of_its_own(tmp_path):
    from orchestrator.devserver.thread import serve_in_thread
    from tests.control.daemon_apps import Asset, write_app, write_content

    write_content(tmp_path / "content" / "game", [Asset("intro", 32 * KiB, essential=True)])
    directory = tmp_path / "apps"
    with serve_in_thread(tmp_path / "content") as server, socket.socket() as taken:
        write_app(directory / "game", "game", f"{server.url}game/catalog.json")
        taken.bind(("127.0.0.1", 0))  # run's --port is busy: it must not need it
        result = run_headless(directory, tmp_path / "state", taken.getsockname()[1])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1/1 downloads" in result.stdout and "0 failed download(s)" in result.stdout


@pytest.mark.parametrize("problem", ["no file", "a sha256 of no example", "no catalog"])
def test_a_missing_file_of_the_users_own_app_says_where_it_belongs(tmp_path, problem):
    from tests.control.daemon_apps import Asset

    port, directory = free_port(), tmp_path / "content"
    own_app(directory, "game", port, [Asset("intro", 8 * KiB), Asset("outro", 8 * KiB)])
    expected = f"{directory / 'game' / 'outro.bin'}; put it there"
    if problem == "no file":
        catalog = json.loads((directory / "game" / "catalog.json").read_text())
        del catalog["assets"][1]["sha256"]
        (directory / "game" / "catalog.json").write_text(json.dumps(catalog))
    elif problem == "no catalog":
        (directory / "game" / "catalog.json").unlink()
        expected = f"{directory / 'game' / 'catalog.json'}: no such file; put the catalog there"
    (directory / "game" / "outro.bin").unlink()

    result = run_headless(directory, tmp_path / "state", port)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert expected in result.stderr
    assert f"run `bgassets run {directory} --no-server`" in result.stderr
    assert "orchestrator.demo" not in result.stderr and "--refresh" not in result.stderr


def test_a_busy_port_for_the_built_in_server_is_port_unavailable(tmp_path):
    from tests.control.daemon_apps import Asset

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port, directory = taken.getsockname()[1], tmp_path / "content"
        own_app(directory, "game", port, [Asset("intro", 8 * KiB)])
        result = run_headless(directory, tmp_path / "state", port)
    assert result.returncode == 1
    assert result.stderr.startswith("bgassets run: error 1027 portUnavailable: port ")
    assert "--no-server" in result.stderr


def test_headless_run_on_an_offline_device_stops_instead_of_waiting_for_ever(tmp_path):
    from tests.control.daemon_apps import Asset, write_app, write_content

    port, directory = free_port(), tmp_path / "apps"
    write_content(directory / "game", [Asset("intro", 16 * KiB, essential=True)])
    write_app(directory / "game", "game", f"http://127.0.0.1:{port}/game/catalog.json")
    device = tmp_path / "offline.yaml"
    device.write_text("apiVersion: bgassets/v1\nkind: Device\nmetadata: {name: offline}\n"
                      "spec:\n  network: {online: false, metered: false}\n")

    result = run_headless(directory, tmp_path / "state", port, "--device", str(device))
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [
        f"bgassets run: error 1021 networkError: the device is offline (network.online: "
        f"false in {device}): nothing can be fetched"]
    assert "request.waiting" in result.stdout and "app.launchable" not in result.stdout


def test_a_headless_run_on_a_nearly_full_disk_ends_with_what_waits_for_space(tmp_path):
    from tests.control.daemon_apps import Asset

    port, directory = free_port(), tmp_path / "content"
    # 200 KiB above the reserve: the intro fits, the movie waits for space, and nothing
    # in a headless run makes room.
    own_app(directory, "game", port, [Asset("intro", 40 * KiB, essential=True),
                                      Asset("movie", 300 * KiB)])
    manifest = directory / "game" / "app.yaml"
    manifest.write_text(manifest.read_text().replace("essentialMaxInstallSize: 64MiB",
                                                     "essentialMaxInstallSize: 64KiB"))
    device = tmp_path / "nearly-full.yaml"
    device.write_text("apiVersion: bgassets/v1\nkind: Device\nmetadata: {name: nearly-full}\n"
                      "spec:\n  storage: {capacity: 1GiB, reserve: 0, used: 1048376KiB}\n")
    result = run_headless(directory, tmp_path / "state", port, "--device", str(device))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "download.deferred" in result.stdout and "waiting for space" in result.stdout
    assert "1/2 downloads" in result.stdout and "1 waiting for space" in result.stdout
    assert result.stdout.splitlines()[-1].endswith("0 failed download(s); 1 waiting for space")
