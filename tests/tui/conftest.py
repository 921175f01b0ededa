"""The TUI on the two-app scenario: a real DevServer, Orchestrator and BgAssetsApp."""

from __future__ import annotations

import contextlib

import pytest

from tests.tui.scenario import scene
from tui.app import BgAssetsApp, in_process


@pytest.fixture
async def tui(tmp_path):
    """A BgAssetsApp on the two-app scenario, with a real DevServer and Orchestrator."""
    async with scene(tmp_path) as built:
        app = BgAssetsApp(in_process(lambda: contextlib.nullcontext(built.orchestrator)),
                          built.manifests)
        yield app, built
