"""Bodies the control API cannot use: every POST route answers 400 with error 1073
``requestInvalid`` (never a 500 and a traceback), acts on nothing, and the daemon keeps
answering. A ControlServer on its state dir's real Unix socket, posted raw bytes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from orchestrator.control import ControlServer, socket_path
from orchestrator.errors import ErrorCode
from tests.tui.drive import installed_offline
from tests.tui.scenario import GAME, scene

pytestmark = pytest.mark.timeout(60)

ROUTES = [
    *(f"downloads/tutorial/{action}" for action in ("promote", "cancel", "pause", "resume")),
    "apps",
    *(f"apps/{GAME}/{action}" for action in
      ("launch", "terminate", "periodic", "install", "update", "uninstall")),
    *(f"apps/{GAME}/install/{action}" for action in ("pause", "resume", "cancel")),
    *(f"apps/{GAME}/packs/hd/{action}" for action in ("ensure", "remove", "rollback")),
    f"apps/{GAME}/packs/check",
    "purge",
    "device",
]


def encoded(value: object) -> bytes:
    return json.dumps(value).encode()


BAD_BODIES = {
    "not JSON": b"lots of bytes",
    "not UTF-8": b"\xff\xfe{}",
    "an array": b'["x"]',
    "a string": b'"purge"',
    "null": b"null",
    "bytes as a string": encoded({"bytes": "lots"}),
    "bytes as a boolean": encoded({"bytes": True}),
    "bytes beyond a float": b'{"bytes": 1e999}',
    "bytes not a number": b'{"bytes": NaN}',
    "bytes negative": encoded({"bytes": -1}),
    "bytes beyond 64 bits": encoded({"bytes": 10**30}),
    "bytes of 5000 digits": b'{"bytes": ' + b"9" * 5000 + b"}",
    "app as a number": encoded({"app": 5}),
    "manifest as a list": encoded({"manifest": ["x"]}),
    "manifest relative": encoded({"manifest": "app.yaml"}),
    "request unknown": encoded({"manifest": "/apps/app.yaml", "request": "reinstall"}),
    "request as a number": encoded({"manifest": "/apps/app.yaml", "request": 2}),
    "device value a string": encoded({"online": "yes"}),
    "device value null": encoded({"lowPowerMode": None}),
    "device key unknown": encoded({"onlien": False}),
    "refresh key unknown": encoded({"backgroundRefresh": {"enable": True}}),
    "refresh app value a number": encoded({"backgroundRefresh": {"apps": {GAME: 1}}}),
    "refresh a list": encoded({"backgroundRefresh": [True]}),
    "huge": encoded({"manifest": "/" + "x" * (1024 * 1024)}),
    "nested arrays": b"[" * 100_000 + b"]" * 100_000,
    "nested objects": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
}


@pytest.fixture
async def session(tmp_path) -> AsyncIterator[tuple[aiohttp.ClientSession, object]]:
    """A client of a daemon whose two apps are installed offline (downloads pending)."""
    async with scene(tmp_path) as built:
        await installed_offline(built.orchestrator, built.manifests)
        path = socket_path(tmp_path / "state")
        async with ControlServer(built.orchestrator, path), aiohttp.ClientSession(
                connector=aiohttp.UnixConnector(path=str(path))) as client:
            yield client, built.orchestrator


@pytest.mark.parametrize("route", ROUTES)
async def test_every_bad_body_is_refused_with_400_and_the_daemon_keeps_answering(
        session, route):
    client, orchestrator = session
    device, apps = orchestrator.device, set(orchestrator.apps)
    for name, body in BAD_BODIES.items():
        async with client.post(f"http://daemon/v1/{route}", data=body,
                               headers={"Content-Type": "application/json"}) as response:
            answer = await response.json()
            assert (response.status, answer["code"], answer["name"]) == (
                400, ErrorCode.REQUEST_INVALID, "requestInvalid"), (name, answer)
            assert answer["message"], name
        async with client.get("http://daemon/v1/status") as status:
            assert status.status == 200, name
    assert orchestrator.device == device and set(orchestrator.apps) == apps
    assert not orchestrator.apps[GAME].launched


async def test_a_good_body_still_works_next_to_the_bad_ones(session):
    client, orchestrator = session
    async with client.post("http://daemon/v1/device", json={"metered": True}) as response:
        assert response.status == 200 and (await response.json())["metered"] is True
    async with client.post("http://daemon/v1/purge", json={"bytes": 0, "app": GAME}) as answer:
        assert answer.status == 200 and await answer.json() == {"freed": 0, "app": GAME}
    async with client.post("http://daemon/v1/downloads/tutorial/pause", json={}) as response:
        assert response.status == 200
        assert (await response.json())["action"] == "pause"


@pytest.mark.parametrize("pack", ["-x", "%2E%2E%2E", "a%2Fb", "x" * 300, "%00"])
async def test_a_pack_id_that_cannot_be_one_is_a_refusal_not_a_500(session, pack):
    client, _ = session
    for action in ("ensure", "remove", "rollback"):
        async with client.post(f"http://daemon/v1/apps/{GAME}/packs/{pack}/{action}",
                               json={}) as response:
            answer = await response.json()
            assert response.status < 500 and answer["code"] == ErrorCode.DOWNLOAD_DOES_NOT_EXIST, (
                pack, action, answer)
