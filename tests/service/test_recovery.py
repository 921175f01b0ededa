"""kill -9 in the middle of an install, then start again: the install completes, verified,
with at most 1 MiB fetched again per file that was in flight."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

from orchestrator.devserver.thread import serve_in_thread
from tests.service.scenario import GROUP, Asset, MiB, Scenario

SIZE = 12 * MiB


def simulate(state, manifest, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "--state-dir", str(state), "simulate", "install",
         str(manifest), "--json", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def data_bytes(path):
    """Bytes of data in a possibly sparse file: segments leave holes until they meet."""
    total, offset = 0, 0
    with open(path, "rb") as handle:
        fd, size = handle.fileno(), os.fstat(handle.fileno()).st_size
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole is left
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            total, offset = total + end - start, end
    return total


def part_sizes(state):
    """Data on disk per asset file name (staging names are ``<key>-<file name>.part``)."""
    return {p.name.removesuffix(".part").split("-", 1)[1]: data_bytes(p)
            for p in (state / "staging").rglob("*.part")}


def test_kill_9_mid_install_then_restart_completes_verified(tmp_path):
    assets = [Asset("tutorial", SIZE, essential=True), Asset("level-1", SIZE, priority=90),
              Asset("level-2", SIZE, priority=80)]
    scene = Scenario(tmp_path, assets, essential_allowance=16 * MiB, download_allowance=64 * MiB)
    scene.write_content()
    state = tmp_path / "state"
    with serve_in_thread(scene.content, rate_per_connection=6 * MiB) as server:
        manifest = scene.write_manifests(server.url)
        first = simulate(state, manifest)
        deadline = time.monotonic() + 30
        try:
            for line in first.stdout:
                event = json.loads(line)
                if event["event"] == "download.progress" and event["bytes"] >= 4 * MiB:
                    break
                assert time.monotonic() < deadline, "no progress from the first run"
        finally:
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
        assert first.returncode == -signal.SIGKILL
        on_disk = part_sizes(state)
        assert any(size >= 4 * MiB for size in on_disk.values()), on_disk
        served_before = dict(server.stats.bytes_by_path)

        second = simulate(state, manifest)
        out, err = second.communicate(timeout=60)
        assert second.returncode == 0, err
        assert "Traceback" not in err

    container = state / "containers" / GROUP / "assets"
    for asset in assets:
        data = (container / f"{asset.id}.bin").read_bytes()
        assert hashlib.sha256(data).hexdigest() == hashlib.sha256(asset.data()).hexdigest()
        path = f"/game/{asset.id}.bin"
        again = server.stats.bytes_by_path.get(path, 0) - served_before.get(path, 0)
        kept = on_disk.get(f"{asset.id}.bin", 0)
        assert again <= SIZE - kept + MiB, (asset.id, again, kept)
    assert list((state / "staging").rglob("*.part")) == []
    events = [json.loads(line) for line in out.splitlines()]
    assert {e["download"] for e in events if e["event"] == "download.finished"} == {
        a.id for a in assets}


async def test_restart_hands_over_finished_files_again_and_removes_orphans(tmp_path):
    from orchestrator.devserver import DevServer
    from orchestrator.journal import Journal
    from orchestrator.service import Orchestrator
    from orchestrator.storage.containers import Layout
    from tests.service.scenario import APP_ID, KiB

    assets = [Asset("a", 64 * KiB), Asset("b", 32 * KiB)]
    scene = Scenario(tmp_path, assets)
    scene.write_content()
    state = tmp_path / "state"
    async with DevServer(scene.content) as server:
        manifest = scene.write_manifests(server.url)
        async with Orchestrator(state) as orchestrator:
            await orchestrator.install(manifest)
            await orchestrator.wait(APP_ID, "all", timeout=20)
    # As if the process died after the engine published "a" but before the handover.
    layout = Layout(state)
    delivered = state / "containers" / GROUP / "assets" / "a.bin"
    ephemeral = layout.ephemeral_path(GROUP, "a", f"{server.url}game/a.bin")
    delivered.rename(ephemeral)
    with Journal.in_state_dir(state) as journal:
        journal.update_download(f"{GROUP}/a", delivered=False)
    orphan = ephemeral.with_name("0123456789abcdef-gone.bin.part")
    orphan.write_bytes(b"left over")

    async with Orchestrator(state) as orchestrator:
        await orchestrator.wait(APP_ID, "all", timeout=20)
        assert orchestrator.journal.download(f"{GROUP}/a").delivered
        assert orchestrator.apps[APP_ID].launchable
    assert hashlib.sha256(delivered.read_bytes()).digest() == hashlib.sha256(
        assets[0].data()).digest()
    assert not orphan.exists() and not ephemeral.exists()
