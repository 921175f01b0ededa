"""Commands run on uvloop where it is installed, on asyncio's loop otherwise or when asked."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.cli import event_loop
from orchestrator.devserver import serve_in_thread

ROOT = Path(__file__).resolve().parents[2]

try:
    import uvloop
except ImportError:
    uvloop = None


async def loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


@pytest.mark.skipif(uvloop is None, reason="uvloop not installed")
def test_uvloop_is_used_where_installed(monkeypatch):
    monkeypatch.delenv(event_loop.ENVIRONMENT, raising=False)
    assert event_loop.run(loop_module()).startswith("uvloop")


def test_the_standard_loop_when_asked(monkeypatch):
    monkeypatch.setenv(event_loop.ENVIRONMENT, "asyncio")
    assert event_loop.loop_factory() is None
    assert event_loop.run(loop_module()).startswith("asyncio")


@pytest.mark.parametrize("loop", ["asyncio", "default"])
def test_fetch_of_many_small_files_on_either_loop(tmp_path, loop):
    served = tmp_path / "www"
    served.mkdir()
    lines = []
    for index in range(80):
        data = os.urandom(3000 + index)
        (served / f"f{index}.bin").write_bytes(data)
        lines.append((f"f{index}.bin", len(data), hashlib.sha256(data).hexdigest()))
    environment = {**os.environ, event_loop.ENVIRONMENT: loop}
    with serve_in_thread(served) as server:
        listing = tmp_path / "list.txt"
        listing.write_text("".join(f"{server.url}{name} size={size} sha256={digest}\n"
                                   for name, size, digest in lines))
        result = subprocess.run(
            [sys.executable, "-m", "orchestrator", "fetch", "--quiet", "-i", str(listing),
             "-d", str(tmp_path / "out")], cwd=ROOT, env=environment, capture_output=True,
            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for name, _size, digest in lines:
        assert hashlib.sha256((tmp_path / "out" / name).read_bytes()).hexdigest() == digest
    assert len(os.listdir(tmp_path / "out")) == len(lines)
