"""Driving the TUI against a real orchestrator: settle the bridge, draw a frame, read outcomes."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from orchestrator.events import EventKind
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
        await app.controls.orchestrator.wait(app_id, "all", timeout=20)
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
    """Take the device offline: no catalog is fetched and no download starts."""
    device = orchestrator.device
    orchestrator.set_device(replace(device, network=replace(device.network, online=False)))


async def installed_offline(orchestrator, manifests) -> None:
    """Install every app, then go offline with none of their downloads started.

    Offline, an install waits for the network; so each download is paused the moment it
    is scheduled (before the queue can start it), and resumed once the device is offline:
    every download then waits, as after installing on a network that went away.
    """
    held: list[str] = []

    def hold(event) -> None:
        if event.event == EventKind.DOWNLOAD_SCHEDULED:
            loaded = orchestrator.apps[event.app]
            key = f"{loaded.app.app_group}/{event.data['download']}"
            orchestrator.pause(key)
            held.append(key)

    unsubscribe = orchestrator.events.subscribe(hold)
    try:
        for manifest in manifests:
            await orchestrator.install(manifest)
    finally:
        unsubscribe()
    offline(orchestrator)
    for key in held:
        orchestrator.resume(key)


def offline_after_first_catalog(orchestrator) -> None:
    """Go offline the moment the first catalog is in (game's: the apps install in order).

    Events reach callbacks before the catalog's downloads are scheduled, so game's
    downloads all wait, and news's install waits for the network.
    """
    def on_event(event) -> None:
        if event.event == EventKind.CATALOG_FETCHED:
            unsubscribe()
            offline(orchestrator)

    unsubscribe = orchestrator.events.subscribe(on_event)


def last_outcome(app: BgAssetsApp):
    return app.outcomes[-1]


async def packs_read(app: BgAssetsApp, pilot, timeout: float = 10.0) -> None:
    """Let the Packs screen ask for the pack views the events made stale, wait for the
    reads, then draw a frame: the table shows what the service holds now."""
    await settle(app, pilot)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        app.repaint()
        await pilot.pause(0.02)
        reads = [worker for worker in app.workers if worker.group == "packs"]
        if reads:
            await app.workers.wait_for_complete(reads)
            continue
        installed = app.controls.snapshot().apps
        if not app.state.packs.stale(installed) and (app.bridge_queue is None
                                                     or app.bridge_queue.empty()):
            break
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"pack views still stale: {app.state.packs.stale(installed)}")
    app.repaint()
    await pilot.pause()
