"""A daemon's storage as its clients read it: `bgassets status` and RemoteControls."""

import asyncio
import json
from pathlib import Path

from orchestrator.control import socket_path
from orchestrator.control.remote import attached
from orchestrator.devserver.thread import serve_in_thread
from orchestrator.service.views import snapshot_from_json
from tests.control.daemon_apps import running_daemon
from tests.service.scenario import APP_ID, Asset, KiB, MiB, Scenario

GiB = 2**30
CACHES = ('{match: {id: "cache-*"}, destination: "Library/Caches/{filename}"}',
          '{destination: "assets/{filename}"}')


def write_device(folder: Path) -> Path:
    path = folder / "half-full.yaml"
    path.write_text("apiVersion: bgassets/v1\nkind: Device\nmetadata: {name: half-full}\n"
                    "spec:\n  storage: {capacity: 1GiB, reserve: 256MiB, used: 512MiB}\n")
    return path


async def purged_as_remote_controls_see_it(state: Path, purge) -> tuple:
    """The daemon's storage through RemoteControls, before and after ``purge()``."""
    async with attached(socket_path(state)) as controls:
        before = controls.snapshot().storage
        purged = asyncio.get_running_loop().create_future()
        controls.events.subscribe(
            lambda e: e.event == "asset.purged" and not purged.done() and purged.set_result(e))
        await asyncio.to_thread(purge)
        await asyncio.wait_for(purged, 10)
        await controls.load_status()
        return before, controls.snapshot().storage


def test_status_shows_the_storage_and_bytes_over_max_install_size(tmp_path, short_state):
    scene = Scenario(tmp_path, [Asset("level", 512 * KiB), Asset("cache-icons", 256 * KiB)],
                     rules=CACHES, max_install_size="4MiB", essential_max_install_size="1MiB")
    scene.write_content()
    state = short_state
    with serve_in_thread(scene.content) as server, \
            running_daemon(state, "--device", str(write_device(tmp_path))) as daemon:
        installed = daemon.cli("install", str(scene.write_manifests(server.url)))
        assert installed.returncode == 0, installed.stderr
        daemon.wait_for(lambda rows: sum(r["state"] == "finished" for r in rows) == 2)
        status = daemon.json("status")
        delivered = 768 * KiB
        assert status["storage"] == {
            "simulated": True, "capacity": GiB, "reserve": 256 * MiB,
            "free": 512 * MiB - delivered, "available": 256 * MiB - delivered,
            "purgeable": 256 * KiB, "delivered": delivered}
        app = status["apps"][0]
        assert (app["sizeOnDisk"], app["maxInstallSize"]) == (4 * MiB + delivered, 4 * MiB)
        text = daemon.cli("status").stdout
        assert f"{APP_ID}" in text and "over maxInstallSize 4.0 MiB by 768.0 KiB" in text
        assert ("storage (simulated): 511.2 MiB free of 1.0 GiB, reserve 256.0 MiB, "
                "255.2 MiB available to downloads, 256.0 KiB purgeable, 768.0 KiB delivered"
                ) in text.splitlines()

        before, after = asyncio.run(purged_as_remote_controls_see_it(
            state, lambda: daemon.cli("purge")))
        assert before == snapshot_from_json(json.loads(json.dumps(status))).storage
        assert (after.purgeable, after.delivered, after.free) == (
            0, 512 * KiB, 512 * MiB - 512 * KiB)
