"""Notices say what happened in one sentence: a closed port, a body cut short, never internals."""

from __future__ import annotations

import contextlib
import re
import socket

from orchestrator.devserver import DevServer
from orchestrator.engine import Engine, RetryPolicy
from orchestrator.service import Orchestrator
from tests.tui.drive import settle, show
from tests.tui.scenario import GAME, NEWS, write_content, write_manifests
from tui.app import BgAssetsApp, in_process

SIZE = (160, 40)
INTERNALS = re.compile(r"ssl:default|<\w+Error|\w+Error\(|Errno|payload|Connect call")
ONE_RETRY = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def notices(app: BgAssetsApp) -> list[str]:
    return [notification.message for notification in app._notifications]


async def run_install(tmp_path, base_url: str) -> tuple[list[str], str]:
    """Start the UI on both apps; the notices, and the Downloads error cell of game's catalog."""
    manifests = write_manifests(tmp_path, base_url)
    async with Engine(retry=ONE_RETRY) as engine, \
            Orchestrator(tmp_path / "state", engine=engine) as orchestrator:
        app = BgAssetsApp(in_process(lambda: contextlib.nullcontext(orchestrator)), manifests)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await show(app, pilot, "2")
            cell = app.screen.table.cell_text(f"{GAME}/@catalog", 8)
            return notices(app), cell


async def test_a_closed_port_reads_as_a_refused_connection(tmp_path):
    port = closed_port()
    shown, cell = await run_install(tmp_path, f"http://127.0.0.1:{port}/")
    refused = f"cannot connect to 127.0.0.1:{port}: connection refused"
    for app_id in (GAME, NEWS):
        assert f"install {app_id} failed: the catalog could not be fetched: 1021 " \
               f"networkError: {refused}; install again to retry" in shown
    assert cell == f"1021 networkError: {refused}"
    assert not any(INTERNALS.search(text) for text in shown)


async def test_a_catalog_cut_short_reads_as_a_connection_closed_mid_body(tmp_path):
    async with DevServer(write_content(tmp_path), faults=["truncate:1"]) as server:
        shown, cell = await run_install(tmp_path, server.url)
    said = f"the server 127.0.0.1:{server.port} closed the connection mid-body"
    assert any(said in text and text.startswith(f"install {GAME} failed") for text in shown)
    assert cell == f"1021 networkError: {said}"
    assert not any(INTERNALS.search(text) for text in shown)
