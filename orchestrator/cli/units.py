"""Service definitions that run ``bgassets daemon`` under the user's service manager.

A systemd user unit and a launchd agent, built from the running installation (its
executable, its absolute state dir) rather than from a source checkout, so a wheel in
any virtual environment prints a unit that works.
"""

from __future__ import annotations

import os
import plistlib
import re
import sys
from collections.abc import Sequence
from pathlib import Path

LAUNCHD_LABEL = "dev.bgassets.daemon"
SYSTEMD_UNIT_NAME = "bgassets.service"
SERVICE_MANAGERS = ("systemd", "launchd")

# Exit 2 is a usage error: restarting cannot fix it (see ``orchestrator.cli.main``).
EXIT_USAGE = 2
RESTART_DELAY_SECONDS = 5


def bgassets_command() -> list[str]:
    """The absolute command that starts this installation's ``bgassets``.

    The script that is running when it is one (``sys.argv[0]``); else the ``bgassets``
    script next to this interpreter (same virtual environment); else this interpreter
    with ``-m orchestrator``, as ``python -m orchestrator`` was run. Symlinks are kept: a
    venv's ``python`` resolved would be the base interpreter, without the package.
    """
    script = Path(sys.argv[0]).absolute() if sys.argv and sys.argv[0] else None
    if script is not None and script.suffix != ".py" and _is_executable(script):
        return [str(script)]
    interpreter = Path(sys.executable).absolute()
    sibling = interpreter.parent / "bgassets"
    if _is_executable(sibling):
        return [str(sibling)]
    return [str(interpreter), "-m", "orchestrator"]


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def systemd_user_unit(argv: Sequence[str], state_dir: str) -> str:
    """A systemd user unit (``~/.config/systemd/user/bgassets.service``) running ``argv``.

    Type ``simple``: the daemon stays in the foreground and stops cleanly on SIGTERM, the
    signal ``systemctl stop`` sends. Its stdout and stderr go to the journal, which reads
    the syslog priority that starts each of the daemon's log lines.
    """
    return f"""\
[Unit]
Description=bgassets daemon (Background Assets orchestrator, state dir {_unit_text(state_dir)})

[Service]
Type=simple
ExecStart={" ".join(_exec_word(word) for word in argv)}
Restart=on-failure
RestartSec={RESTART_DELAY_SECONDS}
RestartPreventExitStatus={EXIT_USAGE}
TimeoutStopSec=30
StandardOutput=journal
StandardError=journal
SyslogIdentifier=bgassets

[Install]
WantedBy=default.target
"""


_EXEC_PLAIN = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")


def _exec_word(word: str) -> str:
    """``word`` as one argument of ``ExecStart=`` (systemd.service, "Command lines").

    ``%`` starts a specifier and ``$`` a variable, so both are doubled; a word with
    anything beyond plain path characters is double-quoted with C-style escapes.
    """
    escaped = _unit_text(word)
    if _EXEC_PLAIN.fullmatch(word):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unit_text(text: str) -> str:
    """``text`` where specifiers and variables would be expanded: ``%`` and ``$`` doubled."""
    return text.replace("%", "%%").replace("$", "$$").replace("\n", " ")


def launchd_agent_plist(argv: Sequence[str], log_file: Path) -> str:
    """A launchd agent (``~/Library/LaunchAgents/dev.bgassets.daemon.plist``) running ``argv``.

    launchd starts it at login (``RunAtLoad``) and again whenever it exits with a failure
    (``KeepAlive``/``SuccessfulExit`` false); it discards output unless told where to put
    it, so stdout and stderr go to ``log_file``.
    """
    agent = {
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": list(argv),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": RESTART_DELAY_SECONDS,
        "ProcessType": "Standard",
        "StandardOutPath": str(log_file),
        "StandardErrorPath": str(log_file),
    }
    return plistlib.dumps(agent, sort_keys=False).decode()


def launchd_log_file() -> Path:
    """Where the agent's output goes: ``~/Library/Logs`` exists on every Mac account, and
    launchd does not create missing folders."""
    return Path.home() / "Library" / "Logs" / "bgassets-daemon.log"


def service_definition(manager: str, daemon_arguments: Sequence[str], state_dir: str) -> str:
    """The text of the service definition for ``manager`` (one of ``SERVICE_MANAGERS``)
    that runs ``bgassets daemon DAEMON_ARGUMENTS`` on ``state_dir`` (absolute)."""
    argv = [*bgassets_command(), "daemon", "--state-dir", state_dir, *daemon_arguments]
    if manager == "systemd":
        return systemd_user_unit(argv, state_dir)
    if manager == "launchd":
        return launchd_agent_plist(argv, launchd_log_file())
    raise ValueError(f"unknown service manager {manager!r}; one of {SERVICE_MANAGERS}")
