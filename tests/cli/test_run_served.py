"""What `bgassets run DIR` serves: DIR's files, bundled example assets generated from the
example's own seed, and nothing it would have to invent; one run per state dir."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from orchestrator.bundled import manifests_dir
from tests.control.daemon_apps import Asset, KiB, write_app, write_content
from tests.support.ports import free_port


def run_command(directory, state, port, *extra):
    return [sys.executable, "-m", "orchestrator", "run", str(directory), "--headless",
            "--port", str(port), "--state-dir", str(state), *extra]


def run_headless(directory, state, port, rate="0"):
    return subprocess.run(run_command(directory, state, port, "--rate-per-connection", rate),
                          capture_output=True, text=True, timeout=120)


def bundled_entry(example, asset_id):
    """The catalog entry of one asset of a bundled example, as its catalog has it."""
    catalog = json.loads((manifests_dir() / example / "catalog.json").read_text())
    return next(entry for entry in catalog["assets"] if entry["id"] == asset_id)


def talks_app(directory, port, own, entries):
    """DIR/talks/: an app of the user's with its own files and catalog ``entries`` that
    have no file (an asset of a bundled example, or one it pins by sha256 only)."""
    write_content(directory / "talks", own)
    catalog = json.loads((directory / "talks" / "catalog.json").read_text())
    catalog["assets"] += entries
    (directory / "talks" / "catalog.json").write_text(json.dumps(catalog))
    write_app(directory / "talks", "talks", f"http://127.0.0.1:{port}/talks/catalog.json")


def test_an_asset_no_bundled_example_has_fails_at_once_and_writes_nothing(tmp_path):
    port, directory, state = free_port(), tmp_path / "apps", tmp_path / "state"
    huge = {"id": "huge", "url": "huge.bin", "size": 10 * 2**30, "sha256": "ab" * 32}
    talks_app(directory, port, [Asset("intro", 8 * KiB)], [huge])

    started = time.monotonic()
    result = run_headless(directory, state, port)
    assert result.returncode == 1, result.stdout + result.stderr
    assert time.monotonic() - started < 20
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"asset 'huge' has no file at {directory / 'talks' / 'huge.bin'}; put it there" \
        in result.stderr
    assert f"run `bgassets run {directory} --no-server`" in result.stderr
    assert not (state / "demo-content").exists()
    assert sum(path.stat().st_size for path in state.rglob("*") if path.is_file()) < 2**20


def test_a_bundled_example_copied_under_another_folder_name_installs(tmp_path):
    port, directory, state = free_port(), tmp_path / "proj", tmp_path / "state"
    example, copy = manifests_dir() / "wwdc-sessions", directory / "sessions"
    copy.mkdir(parents=True)
    for name in ("app.yaml", "extension.yaml", "catalog.json"):
        shutil.copy(example / name, copy / name)
    app = (copy / "app.yaml").read_text()
    url = "http://127.0.0.1:8470/wwdc-sessions/catalog.json"
    assert url in app
    (copy / "app.yaml").write_text(
        app.replace(url, f"http://127.0.0.1:{port}/sessions/catalog.json"))

    result = run_headless(directory, state, port)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed download(s)" in result.stdout and "8/8 downloads" in result.stdout
    served = state / "demo-content" / "sessions" / "sessions" / "wwdc23-10108.mp4"
    assert served.stat().st_size == bundled_entry("wwdc-sessions", "wwdc23-10108")["size"]


def test_own_files_are_served_beside_an_asset_of_a_bundled_example(tmp_path):
    port, directory, state = free_port(), tmp_path / "apps", tmp_path / "state"
    notes = Asset("notes", 16 * KiB)
    talks_app(directory, port, [notes], [bundled_entry("wwdc-sessions", "wwdc15-711")])

    result = run_headless(directory, state, port)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed download(s)" in result.stdout and "2/2 downloads" in result.stdout
    served = state / "demo-content" / "talks"
    assert (served / "notes.bin").read_bytes() == notes.data()
    assert (served / "sessions" / "wwdc15-711.mp4").stat().st_size == 8 * 2**20


def _stats(folder):
    return {path: (path.stat().st_ino, path.stat().st_mtime_ns)
            for path in sorted(folder.rglob("*")) if path.is_file()}


def test_a_second_run_on_the_same_state_dir_is_busy_and_leaves_the_first_alone(tmp_path):
    port, directory, state = free_port(), tmp_path / "apps", tmp_path / "state"
    notes = Asset("notes", 16 * KiB)
    talks_app(directory, port, [notes], [bundled_entry("wwdc-sessions", "wwdc15-711")])
    generated = state / "demo-content" / "talks" / "sessions" / "wwdc15-711.mp4"
    first = subprocess.Popen(run_command(directory, state, port, "--rate-per-connection",
                                         "256KiB"), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not generated.exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert generated.exists(), first.stderr.read() if first.poll() is not None else ""
        before = _stats(state / "demo-content")
        # The user saves a file again (a new inode), which a second preparation would link.
        fresh = directory / "talks" / "notes.bin.new"
        fresh.write_bytes(notes.data())
        os.replace(fresh, directory / "talks" / "notes.bin")

        second = run_headless(directory, state, port)
        assert first.poll() is None, "the first run ended before the second one was tried"
        assert second.returncode == 1, second.stdout + second.stderr
        assert second.stderr.startswith("bgassets run: error 1071 stateDirBusy: "), \
            second.stderr
        assert _stats(state / "demo-content") == before

        out, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert first.returncode == 0, out + err
    assert "0 failed download(s)" in out and "2/2 downloads" in out


@pytest.fixture
def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")


def test_an_ipv6_loopback_url_is_not_the_built_in_server(tmp_path, ipv6_loopback):
    from orchestrator.devserver.thread import serve_in_thread

    directory, state = tmp_path / "apps", tmp_path / "state"
    write_content(tmp_path / "content" / "game", [Asset("intro", 32 * KiB, essential=True)])
    with serve_in_thread(tmp_path / "content", host="::1") as server:
        manifest = write_app(directory / "game", "game",
                             f"http://[::1]:{server.port}/game/catalog.json")
        manifest.write_text(manifest.read_text().replace('["127.0.0.1"]', '["::1"]'))
        # The built-in server answers on 127.0.0.1 only, so it must not claim this URL
        # (and DIR has no catalog to serve for it).
        result = run_headless(directory, state, server.port)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1/1 downloads" in result.stdout and "0 failed download(s)" in result.stdout


def test_run_builds_and_serves_the_packs_of_a_copied_example(tmp_path):
    """`init --example level-packs` copies its packs; `run` builds and serves them, and the
    tutorial and worlds packs are current in the app's pack store afterwards."""
    apps, state = tmp_path / "apps", tmp_path / "state"
    port = free_port()
    made = subprocess.run([sys.executable, "-m", "orchestrator", "init", str(apps / "game"),
                           "--example", "level-packs", "--manifest-url",
                           f"http://127.0.0.1:{port}/game/catalog.json"],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    catalog = apps / "game" / "catalog.json"
    data = json.loads(catalog.read_text())
    data["assets"] = [a for a in data["assets"] if a["id"] == "tutorial"]  # 12 MiB, not 190
    catalog.write_text(json.dumps(data))
    result = run_headless(apps, state, port)
    assert result.returncode == 0, result.stdout + result.stderr
    (container,) = (state / "containers").iterdir()
    packs = container / ".packs" / "packs"
    assert sorted(p.name for p in packs.iterdir() if (p / "current").is_symlink()) == [
        "tutorial", "worlds"]
    source = apps / "game" / "pack-source"
    current = packs / "worlds" / "current"
    assert (current / "worlds/1/level-2.level").read_bytes() == (
        source / "worlds/1/level-2.level").read_bytes()
