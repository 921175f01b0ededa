"""Failed transfers read as one sentence on what happened, never as aiohttp's internals."""

from __future__ import annotations

import re
import socket

import pytest

from orchestrator.devserver import DevServer
from orchestrator.engine import DownloadRequest, Engine, RetryPolicy
from orchestrator.engine.failures import server_of
from orchestrator.errors import ErrorCode
from tests.engine.conftest import make_asset, request_for

ONE_RETRY = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05)
INTERNALS = re.compile(r"ssl:default|<\w+Error|\w+Error\(|Errno|payload|Connect call")


def assert_human(message: str) -> None:
    assert not INTERNALS.search(message), message
    assert "\n" not in message and len(message) < 200, message


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(("fault", "said"), [
    ("reset:1", "the connection to {server} was reset mid-body"),
    ("truncate:1", "the server {server} closed the connection mid-body"),
])
@pytest.mark.parametrize("size,connections", [(300_000, 1), (12 << 20, 4)],
                         ids=["small", "segmented"])
async def test_a_body_cut_short_says_so(served, out, fault, said, size, connections):
    asset = make_asset(served, "asset.bin", size, seed=5)
    async with DevServer(served, faults=[fault]) as server, Engine(retry=ONE_RETRY) as engine:
        result = await engine.fetch(request_for(server, asset, out, connections=connections))
    assert result.error is not None and result.error.code == ErrorCode.NETWORK_ERROR
    assert result.error.message == said.format(server=f"127.0.0.1:{server.port}")
    assert_human(result.error.message)


@pytest.mark.parametrize("foreground", [True, False])
async def test_a_closed_port_is_a_refused_connection(out, foreground):
    port = closed_port()
    async with Engine(retry=ONE_RETRY) as engine:
        result = await engine.fetch(DownloadRequest(f"http://127.0.0.1:{port}/a.bin",
                                                    out / "a.bin", foreground=foreground))
    assert result.error.message == f"cannot connect to 127.0.0.1:{port}: connection refused"
    assert result.error.unreachable and result.error.transient is not foreground


async def test_an_unknown_host_is_a_name_not_found(out):
    async with Engine(retry=ONE_RETRY) as engine:
        result = await engine.fetch(DownloadRequest("http://no-such-host.invalid/a.bin",
                                                    out / "a.bin", foreground=True))
    assert result.error.code == ErrorCode.NETWORK_ERROR
    assert result.error.message.startswith("cannot connect to no-such-host.invalid:80: ")
    assert_human(result.error.message)


async def test_wrong_length_names_both_sizes(served, out):
    asset = make_asset(served, "asset.bin", 300_000, seed=6)
    async with DevServer(served, faults=["wrong-length:1"]) as server, \
            Engine(retry=ONE_RETRY) as engine:
        result = await engine.fetch(request_for(server, asset, out))
    assert result.error.code == ErrorCode.SIZE_MISMATCH
    assert "299999 bytes, expected 300000" in result.error.message
    assert_human(result.error.message)


def test_a_server_is_named_by_host_and_port():
    assert server_of("http://127.0.0.1:8470/game/catalog.json") == "127.0.0.1:8470"
    assert server_of("https://cdn.example.com/a.bin") == "cdn.example.com:443"
