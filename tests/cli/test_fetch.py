"""`bgassets fetch` as people run it: a real subprocess against a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import pty
import select
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from aiohttp import web

from orchestrator.devserver import serve_in_thread
from tests.support.nginx import nginx_server

ROOT = Path(__file__).resolve().parents[2]


def bgassets_fetch(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orchestrator", "fetch", *args], cwd=ROOT,
                          input=stdin, capture_output=True, text=True, timeout=60)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def assets_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("assets")


@pytest.fixture(scope="module")
def assets(assets_root) -> dict[str, bytes]:
    """Files on the server, by name: small, a few MiB, and one in a sub-folder."""
    files = {"small.bin": os.urandom(300_000), "big.bin": os.urandom(6 << 20),
             "deep/level 1.pak": os.urandom(70_000)}
    for name, data in files.items():
        (assets_root / name).parent.mkdir(parents=True, exist_ok=True)
        (assets_root / name).write_bytes(data)
    return files


@pytest.fixture
def server(assets, assets_root):
    with serve_in_thread(assets_root) as running:
        yield running


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith((".part", ".json")))


def test_one_url_is_fetched_and_verified(server, assets, tmp_path):
    data = assets["big.bin"]
    result = bgassets_fetch(server.url + "big.bin", "-d", str(tmp_path / "out"),
                            "--sha256", sha256(data), "--size", str(len(data)))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "big.bin").read_bytes() == data
    assert leftovers(tmp_path / "out") == []
    assert "1/1 files" in result.stderr and "Traceback" not in result.stderr


def test_a_list_with_sha256_size_and_out(server, assets, tmp_path):
    listing = tmp_path / "assets.txt"
    listing.write_text(
        "# two assets, one renamed\n\n"
        f"{server.url}small.bin sha256={sha256(assets['small.bin'])} "
        f"size={len(assets['small.bin'])}\n"
        f"{server.url}deep/level%201.pak out=levels/one.pak\n")
    result = bgassets_fetch("-i", str(listing), "-d", str(tmp_path / "out"), "--jobs", "2")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "small.bin").read_bytes() == assets["small.bin"]
    assert (tmp_path / "out" / "levels" / "one.pak").read_bytes() == assets["deep/level 1.pak"]


@pytest.mark.parametrize("pinned", ["--sha256", "--size", None])
def test_a_complete_file_is_not_fetched_again(server, assets, tmp_path, pinned):
    data = assets["small.bin"]
    args = (server.url + "small.bin", "-d", str(tmp_path))
    if pinned:
        args += (pinned, sha256(data) if pinned == "--sha256" else str(len(data)))
    assert bgassets_fetch(*args).returncode == 0
    served = server.stats.body_bytes_sent
    again = bgassets_fetch(*args)
    assert again.returncode == 0 and "1 already complete" in again.stderr
    assert server.stats.body_bytes_sent == served


def test_a_wrong_sha256_fails_with_1011_and_leaves_no_file(server, assets, tmp_path):
    url = server.url + "small.bin"
    result = bgassets_fetch(url, "-d", str(tmp_path), "--sha256", "0" * 64)
    assert result.returncode == 1
    assert f"bgassets fetch: {url}: error 1011 checksumMismatch: " in result.stderr
    assert not (tmp_path / "small.bin").exists()
    assert not (tmp_path / "small.bin.part").exists()


def test_a_missing_file_fails_with_its_http_status_and_others_still_arrive(server, assets,
                                                                          tmp_path):
    missing = server.url + "nope.bin"
    result = bgassets_fetch(missing, server.url + "small.bin", "-d", str(tmp_path))
    assert result.returncode == 1
    failures = [line for line in result.stderr.splitlines() if " error " in line]
    assert len(failures) == 1 and failures[0].startswith(f"bgassets fetch: {missing}: error 1020 ")
    assert "404" in failures[0]
    assert (tmp_path / "small.bin").read_bytes() == assets["small.bin"]


def test_a_bad_list_line_is_a_usage_error_naming_list_and_line(server, tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text(f"{server.url}small.bin\n# fine so far\n{server.url}x.bin sha=12\n")
    result = bgassets_fetch("-i", str(listing), "-d", str(tmp_path))
    assert result.returncode == 2
    assert f"{listing}:3: unknown option 'sha=12'" in result.stderr
    assert "Traceback" not in result.stderr
    assert server.stats.requests == 0


def test_json_events_parse_and_carry_exact_bytes(server, assets, tmp_path):
    data = assets["big.bin"]
    result = bgassets_fetch("--json", "-i", "-", "-d", str(tmp_path),
                            stdin=f"{server.url}big.bin\n{server.url}missing.bin\n")
    assert result.returncode == 1
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert all({"ts", "event", "app", "download", "url", "bytes", "total"} <= e.keys()
               for e in events)
    by_kind = {(e["event"], e["url"].rsplit("/", 1)[1]): e for e in events}
    finished = by_kind["download.finished", "big.bin"]
    assert (finished["bytes"], finished["total"]) == (len(data), len(data))
    assert finished["sha256"] == sha256(data)
    assert Path(finished["path"]).read_bytes() == data
    failed = by_kind["download.failed", "missing.bin"]
    assert (failed["code"], failed["name"]) == (1020, "httpError")
    assert ("download.started", "big.bin") in by_kind
    assert all(e["bytes"] <= len(data) for e in events if e["event"] == "download.progress")


def test_a_terminal_gets_a_progress_line_and_a_pipe_does_not(server, assets, tmp_path):
    parent, child = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "orchestrator", "fetch",
                                server.url + "big.bin", "-d", str(tmp_path)],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=child)
    os.close(child)
    shown = b""
    while select.select([parent], [], [], 60)[0]:
        try:
            chunk = os.read(parent, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(parent)
    assert process.wait(timeout=60) == 0
    assert b"\r" in shown and b"/1 files" in shown and b"\x1b[K" in shown
    piped = bgassets_fetch(server.url + "small.bin", "-d", str(tmp_path))
    assert "\r" not in piped.stderr and "\x1b[K" not in piped.stderr


@pytest.mark.integration
@pytest.mark.parametrize("connections", ["1", "4"])
def test_nginx_serves_single_and_segmented_fetches(tmp_path, connections):
    data = os.urandom(24 << 20)
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "asset.bin").write_bytes(data)
    with nginx_server(tmp_path / "www", tmp_path / "nginx") as base:
        result = bgassets_fetch(base + "asset.bin", "-d", str(tmp_path / "out"),
                                "--connections", connections, "--sha256", sha256(data))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "asset.bin").read_bytes() == data


def test_hosts_outside_the_allow_list_are_refused_with_202(server, tmp_path):
    url = server.url + "small.bin"
    result = bgassets_fetch(url, "-d", str(tmp_path), "--allow-host", "*.example.com")
    assert result.returncode == 1
    assert f"bgassets fetch: {url}: error 202 sessionDownloadDisallowedByDomain: " in result.stderr
    assert server.stats.body_bytes_sent == 0 and not (tmp_path / "small.bin").exists()


@pytest.fixture
def password_server(tmp_path):
    """A real aiohttp server that wants Basic credentials alice:s3cret for /secret.bin."""
    body = os.urandom(50_000)
    expected = "Basic " + base64.b64encode(b"alice:s3cret").decode()

    async def secret(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != expected:
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="assets"'})
        return web.Response(body=body, content_type="application/octet-stream")

    app = web.Application()
    app.router.add_get("/secret.bin", secret)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/secret.bin", body
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_netrc_answers_a_401_challenge_and_without_it_the_fetch_fails(password_server,
                                                                       tmp_path):
    url, body = password_server
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login alice password s3cret\n")
    netrc.chmod(0o600)
    denied = bgassets_fetch(url, "-d", str(tmp_path / "a"))
    assert denied.returncode == 1 and " error 1025 authenticationFailed: " in denied.stderr
    allowed = bgassets_fetch(url, "-d", str(tmp_path / "b"), "--netrc", str(netrc))
    assert allowed.returncode == 0, allowed.stderr
    assert (tmp_path / "b" / "secret.bin").read_bytes() == body


def test_a_server_that_refuses_connections_is_tried_once_per_run(server, assets, tmp_path):
    """After one file used up its retries on a refusing server, its other files fail at
    once, and files from other servers still arrive."""
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}/"
        listing = tmp_path / "list.txt"
        listing.write_text("".join(f"{dead}f{i}.bin\n" for i in range(12))
                           + f"{server.url}small.bin\n")
        result = bgassets_fetch("-i", str(listing), "-d", str(tmp_path / "out"), "--jobs", "1")
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if "error 1021" in line]
    assert len(lines) == 12 and "cannot connect to" in lines[0]
    assert all(f"not tried: {dead[:-1]} could not be reached" in line for line in lines[1:])
    assert (tmp_path / "out" / "small.bin").read_bytes() == assets["small.bin"]
    assert "Traceback" not in result.stderr
