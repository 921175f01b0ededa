"""Driving the TUI against a real orchestrator: settle the bridge, draw a frame, read outcomes."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from tests.tui.scenario import APPS
from tui.app import BgAssetsApp


async def settle(app: BgAssetsApp, pilot) -> None:
    """Let the bridge fold every published event, then draw one frame."""
    await app.ready.wait()
    while app.bridge_queue is not None and not app.bridge_queue.empty():
        await asyncio.sleep(0)
    app.repaint()
    await pilot.pause()


async def install_all(app: BgAssetsApp, pilot) -> None:
    """Wait until every app of the scenario has nothing pending, then settle."""
    await app.ready.wait()
    for app_id in APPS:
        await app.orchestrator.wait(app_id, "all", timeout=20)
    await settle(app, pilot)


async def press(app: BgAssetsApp, pilot, *keys: str) -> None:
    """Press keys, let request workers finish, then settle."""
    await pilot.press(*keys)
    requests = [worker for worker in app.workers if worker.group == "requests"]
    if requests:  # an empty list would mean "every worker", the session's included
        await app.workers.wait_for_complete(requests)
    await settle(app, pilot)


async def show(app: BgAssetsApp, pilot, screen_key: str) -> None:
    """Switch screens and let the new screen mount before any key meant for it."""
    await pilot.press(screen_key)
    await pilot.pause()
    await settle(app, pilot)


def offline(orchestrator) -> None:
    """Take the device offline before the app starts: every download waits."""
    device = orchestrator.device
    orchestrator.set_device(replace(device, network=replace(device.network, online=False)))


def last_outcome(app: BgAssetsApp):
    return app.outcomes[-1]
