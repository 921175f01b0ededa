"""The `bgassets` entry point: help, usage errors and `python -m orchestrator`."""

import subprocess
import sys


def bgassets(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        capture_output=True, text=True, timeout=60,
    )


def test_help_lists_the_commands():
    result = bgassets("--help")
    assert result.returncode == 0
    for command in ("validate", "serve", "fetch"):
        assert command in result.stdout


def test_no_command_is_a_usage_error():
    result = bgassets()
    assert result.returncode == 2
    assert "usage" in result.stdout


def test_unknown_command_is_a_usage_error_without_traceback():
    result = bgassets("frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
    assert "Traceback" not in result.stderr
