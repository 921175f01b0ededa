"""`bgassets plan`: a dry run on the bundled examples, as text and JSON."""

import contextlib
import json
import resource
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


def test_plan_from_another_catalog_url_counts_that_catalog(tmp_path):
    """--catalog URL (not manifestURL) is fetched as a launched app's catalog would be:
    no allow list, no allowance; its assets and its size make the plan."""
    from orchestrator.devserver.thread import serve_in_thread
    from tests.service.scenario import Asset, KiB, Scenario

    scene = Scenario(tmp_path, [Asset("tutorial", 4 * KiB, essential=True),
                                Asset("extra", 8 * KiB)])
    scene.write_content()
    with serve_in_thread(scene.content) as server:
        manifest = scene.write_manifests(server.url)
        other = scene.content / "other.json"
        other.write_bytes((scene.content / "game" / "catalog.json").read_bytes())
        (scene.content / "game" / "catalog.json").unlink()  # manifestURL answers 404
        plan = bgassets("plan", str(manifest), "--event", "install", "--json",
                        "--catalog", f"{server.url}other.json")
        missing = bgassets("plan", str(manifest), "--event", "install")
    assert plan.returncode == 0, plan.stderr
    document = json.loads(plan.stdout)
    assert sorted(d["id"] for d in document["downloads"]) == ["extra", "tutorial"]
    # The catalog counts against downloadAllowance with the non-essential bytes.
    assert document["allowances"]["downloadBytes"] == 8 * KiB + other.stat().st_size
    assert missing.returncode == 1 and "game/catalog.json" in missing.stderr


class _Endless(BaseHTTPRequestHandler):
    """A catalog with no length that never ends, whatever Range was asked for."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        filler = b" " * (64 << 10)
        chunk = f"{len(filler):x}\r\n".encode() + filler + b"\r\n"
        try:
            while True:
                self.wfile.write(chunk)
        except OSError:
            pass

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def endless_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _one_gib_of_address_space():
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def bounded_bgassets(*args):
    return subprocess.run([sys.executable, "-m", "orchestrator", *args], capture_output=True,
                          text=True, timeout=60, preexec_fn=_one_gib_of_address_space)


def test_plan_cuts_an_endless_catalog_off_in_bounded_memory(tmp_path):
    """An endless manifestURL ends the plan with 1014 at the maximum size once launched,
    and with 203 at what downloadAllowance leaves before, in 1 GiB of address space."""
    from tests.service.scenario import Asset, KiB, Scenario

    scene = Scenario(tmp_path, [Asset("tutorial", 4 * KiB)])
    with endless_server() as url:
        manifest = scene.write_manifests(url)
        started = time.monotonic()
        launched = bounded_bgassets("plan", str(manifest), "--event", "periodic", "--launched")
        restricted = bounded_bgassets("plan", str(manifest), "--event", "install")
        elapsed = time.monotonic() - started
    assert launched.returncode == 1, launched.stdout + launched.stderr
    assert "error 1014" in launched.stderr and str(64 << 20) in launched.stderr
    assert restricted.returncode == 1, restricted.stdout + restricted.stderr
    assert "error 203" in restricted.stderr and str(scene.download_allowance) in restricted.stderr
    assert "Traceback" not in launched.stderr + restricted.stderr
    assert elapsed < 30


def test_plan_refuses_a_catalog_file_over_the_maximum(tmp_path):
    catalog = tmp_path / "catalog.json"
    catalog.write_text('{"version": "1", "assets": []' + " " * (300 << 10) + "}")
    result = bgassets("plan", str(MANIFESTS / "level-packs" / "app.yaml"), "--event", "install",
                      "--catalog", str(catalog), "--max-catalog-size", "256KiB")
    assert result.returncode == 1 and "error 1014" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
