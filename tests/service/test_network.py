"""The content requests waiting for the network, and work that stops when it goes."""

from __future__ import annotations

import asyncio

import pytest

from orchestrator.errors import WentOffline
from orchestrator.model.enums import ContentRequest
from orchestrator.service.network import NetworkWaits

INSTALL, UPDATE, PERIODIC = ContentRequest.INSTALL, ContentRequest.UPDATE, ContentRequest.PERIODIC


def test_one_request_waits_per_app_and_a_periodic_one_does_not_replace_an_install():
    waits = NetworkWaits(online=False)
    waits.keep("a", INSTALL)
    waits.keep("a", PERIODIC)
    waits.keep("b", PERIODIC)
    waits.keep("b", UPDATE)
    assert (waits.waiting("a"), waits.waiting("b"), waits.waiting("c")) == (
        INSTALL, UPDATE, None)
    assert waits.take() == {}  # offline: nothing is made yet

    waits.forget("b")
    waits.set_online(True)
    assert waits.take() == {"a": INSTALL}
    assert waits.waiting("a") is None and waits.take() == {}


async def test_work_runs_to_its_end_while_online_and_stops_when_the_device_goes_offline():
    waits = NetworkWaits(online=True)

    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert await waits.while_online(answer()) == 42

    stopped = asyncio.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    work = asyncio.create_task(waits.while_online(forever()))
    await asyncio.sleep(0.01)
    waits.set_online(False)
    with pytest.raises(WentOffline):
        await asyncio.wait_for(work, 5)
    assert stopped.is_set()
