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
from dataclasses import dataclass
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
    log_format bgassets '{log_format}';
    {access_log}
    sendfile on;
    {sendfile_max_chunk}
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
        {auth}
    }}
}}
"""

# One access log line per request, written when nginx is done with it (for a client killed
# mid-body: when nginx notices). $msec is the time of that moment; $request_time how long
# the request had lasted, so a request's start is $msec - $request_time.
ACCESS_LOG_FORMAT = ('$msec $request_time $remote_port $connection $status $body_bytes_sent '
                     '"$request_uri" "$http_range"')


@dataclass(frozen=True)
class AccessRecord:
    """One request as nginx logged it with ``ACCESS_LOG_FORMAT``."""

    ended: float            # epoch seconds, when nginx logged it
    duration: float         # seconds
    client_port: int
    connection: int         # nginx's connection serial number
    status: int
    body_bytes_sent: int    # bytes nginx handed to the socket, not bytes the client read
    uri: str
    range: str              # the Range header, "-" when none

    @property
    def started(self) -> float:
        return self.ended - self.duration

    def requested(self, size: int) -> tuple[int, int]:
        """The byte range [start, end) this request asked for, in a file of ``size`` bytes.

        A single ``bytes=a-b`` / ``bytes=a-`` range; anything else counts as the whole
        file, which is what nginx serves for it with a 200.
        """
        if self.status == 206 and self.range.startswith("bytes=") and "," not in self.range:
            first, _, last = self.range.removeprefix("bytes=").partition("-")
            if first:
                return int(first), min(size, int(last) + 1) if last else size
            return max(0, size - int(last)), size  # a suffix range: the last N bytes
        return 0, size

    def served(self, size: int) -> tuple[int, int]:
        """The byte range [start, end) nginx actually sent (it sends a range in order)."""
        start, end = self.requested(size)
        return start, min(end, start + self.body_bytes_sent)


def read_access_log(path: Path) -> list[AccessRecord]:
    """The records of an access log written with ``ACCESS_LOG_FORMAT``, in log order."""
    records = []
    for line in Path(path).read_text().splitlines():
        head, _, quoted = line.partition(' "')
        uri, _, rest = quoted.partition('" "')
        ended, duration, port, connection, status, sent = head.split()
        records.append(AccessRecord(float(ended), float(duration), int(port), int(connection),
                                    int(status), int(sent), uri, rest.removesuffix('"')))
    return records


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_config(root: Path, workdir: Path, port: int, limit_rate: str | None,
                  access_log: Path | None, sendfile_max_chunk: str | None,
                  auth_basic: tuple[str, str] | None = None) -> Path:
    user = "user root;\n" if os.geteuid() == 0 else ""
    auth = ""
    if auth_basic is not None:
        users = workdir / "htpasswd"
        users.write_text(f"{auth_basic[0]}:{{PLAIN}}{auth_basic[1]}\n")
        auth = f'auth_basic "assets"; auth_basic_user_file {users};'

    rate = f"limit_rate {limit_rate};" if limit_rate else ""
    log = f"access_log {access_log.resolve()} bgassets;" if access_log else "access_log off;"
    chunk = f"sendfile_max_chunk {sendfile_max_chunk};" if sendfile_max_chunk else ""
    config = workdir / "nginx.conf"
    config.write_text(_CONFIG.format(user=user, work=workdir, port=port,
                                     root=root.resolve(), limit_rate=rate,
                                     log_format=ACCESS_LOG_FORMAT, access_log=log,
                                     sendfile_max_chunk=chunk, auth=auth))
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
def nginx_server(root: Path, workdir: Path, *, limit_rate: str | None = None,
                 access_log: Path | None = None,
                 sendfile_max_chunk: str | None = None,
                 auth_basic: tuple[str, str] | None = None) -> Iterator[str]:
    """Serve ``root`` with nginx on 127.0.0.1 and yield its base URL (``http://...:PORT/``).

    ``limit_rate`` is nginx's per-connection cap, e.g. ``"20m"``. ``access_log``, when
    given, gets one line per request in ``ACCESS_LOG_FORMAT`` (read it back with
    ``read_access_log``); without it nothing is logged. ``sendfile_max_chunk`` bounds what
    nginx hands a socket at once (2m by default). ``auth_basic`` (user, password) puts
    everything behind nginx's ``auth_basic``. A port taken between choosing and
    binding is retried on another port.
    """
    nginx = require_tool("nginx")
    root, workdir = Path(root).resolve(), Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    for _ in range(_ATTEMPTS):
        port = _free_port()
        config = _write_config(root, workdir, port, limit_rate, access_log,
                               sendfile_max_chunk, auth_basic)
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
