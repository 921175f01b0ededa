"""The log of ``bgassets daemon``: one stderr line per notable event, readable by journald.

Under a service manager stderr is not a terminal, and systemd says it reads the stream by
setting ``JOURNAL_STREAM``; then each line starts with its syslog priority (``<6>`` info,
``<4>`` warning, ``<3>`` error, sd-daemon(3)), which the journal keeps as the entry's
priority instead of printing it. On a terminal the lines are plain. Progress is never
logged: the control API's event stream carries it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from enum import IntEnum
from types import MappingProxyType
from typing import Any, TextIO

from orchestrator.events import Event, EventKind


class Priority(IntEnum):
    """The syslog priorities the daemon logs at (RFC 5424 section 6.2.1)."""

    ERROR = 3
    WARNING = 4
    INFO = 6


NOTABLE: Mapping[EventKind, Priority] = MappingProxyType({
    EventKind.APP_INSTALLED: Priority.INFO,
    EventKind.APP_LAUNCHABLE: Priority.INFO,
    EventKind.APP_LAUNCHED: Priority.INFO,
    EventKind.APP_UNINSTALLED: Priority.INFO,
    EventKind.INSTALL_PAUSED: Priority.INFO,
    EventKind.INSTALL_RESUMED: Priority.INFO,
    EventKind.INSTALL_CANCELLED: Priority.INFO,
    EventKind.DOWNLOAD_FAILED: Priority.WARNING,
    EventKind.EXTENSION_TERMINATED: Priority.WARNING,
    EventKind.REQUEST_WAITING: Priority.WARNING,
})


def wants_priority_prefix(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Whether lines on ``stream`` start with their priority: when systemd announced the
    journal (``JOURNAL_STREAM``) or the stream is not a terminal (a service manager, a
    pipe or a file), so that priorities survive wherever the log is collected."""
    if environ.get("JOURNAL_STREAM"):
        return True
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return True


def _installed(d: Mapping[str, Any]) -> str:
    reason = f", {d['reason']}" if d.get("reason") else ""
    return f"version {d.get('version')} ({d.get('request')}{reason})"


def _failed(d: Mapping[str, Any]) -> str:
    return f"{d.get('download')}: error {d.get('code')} {d.get('name')}: {d.get('message')}"


def _install(d: Mapping[str, Any]) -> str:
    progress = d.get("progress")
    at = f" at {progress:.0%}" if isinstance(progress, int | float) else ""
    return f"{d.get('downloads')} download(s), install progress{at}"


def _terminated(d: Mapping[str, Any]) -> str:
    spent = d.get("spent")
    allotment = d.get("allotment")
    budget = f" after {spent:.1f} s of {allotment:.1f} s" \
        if isinstance(spent, int | float) and isinstance(allotment, int | float) else ""
    return f"{d.get('reason')}{budget}"


def _waiting(d: Mapping[str, Any]) -> str:
    error = f" (error {d['code']} {d.get('name')})" if d.get("code") is not None else ""
    return f"{d.get('request')}: {d.get('reason')}{error}"


_DETAILS: Mapping[EventKind, Callable[[Mapping[str, Any]], str]] = MappingProxyType({
    EventKind.APP_INSTALLED: _installed,
    EventKind.INSTALL_PAUSED: _install,
    EventKind.INSTALL_RESUMED: _install,
    EventKind.INSTALL_CANCELLED: _install,
    EventKind.DOWNLOAD_FAILED: _failed,
    EventKind.EXTENSION_TERMINATED: _terminated,
    EventKind.REQUEST_WAITING: _waiting,
})


def event_line(event: Event) -> tuple[Priority, str] | None:
    """The priority and text of ``event``'s log line, or None when it is not notable."""
    priority = NOTABLE.get(event.event)
    if priority is None:
        return None
    details = _DETAILS.get(event.event)
    text = f"{event.event} {event.app or '-'}"
    if details is not None:
        text += f": {details(event.data)}"
    return priority, text


class DaemonLog:
    """Writes the daemon's log lines to ``stream`` (stderr), one line per entry."""

    def __init__(self, stream: TextIO | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._prefixed = wants_priority_prefix(
            self._stream, environ if environ is not None else os.environ)
        self.started = False

    def write(self, priority: Priority, text: str) -> None:
        # One entry is one line: the journal would split a message at its newlines and
        # read only the first part's priority.
        line = " ".join(text.splitlines())
        self._stream.write(f"<{int(priority)}>{line}\n" if self._prefixed else f"{line}\n")
        self._stream.flush()

    def event(self, event: Event) -> None:
        """The bus subscriber: a line for each notable event, nothing for the others."""
        entry = event_line(event)
        if entry is not None:
            self.write(*entry)

    def start(self, text: str) -> None:
        """The start line: from here on, a failure of the daemon is logged as an error."""
        self.started = True
        self.info(text)

    def info(self, text: str) -> None:
        self.write(Priority.INFO, text)

    def error(self, text: str) -> None:
        self.write(Priority.ERROR, text)
