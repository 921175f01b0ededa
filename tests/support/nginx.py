"""Run a real nginx on loopback for integration tests and benchmarks.

The config is written to a temporary work folder; nginx runs in the
foreground (``daemon off``) as our child so that it always dies with the test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.tools import require_tool

_START_TIMEOUT = 5.0
_ATTEMPTS = 5

_CONFIG = """\
{user}daemon off;
master_process on;
worker_processes 2;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {work}/client_body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    types {{ application/octet-stream bin; application/json json; text/plain txt; }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        {limit_rate}
    }}
}}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_config(root: Path, workdir: Path, port: int, limit_rate: str | None) -> Path:
    user = "user root;\n" if os.geteuid() == 0 else ""
    rate = f"limit_rate {limit_rate};" if limit_rate else ""
    config = workdir / "nginx.conf"
    config.write_text(_CONFIG.format(user=user, work=workdir, port=port,
                                     root=root.resolve(), limit_rate=rate))
    return config


def _wait_for_port(process: subprocess.Popen[bytes], port: int) -> bool:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def nginx_server(root: Path, workdir: Path, *, limit_rate: str | None = None) -> Iterator[str]:
    """Serve ``root`` with nginx on 127.0.0.1 and yield its base URL (``http://...:PORT/``).

    ``limit_rate`` is nginx's per-connection cap, e.g. ``"20m"``. A port
    taken between choosing and binding is retried on another port.
    """
    nginx = require_tool("nginx")
    root, workdir = Path(root).resolve(), Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    for _ in range(_ATTEMPTS):
        port = _free_port()
        config = _write_config(root, workdir, port, limit_rate)
        with open(workdir / "stderr.log", "ab") as stderr:
            process = subprocess.Popen([nginx, "-c", str(config), "-p", str(workdir), "-e",
                                        str(workdir / "error.log")],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=stderr)
        if _wait_for_port(process, port):
            break
        _stop(process)
    else:
        detail = "".join(log.read_text(errors="replace")[-1000:]
                         for log in (workdir / "error.log", workdir / "stderr.log")
                         if log.exists())
        raise RuntimeError(f"nginx did not start on 127.0.0.1 in {_ATTEMPTS} attempts: {detail}")
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        _stop(process)
