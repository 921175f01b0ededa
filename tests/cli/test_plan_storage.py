"""`bgassets plan` against the storage: a storage line, and what cannot fit refused (exit 1)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
WWDC = MANIFESTS / "wwdc-sessions"
LOW_STORAGE = MANIFESTS / "devices" / "low-storage.yaml"
MiB, TiB = 2**20, 2**40


def plan(state, *args):
    return subprocess.run([sys.executable, "-m", "orchestrator", "--state-dir", str(state),
                           "plan", *map(str, args)], capture_output=True, text=True, timeout=60)


def test_the_example_on_low_storage_fits_its_essentials_and_lets_the_rest_wait(tmp_path):
    result = plan(tmp_path, WWDC / "app.yaml", "--event", "install", "--catalog",
                  WWDC / "catalog.json", "--device", LOW_STORAGE)
    assert result.returncode == 0, result.stderr
    # 64 GiB - 4 GiB reserve - 61337 MiB used leaves 103 MiB for 184 MiB of sessions.
    assert (f"  storage on the simulated disk of {LOW_STORAGE}: 184.0 MiB to download, "
            "103.0 MiB available above the reserve of 4.0 GiB; 84.0 MiB of background "
            "downloads would wait for space") in result.stdout.splitlines()
    document = json.loads(plan(tmp_path, WWDC / "app.yaml", "--event", "install", "--catalog",
                               WWDC / "catalog.json", "--device", LOW_STORAGE, "--json").stdout)
    assert document["storage"]["available"] == 103 * MiB
    assert (document["storage"]["waiting"], document["storage"]["fits"]) == (84 * MiB, False)


def test_low_storage_rejects_what_cannot_fit_with_both_numbers_and_exit_1(tmp_path):
    catalog = json.loads((WWDC / "catalog.json").read_text())
    catalog["assets"] += [
        {"id": "keynote-8k", "url": "sessions/keynote-8k.mp4", "size": 70 * MiB,
         "essential": True, "priority": 70},
        {"id": "archive", "url": "sessions/archive.tar", "size": 1819 * TiB, "priority": 1}]
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    result = plan(tmp_path / "state", WWDC / "app.yaml", "--event", "install", "--launched",
                  "--catalog", tmp_path / "catalog.json", "--device", LOW_STORAGE)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert ("  rejected keynote-8k: error 1031 notEnoughStorage: essential: needs 70.0 MiB but "
            "only 103.0 MiB available above the reserve of 4.0 GiB (0 B purgeable), and the "
            "downloads before it take 40.0 MiB; essential downloads do not wait") in lines
    assert ("  rejected archive: error 1031 notEnoughStorage: needs 1819.0 TiB, more than the "
            "disk could ever hold above its reserve (60.0 GiB)") in lines
    assert "keynote-8k" not in result.stdout.split("rejected")[0]
    assert "Traceback" not in result.stderr


def test_an_install_over_essential_max_install_size_is_refused_before_any_fetch(tmp_path):
    app = (WWDC / "app.yaml").read_text().replace(
        "essentialMaxInstallSize: 80MiB", "essentialMaxInstallSize: 200MiB")
    (tmp_path / "app.yaml").write_text(app)
    shutil.copy(WWDC / "extension.yaml", tmp_path / "extension.yaml")
    # No --catalog: manifestURL's server is not running, so a fetch would fail.
    result = plan(tmp_path / "state", tmp_path / "app.yaml", "--event", "install",
                  "--device", LOW_STORAGE)
    assert result.returncode == 1, result.stdout + result.stderr
    assert ("  the extension does not run: error 1032 installDoesNotFit: "
            "com.example.wwdc-sessions does not fit: essentialMaxInstallSize is 200.0 MiB, but "
            "only 103.0 MiB available above the reserve of 4.0 GiB (0 B purgeable); free some "
            "space and install again") in result.stdout.splitlines()
    assert "cannot fetch" not in result.stdout + result.stderr


def test_without_a_device_the_state_dirs_disk_is_measured(tmp_path):
    result = plan(tmp_path / "state", WWDC / "app.yaml", "--event", "install", "--catalog",
                  WWDC / "catalog.json", "--json")
    assert result.returncode == 0, result.stderr
    storage = json.loads(result.stdout)["storage"]
    usage = shutil.disk_usage(tmp_path)  # the state dir does not exist: its parent's disk
    assert (storage["capacity"], storage["reserve"]) == (usage.total, 0)
    assert storage["available"] == storage["free"] > 0 and storage["fits"]
    text = plan(tmp_path / "state", WWDC / "app.yaml", "--event", "install", "--catalog",
                WWDC / "catalog.json").stdout
    assert f"  storage on the disk of {tmp_path / 'state'}: 184.0 MiB to download, " in text
