"""`bgassets simulate`: an app's life in steps, sharing one state dir."""

import json
import subprocess
import sys

from orchestrator.devserver.thread import serve_in_thread
from tests.service.scenario import APP_ID, Asset, KiB, Scenario


def simulate(state, event, manifest, *extra):
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", "--state-dir", str(state), "simulate", event,
         str(manifest), *extra], capture_output=True, text=True, timeout=60)


def events(result):
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_install_launch_periodic_uninstall(tmp_path):
    scene = Scenario(tmp_path, [Asset("tutorial", 256 * KiB, essential=True),
                                Asset("level", 128 * KiB)])
    scene.write_content()
    state = tmp_path / "state"
    with serve_in_thread(scene.content) as server:
        manifest = scene.write_manifests(server.url)
        early = simulate(state, "launch", manifest)
        assert early.returncode == 1 and "not installed" in early.stderr

        install = simulate(state, "install", manifest, "--json")
        assert install.returncode == 0, install.stderr
        names = [e["event"] for e in events(install)]
        assert names.index("app.launchable") < names.index("download.started", names.index(
            "app.launchable"))
        assert all(e["app"] in (APP_ID, None) and "ts" in e for e in events(install))

        launch = simulate(state, "launch", manifest)
        assert launch.returncode == 0 and "app.launched" in launch.stdout

        periodic = simulate(state, "periodic", manifest, "--json")
        assert periodic.returncode == 0, periodic.stderr
        assert not any(e["event"] == "download.scheduled" for e in events(periodic))

        timeline = simulate(state, "uninstall", manifest)
        assert timeline.returncode == 0 and "app.uninstalled" in timeline.stdout
    assert not (state / "containers" / "group.com.example.game").exists()


def test_unreachable_catalog_fails_with_its_code(tmp_path):
    scene = Scenario(tmp_path, [Asset("a", KiB)])
    scene.write_content()
    manifest = scene.write_manifests("http://127.0.0.1:9/")
    result = simulate(tmp_path / "state", "install", manifest, "--json")
    assert result.returncode == 1
    failed = [e for e in events(result) if e["event"] == "download.failed"]
    assert failed and failed[0]["download"] == "@catalog" and failed[0]["code"] == 1021
    assert "Traceback" not in result.stderr


def test_installing_again_retries_an_install_whose_catalog_failed(tmp_path):
    scene = Scenario(tmp_path, [Asset("tutorial", 64 * KiB, essential=True)])
    scene.write_content()
    state = tmp_path / "state"
    with serve_in_thread(scene.content) as server:
        manifest = scene.write_manifests(server.url)
        catalog = scene.content / "game" / "catalog.json"
        saved = catalog.read_bytes()
        catalog.unlink()
        failed = simulate(state, "install", manifest, "--json")
        assert failed.returncode == 1
        assert [e["code"] for e in events(failed) if e["event"] == "download.failed"] == [1020]
        catalog.write_bytes(saved)
        again = simulate(state, "install", manifest, "--json")
        assert again.returncode == 0, again.stderr
        finished = [e for e in events(again) if e["event"] == "download.finished"]
        assert [(e["download"], e["essential"]) for e in finished] == [("tutorial", True)]
        settled = simulate(state, "install", manifest, "--json")
        assert settled.returncode == 0
        assert any(e.get("request") == "none" for e in events(settled))


def test_validate_plan_and_simulate_refuse_an_app_without_extension_alike(tmp_path):
    """One rule for all three: an App names its extension, or none of them accepts it."""
    from tests.manifests.bases import APP, write_set

    write_set(tmp_path, {"app.yaml": APP.replace("  extension: extension.yaml\n", "")})
    app = tmp_path / "app.yaml"
    expected = f"{app}:7:3: spec: missing required field 'extension'"
    commands = {
        "validate": ["validate", str(app)],
        "plan": ["plan", str(app), "--event", "install", "--catalog",
                 str(tmp_path / "catalog.json")],
        "simulate": ["--state-dir", str(tmp_path / "state"), "simulate", "install", str(app)],
    }
    for name, arguments in commands.items():
        result = subprocess.run([sys.executable, "-m", "orchestrator", *arguments],
                                capture_output=True, text=True, timeout=60)
        shown = result.stdout + result.stderr
        assert result.returncode == 1, (name, shown)
        assert any(line.endswith(expected) for line in shown.splitlines()), (name, shown)
        assert "Traceback" not in shown, name


OFFLINE_DEVICE = """\
apiVersion: bgassets/v1
kind: Device
metadata: {name: offline}
spec:
  network: {online: false, metered: false}
"""


def test_an_offline_device_stops_simulate_instead_of_waiting_for_ever(tmp_path):
    scene = Scenario(tmp_path, [Asset("tutorial", 32 * KiB, essential=True)])
    scene.write_content()
    device = tmp_path / "offline.yaml"
    device.write_text(OFFLINE_DEVICE)
    state = tmp_path / "state"
    line = (f"error 1021 networkError: the device is offline (network.online: false in "
            f"{device}): nothing can be fetched")
    with serve_in_thread(scene.content) as server:
        manifest = scene.write_manifests(server.url)
        install = simulate(state, "install", manifest, "--json", "--device", str(device))
        assert install.returncode == 1
        assert install.stderr.strip().splitlines() == [f"bgassets simulate: {line}"]
        assert [e["request"] for e in events(install) if e["event"] == "request.waiting"] == [
            "install"]
        assert server.stats.requests == 0

        online = simulate(state, "install", manifest, "--json")  # the waiting install is made
        assert online.returncode == 0, online.stderr
        assert "app.launchable" in [e["event"] for e in events(online)]

        periodic = simulate(state, "periodic", manifest, "--json", "--device", str(device))
        assert periodic.returncode == 1 and line in periodic.stderr
        assert [e["request"] for e in events(periodic) if e["event"] == "request.waiting"] == [
            "periodic"]
        assert "Traceback" not in periodic.stderr
