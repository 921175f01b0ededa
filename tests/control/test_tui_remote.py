"""`bgassets tui`: the Textual app attached to a daemon over the real control socket.

The daemon here is the real thing, in the test's event loop: an Orchestrator
on the two-app scenario of the TUI tests, served by a ControlServer on its
state dir's Unix socket. The UI attaches late (after both apps were installed
offline), reads the daemon's state, follows its events, and sends its actions
over the socket; the daemon's own answers (ControlClient) show their effect.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from orchestrator.control import ControlClient, ControlServer, socket_path
from orchestrator.errors import BackgroundAssetsError
from orchestrator.service import Orchestrator
from tests.tui.drive import installed_offline, offline
from tests.tui.scenario import GAME, NEWS, scene
from tui.app import BgAssetsApp, attached_app
from tui.messages import AppAction

SIZE = (160, 40)
STATE, ERROR = 4, 8  # columns of the Downloads table
pytestmark = pytest.mark.timeout(30)


@dataclass
class Daemon:
    """A running orchestrator with its control server, as `bgassets daemon` runs them."""

    orchestrator: Orchestrator
    server: ControlServer
    path: Path

    async def rows(self) -> dict[str, dict[str, Any]]:
        """``bgassets downloads --json``, keyed by ``app/id``."""
        async with ControlClient(self.path) as client:
            return {f"{row['app']}/{row['download']}": row for row in await client.downloads()}


@pytest.fixture
async def daemon(tmp_path) -> AsyncIterator[Daemon]:
    """Both scenario apps installed while offline: every download waits in the daemon."""
    async with scene(tmp_path) as built:
        await installed_offline(built.orchestrator, built.manifests)
        path = socket_path(tmp_path / "state")
        async with ControlServer(built.orchestrator, path) as server:
            yield Daemon(built.orchestrator, server, path)


async def until(pilot: Any, condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let the app run until ``condition`` holds (events cross a socket, not a call)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        pilot.app.repaint()
        await pilot.pause(0.02)


async def press(app: BgAssetsApp, pilot: Any, *keys: str) -> None:
    """Press keys, wait for the requests they sent to the daemon, then draw a frame."""
    await pilot.press(*keys)
    requests = [worker for worker in app.workers if worker.group == "requests"]
    if requests:
        await app.workers.wait_for_complete(requests)
    app.repaint()
    await pilot.pause()


async def select(pilot: Any, key: str) -> None:
    table = pilot.app.screen.table
    table.move_cursor(row=table.shown_keys.index(key), animate=False)
    await pilot.pause()


def cell(app: BgAssetsApp, key: str, column: int) -> str:
    return str(app.screen.table.cell_text(key, column))


async def attached(app: BgAssetsApp, pilot: Any) -> None:
    await asyncio.wait_for(app.ready.wait(), 5)
    app.repaint()
    await pilot.pause()


async def test_a_late_ui_shows_the_daemons_apps_and_downloads(daemon):
    app = attached_app(daemon.path)
    async with app.run_test(size=SIZE) as pilot:
        await attached(app, pilot)
        assert app.screen.table.shown_keys == [GAME, NEWS]
        assert cell(app, GAME, 3) == "installing" and cell(app, NEWS, 3) == "launchable"
        await press(app, pilot, "2")
        keys = app.screen.table.shown_keys
        assert set(keys) == {f"{GAME}/tutorial", f"{GAME}/level-1", f"{GAME}/level-2",
                             f"{GAME}/thumbs", f"{NEWS}/front-page", f"{NEWS}/archive"}
        assert {cell(app, key, STATE) for key in keys} == {"waiting"}
        assert str(app.sub_title) == f"attached to {daemon.path}"


async def test_a_late_ui_and_status_show_an_install_waiting_for_the_network(tmp_path):
    # The UI attaches after request.waiting was published: only the daemon's view says it.
    async with scene(tmp_path) as built:
        orchestrator = built.orchestrator
        offline(orchestrator)
        await orchestrator.install(built.manifests[0])
        path = socket_path(tmp_path / "state")
        async with ControlServer(orchestrator, path):
            status = await asyncio.to_thread(
                subprocess.run, [sys.executable, "-m", "orchestrator", "--state-dir",
                                 str(tmp_path / "state"), "status"],
                capture_output=True, text=True, timeout=30)
            assert status.returncode == 0, status.stderr
            line = next(line for line in status.stdout.splitlines() if line.startswith(GAME))
            assert line.split()[1] == "installing"
            assert line.endswith("(install request waiting for the network)")

            app = attached_app(path)
            async with app.run_test(size=SIZE) as pilot:
                await attached(app, pilot)
                assert cell(app, GAME, 3) == "installing: offline"
                orchestrator.set_device(replace(orchestrator.device, network=replace(
                    orchestrator.device.network, online=True)))
                await until(pilot, lambda: cell(app, GAME, 3) == "launchable", timeout=20)
            async with ControlClient(path) as client:
                views = {view["app"]: view for view in (await client.status())["apps"]}
            assert views[GAME]["waitingRequest"] is None


async def test_pause_and_cancel_reach_the_daemon(daemon):
    app = attached_app(daemon.path)
    async with app.run_test(size=SIZE) as pilot:
        await attached(app, pilot)
        await press(app, pilot, "2")
        await select(pilot, f"{NEWS}/archive")
        await press(app, pilot, "z")
        assert app.outcomes[-1].message == f"{NEWS}/archive: paused"
        row = (await daemon.rows())[f"{NEWS}/archive"]
        assert (row["state"], row["reason"], row["speed"]) == ("paused", "paused by request", None)
        await until(pilot, lambda: cell(app, f"{NEWS}/archive", STATE).startswith("paused"))

        await select(pilot, f"{GAME}/level-2")
        await press(app, pilot, "c")
        assert app.outcomes[-1].message == f"{GAME}/level-2: cancelled"
        await until(pilot, lambda: cell(app, f"{GAME}/level-2", STATE) == "failed")
        assert cell(app, f"{GAME}/level-2", ERROR).startswith("1040 cancelled")
        row = (await daemon.rows())[f"{GAME}/level-2"]
        assert row["state"] == "failed" and row["error"] == 1040

        await select(pilot, f"{GAME}/level-1")
        await press(app, pilot, "p")
        refusal = app.outcomes[-1]
        assert refusal.code == 51 and "callFromInactiveProcessNotAllowed" in refusal.message


async def test_device_toggles_and_purge_act_on_the_daemon_and_quit_leaves_it_running(daemon):
    orchestrator = daemon.orchestrator
    app = attached_app(daemon.path)
    async with app.run_test(size=SIZE) as pilot:
        await attached(app, pilot)
        await press(app, pilot, "3")
        await press(app, pilot, "o")
        assert app.outcomes[-1].message == "network online: on"
        assert orchestrator.device.network.online
        for app_id in (GAME, NEWS):
            await orchestrator.wait(app_id, "all", timeout=10)
        await until(pilot, lambda: sum(app.state.purgeable.values()) > 0)
        await press(app, pilot, "x")
        assert app.outcomes[-1].message == "purge: freed 32.0 KiB"
        await until(pilot, lambda: sum(app.state.purgeable.values()) == 0)
        await press(app, pilot, "2")
        await until(pilot, lambda: cell(app, f"{NEWS}/archive", STATE) == "finished")
        await press(app, pilot, "q")
    async with ControlClient(daemon.path) as client:
        status = await client.status()
    assert [entry["app"] for entry in status["apps"]] == [GAME, NEWS]
    assert status["device"]["online"] is True


async def test_launch_then_promote_and_terminate_from_the_ui(daemon):
    orchestrator = daemon.orchestrator
    app = attached_app(daemon.path)
    async with app.run_test(size=SIZE) as pilot:
        await attached(app, pilot)
        await press(app, pilot, "down", "l")  # news has no essential download: launchable
        assert app.outcomes[-1].message == f"{NEWS} launched"
        assert orchestrator.apps[NEWS].running
        await until(pilot, lambda: cell(app, NEWS, 3) == "launched, running")
        await press(app, pilot, "2")
        await select(pilot, f"{NEWS}/archive")
        await press(app, pilot, "p")  # the device is offline: it keeps waiting in the background
        refusal = app.outcomes[-1]
        assert refusal.code == 1021 and "offline" in refusal.message
        assert cell(app, f"{NEWS}/archive", STATE) == "waiting"
        app.post_message(AppAction("terminate", NEWS))
        await press(app, pilot)
        assert app.outcomes[-1].message == f"{NEWS} terminated"
        assert not orchestrator.apps[NEWS].running


async def test_a_daemon_that_goes_away_is_shown_not_a_crash(daemon):
    app = attached_app(daemon.path)
    async with app.run_test(size=SIZE) as pilot:
        await attached(app, pilot)
        await press(app, pilot, "2")
        await daemon.server.__aexit__(None, None, None)
        await until(pilot, lambda: "daemon gone" in str(app.sub_title))
        await select(pilot, f"{NEWS}/archive")
        await press(app, pilot, "z")
        outcome = app.outcomes[-1]
        assert not outcome.ok and "does not answer" in outcome.message
        assert app.is_running
    assert app.return_code in (None, 0)


async def test_device_changes_are_checked_and_for_the_owner_only(daemon):
    async with ControlClient(daemon.path) as client:
        for bad in ({"lowPowerMode": "yes"}, {"airplane": True}, {"backgroundRefresh": True}):
            with pytest.raises(BackgroundAssetsError) as refused:
                await client.set_device(bad)
            assert (refused.value.code, refused.value.code.title) == (1073, "requestInvalid"), bad
        answer = await client.set_device({"backgroundRefresh": {"apps": {NEWS: False}}})
    assert answer["backgroundRefresh"] == {"enabled": True, "apps": {NEWS: False}}
    assert not daemon.orchestrator.device.background_refresh.allows(NEWS)
    async with ControlClient(daemon.path, app=GAME) as game:
        with pytest.raises(BackgroundAssetsError) as refused:
            await game.set_device({"online": True})
    assert refused.value.code == 50 and not daemon.orchestrator.device.network.online


def test_without_a_daemon_tui_says_how_to_start_one_and_exits_1(tmp_path):
    done = subprocess.run([sys.executable, "-m", "orchestrator", "--state-dir",
                           str(tmp_path), "tui"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    path = socket_path(tmp_path)
    assert done.stderr == (f"bgassets tui: error 1072 daemonNotRunning: no daemon listens on "
                           f"{path}; start it with `bgassets daemon` (same --state-dir)\n")
