"""``bgassets run`` on a real terminal (a pty): the Textual app installs the apps; q exits 0."""

from __future__ import annotations

import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.support.ports import free_port
from tests.tui.scenario import APPS, short, write_content, write_manifests

ROOT = Path(__file__).resolve().parents[2]


def demo_folder(root: Path, port: int) -> Path:
    """The scenario's apps as ``bgassets run DIR`` serves them: manifests beside the
    catalog and the asset files."""
    write_manifests(root, f"http://127.0.0.1:{port}/")
    content = write_content(root)
    for app_id in APPS:
        shutil.copytree(content / short(app_id), root / "manifests" / short(app_id),
                        dirs_exist_ok=True)
    return root / "manifests"


def read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    seen, deadline = b"", time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
    return seen


def start_run(tmp_path: Path, folder: Path, port: int) -> tuple[subprocess.Popen, int]:
    """``bgassets run`` with a pty as its terminal; returns the process and the pty's end."""
    controller, terminal = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "180", "LINES": "40"}
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "--state-dir", str(tmp_path / "state"), "run",
         str(folder), "--port", str(port), "--rate-per-connection", "0"],
        stdin=terminal, stdout=terminal, stderr=terminal, cwd=ROOT, env=env,
        start_new_session=True)
    os.close(terminal)
    return process, controller


def test_run_shows_the_apps_and_quits_with_zero(tmp_path):
    port = free_port()
    process, controller = start_run(tmp_path, demo_folder(tmp_path, port), port)
    try:
        screen = read_until(controller, b"launchable", timeout=30)
        assert b"com.example.game" in screen and b"launchable" in screen
        os.write(controller, b"q")
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        os.close(controller)


def test_a_taken_port_ends_the_app_with_a_message_and_exit_one(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process, controller = start_run(tmp_path, demo_folder(tmp_path, port), port)
        try:
            assert process.wait(timeout=20) == 1
            output = read_until(controller, b"in use", timeout=5)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            os.close(controller)
    assert f"port {port} is already in use".encode() in output
    assert b"Traceback" not in output
