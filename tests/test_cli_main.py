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


def test_every_command_shows_the_global_options_in_its_help():
    from orchestrator.cli.main import build_parser

    parser = build_parser()
    assert "--state-dir" in parser.format_help()
    commands = parser._subparsers._group_actions[0].choices
    for name, command in commands.items():
        assert "--state-dir DIR" in command.format_help(), name
    assert "--state-dir" in bgassets("status", "--help").stdout


def test_a_global_option_works_before_or_after_the_command(tmp_path):
    from orchestrator.cli.main import build_parser

    parser = build_parser()
    before = parser.parse_args(["--state-dir", str(tmp_path), "status"])
    after = parser.parse_args(["status", "--json", "--state-dir", str(tmp_path)])
    assert before.state_dir == after.state_dir == str(tmp_path)
    # Given before the command only, the command's copy of the option does not reset it.
    assert parser.parse_args(["--state-dir", "A", "downloads", "--json"]).state_dir == "A"
    assert parser.parse_args(["--state-dir", "A", "tui", "--state-dir", "B"]).state_dir == "B"
    assert parser.parse_args(["pause", "x"]).state_dir is None


def test_the_state_dir_after_the_command_is_the_one_used(tmp_path):
    (tmp_path / "plain-file").write_text("")
    used = tmp_path / "plain-file" / "state"
    result = bgassets("--state-dir", str(tmp_path / "fine"), "status", "--state-dir", str(used))
    assert result.returncode == 2 and f"--state-dir {used}:" in result.stderr
