"""`bgassets plan`: a dry run on the bundled examples, as text and JSON."""

import json
import subprocess
import sys
from pathlib import Path

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"


def bgassets(*args):
    return subprocess.run([sys.executable, "-m", "orchestrator", *args],
                          capture_output=True, text=True, timeout=60)


def test_install_plan_shows_order_allowances_and_rejections():
    result = bgassets("plan", str(MANIFESTS / "level-packs" / "app.yaml"), "--event", "install",
                      "--catalog", str(MANIFESTS / "level-packs" / "catalog.json"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[2].split()[:3] == ["1", "tutorial", "essential"]
    assert "essentialDownloadAllowance" in result.stdout
    assert "rejected hd-textures: error 203 sessionDownloadDisallowedByAllowance" in result.stdout


def test_json_plan_after_launch_is_unrestricted():
    result = bgassets("plan", str(MANIFESTS / "level-packs" / "app.yaml"), "--event", "periodic",
                      "--catalog", str(MANIFESTS / "level-packs" / "catalog.json"), "--launched",
                      "--json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["request"] == "periodic" and plan["rejections"] == []
    assert plan["allowances"]["restricted"] is False
    assert not any(d["essential"] for d in plan["downloads"])
    priorities = [d["priority"] for d in plan["downloads"]]
    assert priorities == sorted(priorities, reverse=True)


def test_device_that_forbids_background_work_stops_the_extension():
    result = bgassets("plan", str(MANIFESTS / "wwdc-sessions" / "app.yaml"), "--event", "periodic",
                      "--catalog", str(MANIFESTS / "wwdc-sessions" / "catalog.json"),
                      "--device", str(MANIFESTS / "devices" / "low-power.yaml"))
    assert result.returncode == 0
    assert "the extension does not run: error 111" in result.stdout


def test_bad_inputs_exit_cleanly(tmp_path):
    missing = bgassets("plan", str(tmp_path / "nope.yaml"), "--event", "install")
    assert missing.returncode == 2 and "no such App manifest" in missing.stderr
    broken = tmp_path / "app.yaml"
    broken.write_text("apiVersion: bgassets/v1\nkind: App\nmetadata: {id: x}\n")
    invalid = bgassets("plan", str(broken), "--event", "install", "--catalog", "x.json")
    assert invalid.returncode == 1 and f"{broken}:" in invalid.stderr
    bad_catalog = tmp_path / "catalog.json"
    bad_catalog.write_text('{"version": "1", "assets": [{"id": 1}]}')
    result = bgassets("plan", str(MANIFESTS / "level-packs" / "app.yaml"), "--event", "install",
                      "--catalog", str(bad_catalog))
    assert result.returncode == 1 and "catalog.json:1:" in result.stderr
    for output in (missing, invalid, result):
        assert "Traceback" not in output.stderr


def test_plan_and_simulate_refuse_a_catalog_redirected_off_the_allow_list(tmp_path):
    """Before the first launch every hop of the catalog fetch stays within
    domainAllowList (127.0.0.1 here): plan fetches manifestURL as the orchestrator does."""
    from orchestrator.devserver.thread import serve_in_thread
    from tests.service.scenario import Asset, KiB, Scenario

    scene = Scenario(tmp_path, [Asset("tutorial", 4 * KiB, essential=True)])
    scene.write_content()
    with serve_in_thread(scene.content, faults=["redirect-offsite:1"]) as server:
        manifest = scene.write_manifests(server.url)
        plan = bgassets("plan", str(manifest), "--event", "install")
        simulate = bgassets("--state-dir", str(tmp_path / "state"), "simulate", "install",
                            str(manifest), "--json")
        launched = bgassets("plan", str(manifest), "--event", "periodic", "--launched")
    assert plan.returncode == 1 and "error 202" in plan.stderr, plan.stdout + plan.stderr
    assert "host localhost is not in the allowed domains" in plan.stderr
    failed = [json.loads(line) for line in simulate.stdout.splitlines()
              if json.loads(line)["event"] == "download.failed"]
    assert simulate.returncode == 1 and [e["code"] for e in failed] == [202]
    assert "Traceback" not in plan.stderr + simulate.stderr
    # Once launched there is no allow list: the redirect is followed (or fails to connect).
    assert "error 202" not in launched.stderr
