"""A pause's saved state is never replaced by an older checkpoint still being saved.

A checkpoint saves from a thread; cancelling its task (a pause) does not stop that
thread. Here the disk is slow for the checkpoint's thread (its save waits 0.3 s before
writing), and the download is paused while that save is under way: the state left on
disk must be the pause's, which claims at least as many bytes as the checkpoint's.
"""

from __future__ import annotations

import asyncio
import threading
import time

from orchestrator.devserver import DevServer
from orchestrator.engine import Engine, SidecarStore
from orchestrator.engine.state import StateRecord
from orchestrator.model.enums import DownloadState
from tests.engine.conftest import FAST_RETRY, make_asset, request_for, sha256_of

MIB = 1 << 20


class SlowThreadDisk(SidecarStore):
    """The sidecar store on a disk that is slow for saves made off the main thread."""

    def __init__(self) -> None:
        self.thread_save_started = threading.Event()
        self.saved: list[tuple[str, int]] = []

    def save(self, key: str, state: StateRecord) -> None:
        main = threading.current_thread() is threading.main_thread()
        if not main:
            self.thread_save_started.set()
            time.sleep(0.3)
        super().save(key, state)
        self.saved.append(("pause" if main else "checkpoint", state["bytes"]))


async def test_a_checkpoint_saving_during_a_pause_does_not_replace_the_pauses_state(
        served, out):
    asset = make_asset(served, "asset.bin", 24 * MIB, seed=41)
    store = SlowThreadDisk()
    async with DevServer(served, rate_per_connection=6 * MIB) as server, \
            Engine(state_store=store, retry=FAST_RETRY) as engine:
        handle = engine.start(request_for(server, asset, out, connections=1))
        started = await asyncio.to_thread(store.thread_save_started.wait, 20)
        assert started, "no checkpoint was saved from a thread"
        await asyncio.sleep(0.1)  # more bytes arrive while the checkpoint's save waits
        handle.pause()
        while handle.state is not DownloadState.PAUSED:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)  # the checkpoint's thread is done by now
        state = store.load(str(out / "asset.bin"))
        assert state is not None
        pause_bytes = max(saved for who, saved in store.saved if who == "pause")
        assert state["bytes"] == pause_bytes, store.saved
        assert store.saved[-1][0] == "pause", store.saved
        server.rate_per_connection = None
        handle.resume()
        result = await handle.wait()
    assert result.ok, result.error
    assert sha256_of(out / "asset.bin") == asset.sha256
    assert result.resumed_from >= pause_bytes
