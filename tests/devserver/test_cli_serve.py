"""``bgassets serve`` as a real subprocess: the URL line, serving, signals and clear errors."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from orchestrator.devserver import FAULT_NAMES

URL_LINE = re.compile(r"^bgassets serve: serving (?P<dir>.+) at (?P<url>http://127\.0\.0\.1:"
                      r"(?P<port>\d+)/) \(Ctrl-C to stop\)")


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "orchestrator", "serve", *args]


@contextmanager
def serving(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start ``bgassets serve``, wait for its URL line, yield (process, url), stop it."""
    process = subprocess.Popen(_command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = URL_LINE.match(line)
        assert match, f"unexpected first line {line!r}; stderr: {process.stderr.read()}"  # type: ignore[union-attr]
        yield process, match["url"]
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_command(*args), capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_serve_prints_its_url_serves_files_and_stops_cleanly(
        tmp_path: Path, stop_signal: signal.Signals) -> None:
    (tmp_path / "asset.bin").write_bytes(b"0123456789" * 1000)
    with serving(str(tmp_path), "--port", "0") as (process, url):
        request = urllib.request.Request(url + "asset.bin", headers={"Range": "bytes=5-14"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 206 and response.read() == b"5678901234"
        process.send_signal(stop_signal)
        assert process.wait(timeout=10) == 0
        assert "Traceback" not in process.stderr.read()  # type: ignore[union-attr]


def test_serve_applies_faults_and_rate_from_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "asset.bin").write_bytes(b"x" * 4096)
    with serving(str(tmp_path), "--port", "0", "--fault", "503", "--rate-per-connection",
                 "20MiB", "--seed", "3") as (process, url):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url + "asset.bin", timeout=5)
        assert refused.value.code == 503 and refused.value.headers["Retry-After"] == "1"
        with urllib.request.urlopen(url + "asset.bin", timeout=5) as response:
            assert response.read() == b"x" * 4096
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_verbose_prints_one_line_per_request(tmp_path: Path) -> None:
    (tmp_path / "asset.bin").write_bytes(b"abc")
    with serving(str(tmp_path), "--port", "0", "--verbose") as (process, url):
        with urllib.request.urlopen(url + "asset.bin", timeout=5) as response:
            assert response.read() == b"abc"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        log = process.stderr.read()  # type: ignore[union-attr]
    assert '"GET /asset.bin" 200 3' in log


def test_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = _run(str(tmp_path / "nowhere"), "--port", "0")
    assert result.returncode == 2
    assert "nowhere: no such folder to serve" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_fault_is_a_usage_error_listing_the_names(tmp_path: Path) -> None:
    result = _run(str(tmp_path), "--port", "0", "--fault", "meltdown")
    assert result.returncode == 2
    assert "unknown fault 'meltdown'" in result.stderr
    assert ", ".join(FAULT_NAMES) in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_rate_is_a_usage_error(tmp_path: Path) -> None:
    result = _run(str(tmp_path), "--port", "0", "--rate-per-connection", "fast")
    assert result.returncode == 2
    assert "--rate-per-connection" in result.stderr and "Traceback" not in result.stderr


def test_taken_port_is_a_clear_failure(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run(str(tmp_path), "--port", str(port))
    assert result.returncode == 1
    assert f"127.0.0.1 port {port} is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_explains_every_fault() -> None:
    result = _run("--help")
    assert result.returncode == 0
    for name in FAULT_NAMES:
        assert re.search(rf"^  {re.escape(name)} ", result.stdout, re.MULTILINE), name
    assert "once" in result.stdout and "--seed" in result.stdout


def test_a_bearer_token_file_makes_every_request_need_the_token(tmp_path: Path) -> None:
    content = tmp_path / "content"
    content.mkdir()
    (content / "asset.bin").write_bytes(b"locked")
    (tmp_path / "token").write_text("s3cret-token\n")
    with serving(str(content), "--port", "0", "--bearer-token-file",
                 str(tmp_path / "token")) as (process, url):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url + "asset.bin", timeout=5)
        assert refused.value.code == 401
        assert refused.value.headers["WWW-Authenticate"] == 'Bearer realm="bgassets-serve"'
        request = urllib.request.Request(url + "asset.bin",
                                         headers={"Authorization": "Bearer s3cret-token"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.read() == b"locked"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    (tmp_path / "empty").write_text("\n")
    for token_file, message in ((tmp_path / "missing", "cannot read"),
                                (tmp_path / "empty", "is empty")):
        result = _run(str(content), "--bearer-token-file", str(token_file))
        assert result.returncode == 2 and message in result.stderr
        assert "Traceback" not in result.stderr
