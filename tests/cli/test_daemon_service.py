"""`bgassets daemon` as a per-user service: the units it prints, and the log it writes.

The units come from real `bgassets` processes and are checked as the service managers
read them (systemd-analyze when it is installed, plistlib for launchd). The log comes
from a real daemon installing an app served on 127.0.0.1, its stderr a pipe or a
terminal as a service manager or a person would give it.
"""

import os
import plistlib
import pty
import re
import select
import shlex
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from orchestrator.cli.daemon_log import wants_priority_prefix
from orchestrator.cli.units import LAUNCHD_LABEL, systemd_user_unit
from orchestrator.devserver.thread import serve_in_thread
from tests.control.daemon_apps import Asset, KiB, write_app, write_content

pytestmark = pytest.mark.timeout(90)

GAME = "com.example.game"
VENV_BGASSETS = Path(sys.executable).parent / "bgassets"


def bgassets(*args, executable=None):
    command = [str(executable)] if executable else [sys.executable, "-m", "orchestrator"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=60)


def service_env(**extra):
    """The test's environment without the journal's variable (pytest may itself run under
    systemd), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
    return {**env, **extra}


def exec_start(unit):
    line = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart=").replace("%%", "%").replace("$$", "$"))


# The units


@pytest.mark.parametrize("executable", [None, VENV_BGASSETS],
                         ids=["python -m orchestrator", "venv script"])
def test_the_systemd_unit_runs_this_installation_on_the_absolute_state_dir(
        tmp_path, monkeypatch, executable):
    if executable is not None and not executable.exists():
        pytest.skip("no bgassets script next to this interpreter")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "state dir").mkdir()
    result = bgassets("daemon", "--print-unit", "systemd", "--state-dir", "state dir",
                      executable=executable)
    assert result.returncode == 0, result.stderr
    unit = result.stdout
    argv = exec_start(unit)
    assert Path(argv[0]).is_absolute() and os.access(argv[0], os.X_OK), argv
    assert argv[argv.index("--state-dir") + 1] == str(tmp_path / "state dir")
    assert "daemon" in argv
    assert "Restart=on-failure" in unit.splitlines()
    assert "WantedBy=default.target" in unit.splitlines()
    assert str(Path(__file__).resolve().parents[2]) not in unit.replace(sys.prefix, "")


def test_the_systemd_unit_repeats_dir_and_device_as_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "apps").mkdir()
    (tmp_path / "device.yaml").write_text("kind: Device\n")
    result = bgassets("daemon", "apps", "--device", "device.yaml", "--print-unit", "systemd",
                      "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 0, result.stderr
    argv = exec_start(result.stdout)
    assert str(tmp_path / "apps") in argv
    assert argv[argv.index("--device") + 1] == str(tmp_path / "device.yaml")


def test_systemd_analyze_accepts_the_unit(tmp_path):
    analyze = subprocess.run(["which", "systemd-analyze"], capture_output=True, text=True)
    if analyze.returncode != 0:
        pytest.skip("systemd-analyze is not installed")
    state = tmp_path / "state 100%"
    result = bgassets("daemon", "--print-unit", "systemd", "--state-dir", str(state))
    assert result.returncode == 0, result.stderr
    unit = tmp_path / "bgassets.service"
    unit.write_text(result.stdout)
    # The system manager's view: a container or CI runner seldom has a user manager.
    verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                            text=True, timeout=60)
    if "Failed to initialize manager" in verify.stderr:
        pytest.skip(f"systemd-analyze cannot run here: {verify.stderr.strip()}")
    assert verify.returncode == 0, verify.stderr
    assert "bgassets.service" not in verify.stderr, verify.stderr  # no warning about it


def test_exec_start_quotes_what_systemd_would_split_or_expand():
    unit = systemd_user_unit(["/opt/bg assets/bin/bgassets", "daemon", "--state-dir",
                              '/srv/a "b" $HOME %h'], "/srv/x")
    assert exec_start(unit) == ["/opt/bg assets/bin/bgassets", "daemon", "--state-dir",
                                '/srv/a "b" $HOME %h']
    assert "$$HOME %%h" in unit


def test_the_launchd_agent_is_a_plist_that_runs_this_installation(tmp_path):
    result = bgassets("daemon", "--print-unit", "launchd", "--state-dir", str(tmp_path / "s"))
    assert result.returncode == 0, result.stderr
    agent = plistlib.loads(result.stdout.encode())
    arguments = agent["ProgramArguments"]
    assert agent["Label"] == LAUNCHD_LABEL
    assert Path(arguments[0]).is_absolute() and os.access(arguments[0], os.X_OK)
    assert "daemon" in arguments
    assert arguments[arguments.index("--state-dir") + 1] == str(tmp_path / "s")
    assert agent["KeepAlive"] == {"SuccessfulExit": False} and agent["RunAtLoad"] is True
    assert agent["StandardErrorPath"] == agent["StandardOutPath"]
    assert Path(agent["StandardErrorPath"]).is_absolute()


def test_another_service_manager_is_a_usage_error(tmp_path):
    result = bgassets("daemon", "--print-unit", "upstart", "--state-dir", str(tmp_path))
    assert result.returncode == 2
    assert "invalid choice" in result.stderr and result.stdout == ""


def test_daemon_help_explains_print_unit():
    result = bgassets("daemon", "--help")
    assert result.returncode == 0
    assert "--print-unit" in result.stdout and "launchd" in result.stdout


# The log


@pytest.fixture
def apps(tmp_path):
    """A folder with one app whose catalog is served on 127.0.0.1; one of its assets is
    missing from the server, so its download fails."""
    content = tmp_path / "content" / "game"
    write_content(content, [Asset("tutorial", 32 * KiB, essential=True),
                            Asset("extra", 16 * KiB)])
    (content / "extra.bin").unlink()
    with serve_in_thread(tmp_path / "content") as server:
        write_app(tmp_path / "apps" / "game", "game", f"{server.url}game/catalog.json")
        yield tmp_path / "apps"


class Lines:
    """The lines a daemon writes on one stream, read by a thread as they come."""

    def __init__(self, read_line):
        self.lines: list[str] = []
        self._read_line = read_line
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        while line := self._read_line():
            self.lines.append(line.rstrip("\r\n"))

    def wait_for(self, pattern, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in self.lines if re.search(pattern, line)]
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r} within {timeout:g} s: {self.lines}")


@contextmanager
def daemon(state, directory, env, stderr=subprocess.PIPE):
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "daemon", str(directory), "--state-dir",
         str(state)], stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def stop(process):
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=10)


def test_under_the_journal_every_notable_line_carries_its_priority(tmp_path, apps):
    with daemon(tmp_path / "state", apps, service_env(JOURNAL_STREAM="1:1")) as process:
        assert "listening on" in process.stdout.readline()
        log = Lines(process.stderr.readline)
        assert log.wait_for(r"daemon\.started").startswith("<6>daemon.started: listening on ")
        assert log.wait_for(r"app\.installed") == \
            f"<6>app.installed {GAME}: version 1.0 (install)"
        assert log.wait_for(r"app\.launchable") == f"<6>app.launchable {GAME}"
        assert log.wait_for(r"download\.failed").startswith(
            f"<4>download.failed {GAME}: extra: error ")
        assert stop(process) == 0
        log._thread.join(timeout=10)
        assert not log._thread.is_alive(), "the daemon's stderr never ended"
    assert log.lines[-1] == "<6>daemon.stopped: pending downloads resume next time"
    assert all(re.match(r"<[346]>\S", line) for line in log.lines), log.lines
    assert not any("progress" in line for line in log.lines), log.lines


def test_a_pipe_without_the_journal_gets_priorities_too(tmp_path, apps):
    """Not a terminal: the reader is a program (a supervisor, a log file, grep), and the
    priorities let it tell warnings from the rest."""
    with daemon(tmp_path / "state", apps, service_env()) as process:
        assert "listening on" in process.stdout.readline()
        log = Lines(process.stderr.readline)
        assert log.wait_for(r"app\.launchable") == f"<6>app.launchable {GAME}"
        assert stop(process) == 0


def test_a_terminal_gets_plain_lines(tmp_path, apps):
    leader, follower = pty.openpty()
    try:
        with daemon(tmp_path / "state", apps, service_env(), stderr=follower) as process:
            os.close(follower)
            follower = -1
            assert "listening on" in process.stdout.readline()
            log = Lines(_pty_line_reader(leader))
            assert log.wait_for(r"app\.launchable") == f"app.launchable {GAME}"
            assert log.wait_for(r"download\.failed").startswith("download.failed ")
            assert stop(process) == 0
            log.wait_for(r"daemon\.stopped", timeout=10)
        assert not any(line.startswith("<") for line in log.lines), log.lines
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)


def _pty_line_reader(fd):
    """``readline`` on a pty's leader side: '' once the other side is closed."""
    buffer = b""

    def read_line():
        nonlocal buffer
        while b"\n" not in buffer:
            ready, _, _ = select.select([fd], [], [], 30)
            if not ready:
                return ""
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the daemon closed its side
                chunk = b""
            if not chunk:
                line, buffer = buffer, b""
                return line.decode(errors="replace")
            buffer += chunk
        line, _, buffer = buffer.partition(b"\n")
        return line.decode(errors="replace") + "\n"

    return read_line


def test_the_prefix_follows_the_journal_variable_then_the_terminal():
    class Stream:
        def __init__(self, tty):
            self.tty = tty

        def isatty(self):
            return self.tty

    assert wants_priority_prefix(Stream(tty=True), {"JOURNAL_STREAM": "8:1234"})
    assert wants_priority_prefix(Stream(tty=False), {})
    assert not wants_priority_prefix(Stream(tty=True), {})
