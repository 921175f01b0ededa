"""An unusable state dir is one line and exit code 2 for every command that uses it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.cli.state_dir import StateDirAccess, check_state_dir
from orchestrator.errors import ErrorCode, StateDirUnusable

# Commands that run an orchestrator on the state dir, and commands that talk to its daemon.
WRITERS = [("daemon",), ("run", "--headless", "--no-server"),
           ("simulate", "install", "APP")]
READERS = [("status",), ("downloads",), ("tui",), ("purge",), ("launch", "com.example.game"),
           ("promote", "movie")]


def bgassets(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orchestrator", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})


@pytest.fixture
def file_in_the_way(tmp_path) -> Path:
    (tmp_path / "plain-file").write_text("not a folder")
    return tmp_path / "plain-file" / "state"


def _command(words: tuple[str, ...], app: Path) -> list[str]:
    return [str(app) if word == "APP" else word for word in words]


@pytest.mark.parametrize("words", WRITERS + READERS, ids=lambda words: words[0])
def test_a_file_in_the_path_is_one_line_and_exit_2(file_in_the_way, tmp_path, words):
    app = tmp_path / "app.yaml"
    app.write_text("kind: App\n")
    result = bgassets("--state-dir", str(file_in_the_way), *_command(words, app))
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"bgassets {words[0]}: --state-dir {file_in_the_way}: ")
    assert f"{file_in_the_way.parent} is a file, not a folder" in result.stderr
    assert not file_in_the_way.parent.is_dir()


@pytest.mark.parametrize("words", WRITERS, ids=lambda words: words[0])
@pytest.mark.parametrize("where", ["/proc/bgassets-state", "/proc"])
def test_a_virtual_file_system_is_refused_for_commands_that_write(tmp_path, words, where):
    app = tmp_path / "app.yaml"
    app.write_text("kind: App\n")
    result = bgassets(*_command(words, app), "--state-dir", where)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"--state-dir {where}: cannot" in result.stderr


def test_the_environment_variable_is_named_when_it_is_the_source(file_in_the_way):
    result = bgassets("daemon", env={"BGASSETS_STATE_DIR": str(file_in_the_way)})
    assert result.returncode == 2
    assert result.stderr.startswith(f"bgassets daemon: BGASSETS_STATE_DIR {file_in_the_way}: ")


def test_the_state_dir_itself_being_a_file_is_named(tmp_path):
    plain = tmp_path / "state"
    plain.write_text("")
    with pytest.raises(StateDirUnusable, match="is the state dir itself") as refused:
        check_state_dir(plain, StateDirAccess.READ)
    assert refused.value.code == ErrorCode.STATE_DIR_UNUSABLE
    assert refused.value.code.title == "stateDirUnusable"


def test_readers_accept_a_state_dir_that_does_not_exist_yet(tmp_path):
    check_state_dir(tmp_path / "not" / "yet", StateDirAccess.READ)
    assert not (tmp_path / "not").exists()


def test_writers_create_the_folder_and_leave_no_probe_behind(tmp_path):
    check_state_dir(tmp_path / "new" / "state", StateDirAccess.WRITE)
    assert (tmp_path / "new" / "state").is_dir()
    assert list((tmp_path / "new" / "state").iterdir()) == []


def test_sysfs_refuses_writes_even_to_root():
    with pytest.raises(StateDirUnusable, match="cannot create this folder"):
        check_state_dir("/sys/bgassets-state", StateDirAccess.WRITE)


def test_other_commands_ignore_the_state_dir(file_in_the_way, tmp_path):
    assert bgassets("--state-dir", str(file_in_the_way), "validate", "--help").returncode == 0
    missing = bgassets("--state-dir", str(file_in_the_way), "validate", str(tmp_path / "x"))
    assert "is a file, not a folder" not in missing.stderr
