"""A client of a daemon that answers nonsense gets 1026 badServerAnswer, never a traceback.

The "daemon" is a real aiohttp server on a Unix socket whose answers are valid JSON
of the wrong shape, as a daemon of another version or a stranger's server might send.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from orchestrator.control import ControlClient
from orchestrator.control.remote import RemoteControls
from orchestrator.errors import BackgroundAssetsError, ErrorCode

pytestmark = pytest.mark.timeout(20)

ANSWERS = {"status": [1, 2], "downloads": {"not": "a list"}, "purge": {"freed": "lots"},
           "device": "on", "apps/a/launch": None, "apps/b/launch": {},
           "apps/a/periodic": {"app": 1}}
ROWS = {"downloads": [{"app": "a"}], "status": {"apps": [7], "device": {}}}


@contextlib.asynccontextmanager
async def strange_daemon(path: Path, answers: dict) -> AsyncIterator[None]:
    async def answer(request: web.Request) -> web.Response:
        return web.json_response(answers[request.match_info["route"]])

    app = web.Application()
    app.add_routes([web.route("*", "/v1/{route:.+}", answer)])
    runner = web.AppRunner(app)
    await runner.setup()
    await web.UnixSite(runner, str(path)).start()
    path.chmod(0o600)
    try:
        yield
    finally:
        await runner.cleanup()


async def test_answers_of_the_wrong_shape_are_refused_with_their_route(tmp_path):
    path = tmp_path / "control.sock"
    async with strange_daemon(path, ANSWERS), ControlClient(path) as client:
        remote = RemoteControls(client)
        calls = {"status": remote.load_status(), "downloads": remote.downloads(),
                 "purge": remote.purge(), "launch": remote.launch("a"),
                 "device": remote.set_device(remote.snapshot().device)}
        for route, call in calls.items():
            with pytest.raises(BackgroundAssetsError) as refused:
                await call
            assert refused.value.code == ErrorCode.BAD_SERVER_ANSWER, route
            assert str(path) in refused.value.message


async def test_objects_a_client_cannot_read_are_refused_too(tmp_path):
    path = tmp_path / "control.sock"
    async with strange_daemon(path, {**ANSWERS, **ROWS}), ControlClient(path) as client:
        remote = RemoteControls(client)
        for route, call in {"status": remote.load_status(),
                            "downloads": remote.downloads()}.items():
            with pytest.raises(BackgroundAssetsError) as refused:
                await call
            assert refused.value.code == ErrorCode.BAD_SERVER_ANSWER
            assert f"answered {route} with something this client cannot read" in \
                refused.value.message
        await remote.launch("b")  # an answer without the app's id: the one asked about
        await remote.periodic("a")
