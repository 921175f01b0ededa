"""Run an extension's handler entry point in its own process, under runtime and memory budgets.

One process per call, as in the framework: in-memory state never survives
between calls. The process runs in its own session so that killing its
process group also ends whatever it started. Runtime is wall-clock time from
the child's ``started`` line (its interpreter is ready; importing the
handler module is user code and counts) to its answer, as the framework
counts from an entry point's call to its return; a child that never says
``started`` is timed from spawn. The memory limit is set by the child itself
(RLIMIT_DATA over its baseline) and watched from here on ``RssAnon +
RssShmem`` as a backstop, since shared mappings escape RLIMIT_DATA.
docs/handlers.md documents the protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import orchestrator
from orchestrator.clock import SYSTEM_CLOCK, Clock
from orchestrator.errors import BackgroundAssetsError, HandlerAnswerError
from orchestrator.model.auth import Challenge, ChallengeAnswer
from orchestrator.model.download import Download
from orchestrator.model.enums import ContentRequest
from orchestrator.model.extension import DEFAULT_MEMORY_LIMIT, Extension
from orchestrator.model.pack import AssetPack
from orchestrator.model.plan import AppExtensionInfo
from orchestrator.service.handler_answers import (
    challenge_call,
    downloads_call,
    failed_call,
    finished_call,
    parse_challenge_answer,
    parse_decisions,
    parse_downloads,
    should_download_call,
)

__all__ = ["HandlerAnswerError", "HandlerOutcome", "HandlerRunner", "call_handler",
           "downloads_call", "failed_call", "finished_call", "parse_downloads"]

log = logging.getLogger("bgassets.handler")
T = TypeVar("T")

POLL = 0.05
MAX_LINE = 64 * 2**20
STDERR_TAIL = 50
STDERR_LOGGED = 200
STARTUP_LIMIT = 30.0
PROJECT_ROOT = str(Path(orchestrator.__file__).resolve().parent.parent)
CHILD = ("-P", "-m", "orchestrator.service.handler_child")
# Handlers are the app author's code: they get the locale and paths, not the
# orchestrator's credentials or proxies.
PASSED_ENV = frozenset({"PATH", "HOME", "LANG", "TZ", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV"})


@dataclass(frozen=True)
class HandlerOutcome:
    """How one entry point call ended.

    ``answer`` is the handler's answer object when it answered ``ok``;
    ``terminated`` says why it did not: ``"runtime budget"``, ``"memory
    limit"``, ``"crashed: ..."`` or ``"bad answer: ..."``. ``runtime`` is the
    wall-clock seconds the call cost; ``lock_seconds`` the part of it spent
    holding exclusive control (already inside ``runtime``).
    """

    answer: dict[str, Any] | None
    runtime: float
    terminated: str | None = None
    lock_seconds: float = 0.0
    stderr: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.terminated is None and self.answer is not None


@dataclass(frozen=True)
class HandlerRunner:
    """The three entry points of one extension's handler, as the orchestrator calls them.

    ``base_dir`` is the Extension manifest's folder. ``budget`` is the app's
    remaining runtime in seconds (None when the allotment is bypassed). Every
    method returns the validated downloads (if any) with the outcome; an
    answer with invalid downloads becomes ``terminated="bad answer: ..."``
    and no downloads, so nothing half-checked is ever scheduled.
    """

    extension: Extension
    base_dir: Path
    state_dir: Path
    container: Path
    clock: Clock = SYSTEM_CLOCK  # a call is work that virtual time does not jump over

    async def downloads(self, request: ContentRequest, catalog_path: Path,
                        info: AppExtensionInfo, *, budget: float | None,
                        catalog_url: str | None = None) -> tuple[list[Download], HandlerOutcome]:
        """``downloads(for:manifestURL:extensionInfo:)``."""
        call = downloads_call(request, catalog_path, info, self.extension.app_group,
                              self.container, catalog_url=catalog_url)
        return self._parsed(await self._call(call, budget), self._downloads, [])

    async def finished(self, download: Download, path: Path, *,
                       budget: float | None) -> HandlerOutcome:
        """Hand ``path`` over; the caller deletes it afterwards if it is still there."""
        return await self._call(finished_call(download, path, self.container), budget)

    async def failed(self, download: Download, error: BackgroundAssetsError, *,
                     budget: float | None) -> tuple[list[Download], HandlerOutcome]:
        """Report a failure; the answer is the downloads to schedule again."""
        call = failed_call(download, error, self.container)
        return self._parsed(await self._call(call, budget), self._downloads, [])

    async def should_download(self, packs: list[AssetPack], *, budget: float | None
                              ) -> tuple[list[bool] | None, HandlerOutcome]:
        """``shouldDownload(_:)`` for each pack, in one process; None when it failed."""
        outcome = await self._call(should_download_call(packs, self.extension.app_group,
                                                        self.container), budget)
        return self._parsed(outcome, lambda answer: parse_decisions(answer, len(packs)), None)

    async def challenge(self, download: Download, challenge: Challenge, *,
                        budget: float | None) -> tuple[ChallengeAnswer, HandlerOutcome]:
        """``backgroundDownload(_:didReceive:)``: a credential, cancel or None."""
        outcome = await self._call(challenge_call(download, challenge, self.container), budget)
        return self._parsed(outcome, parse_challenge_answer, None)

    async def _call(self, call: Mapping[str, Any], budget: float | None) -> HandlerOutcome:
        assert self.extension.handler is not None, "the extension has no handler"
        with self.clock.busy():
            return await call_handler(self.extension.handler, self.base_dir, call,
                                      runtime_budget=budget,
                                      memory_limit=self.extension.memory_limit,
                                      state_dir=self.state_dir)

    def _downloads(self, answer: Mapping[str, Any] | None) -> list[Download]:
        return parse_downloads(answer, self.extension.app_group)

    def _parsed(self, outcome: HandlerOutcome, parse: Callable[[Mapping[str, Any] | None], T],
                empty: T) -> tuple[T, HandlerOutcome]:
        """The answer read by ``parse``, or ``empty`` for a call that did not answer or
        answered what ``parse`` refuses (the outcome then says ``bad answer`` why)."""
        if not outcome.ok:
            return empty, outcome
        try:
            return parse(outcome.answer), outcome
        except HandlerAnswerError as error:
            log.warning("%s: %s", self.extension.handler, error.message)
            return empty, replace(outcome, answer=None, terminated=error.message)


@dataclass
class _Call:
    """What one running call has said so far."""

    name: str
    began: float
    from_spawn: bool = False
    baseline: int | None = None
    started: dict[str, Any] | None = None
    started_at: float | None = None
    answer: dict[str, Any] | None = None
    bad: str | None = None
    stderr: deque[str] = field(default_factory=lambda: deque(maxlen=STDERR_TAIL))
    stderr_lines: int = 0
    announced: asyncio.Event = field(default_factory=asyncio.Event)

    def deadline(self, budget: float | None) -> tuple[float | None, str]:
        """When the call must end, and what to call it then.

        The budget counts from ``started``; before it only our own start-up
        runs, which the app is not charged for but which may not hang. A
        program that never says ``started`` is timed from spawn.
        """
        if self.started_at is not None or self.from_spawn:
            base = self.started_at if self.started_at is not None else self.began
            return (None if budget is None else base + budget), "runtime budget"
        return self.began + STARTUP_LIMIT, f"crashed: did not start within {STARTUP_LIMIT:.0f} s"

    def runtime(self) -> float:
        """Seconds to charge: from ``started`` (or spawn); our own start-up costs nothing."""
        if self.started_at is not None:
            return time.monotonic() - self.started_at
        return time.monotonic() - self.began if self.from_spawn else 0.0


async def call_handler(handler: str, base_dir: Path, call: Mapping[str, Any], *,
                       runtime_budget: float | None,
                       memory_limit: int = DEFAULT_MEMORY_LIMIT,
                       state_dir: Path | None = None,
                       env: Mapping[str, str] | None = None,
                       command: Sequence[str] | None = None) -> HandlerOutcome:
    """Run one entry point of ``handler`` (``module:Class``) and say how it ended.

    ``call`` comes from :func:`downloads_call`, :func:`finished_call` or
    :func:`failed_call`. ``command`` replaces the Python child, for handlers
    written in another language. Never raises for anything the handler does;
    cancelling the caller kills the handler.
    """
    # The child runs in ``base_dir``: a path relative to our working directory means
    # nothing there.
    base_dir = Path(base_dir).absolute()
    state_dir = Path(state_dir).absolute() if state_dir is not None else None
    request = {"protocol": 1, **call, "handler": handler, "baseDir": str(base_dir),
               "stateDir": str(state_dir) if state_dir else None, "memoryLimit": memory_limit}
    began = time.monotonic()
    try:
        process = await _spawn(base_dir, state_dir, env, command)
    except OSError as error:
        return HandlerOutcome(None, 0.0, f"crashed: could not start the handler: {error}")
    # Our child reports its footprint; another program is measured from zero.
    state = _Call(f"{handler} {call.get('entry', '?')}()", began,
                  from_spawn=command is not None, baseline=None if command is None else 0)
    stopped: str | None = None
    try:
        stopped = await _supervise(process, state, json.dumps(request).encode(),
                                   runtime_budget, memory_limit)
    finally:
        _kill_group(process.pid)
        await process.wait()
    return _outcome(state, process.returncode, stopped, state.runtime())


async def _spawn(base_dir: Path, state_dir: Path | None, env: Mapping[str, str] | None,
                 command: Sequence[str] | None) -> asyncio.subprocess.Process:
    environment = {key: value for key, value in os.environ.items()
                   if key in PASSED_ENV or key.startswith("LC_")}
    path = environment.get("PYTHONPATH")
    environment["PYTHONPATH"] = PROJECT_ROOT + (os.pathsep + path if path else "")
    if state_dir is not None:
        environment["BGASSETS_STATE_DIR"] = str(state_dir)
    environment.update(env or {})
    argv = list(command) if command else [sys.executable, *CHILD]
    return await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, cwd=base_dir, env=environment,
        start_new_session=True, limit=MAX_LINE)


async def _supervise(process: asyncio.subprocess.Process, state: _Call, request: bytes,
                     budget: float | None, memory_limit: int) -> str | None:
    """Feed the request and wait for the end; the budget or limit that stopped it, if any."""
    assert process.stdin and process.stdout and process.stderr
    # Fed by a task: a child that never reads must not hold us past its budget.
    feeder = asyncio.create_task(_feed(process.stdin, request))
    drain = asyncio.create_task(_drain_stderr(process.stderr, state))
    reader = asyncio.create_task(_read_answer(process.stdout, state))
    watcher = asyncio.create_task(_watch_memory(process.pid, state, memory_limit))
    exited = asyncio.create_task(process.wait())
    try:
        return await _first_end(state, exited, reader, watcher, budget)
    finally:
        _kill_group(process.pid)
        for task in (feeder, reader, watcher, exited):
            task.cancel()
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(drain, 1.0)


async def _feed(stdin: asyncio.StreamWriter, request: bytes) -> None:
    with contextlib.suppress(ConnectionError):
        stdin.write(request)
        await stdin.drain()
        stdin.close()


async def _first_end(state: _Call, exited: asyncio.Task[int], reader: asyncio.Task[None],
                     watcher: asyncio.Task[bool], budget: float | None) -> str | None:
    announced = asyncio.create_task(state.announced.wait())
    pending: set[asyncio.Task[Any]] = {exited, reader, watcher, announced}
    try:
        return await _until_end(state, pending, exited, reader, watcher, budget)
    finally:
        announced.cancel()


async def _until_end(state: _Call, pending: set[asyncio.Task[Any]], exited: asyncio.Task[int],
                     reader: asyncio.Task[None], watcher: asyncio.Task[bool],
                     budget: float | None) -> str | None:
    while True:
        deadline, _ = state.deadline(budget)
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        done, pending = await asyncio.wait(pending, timeout=timeout,
                                           return_when=asyncio.FIRST_COMPLETED)
        deadline, reason = state.deadline(budget)
        if not done and deadline is not None and time.monotonic() >= deadline:
            return reason
        if watcher in done and watcher.result():
            return "memory limit"
        if reader in done:
            # The answer is in (or the channel is garbage): give the exit a moment, no more.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(exited), 1.0)
            return None
        if exited in done:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(reader), 1.0)
            return None


async def _read_answer(stdout: asyncio.StreamReader, state: _Call) -> None:
    """Read the ``started`` line, then the one answer; anything else is a bad answer."""
    number = 0
    while state.answer is None and state.bad is None:
        try:
            line = await stdout.readline()
        except (ValueError, asyncio.LimitOverrunError):
            state.bad = f"a line on the protocol channel is longer than {MAX_LINE} bytes"
            return
        if not line:
            return
        number += 1
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict) or "status" not in message:
            excerpt = line[:80].decode(errors="replace").strip()
            state.bad = f"line {number} of the answer is not a JSON status object: {excerpt!r}"
        elif message["status"] == "started" and state.started is None:
            state.started, state.started_at = message, time.monotonic()
            state.announced.set()
        else:
            state.answer = message


async def _drain_stderr(stderr: asyncio.StreamReader, state: _Call) -> None:
    """Log what the handler prints, one line at a time, keeping the last lines."""
    while True:
        try:
            line = await stderr.readline()
        except (ValueError, asyncio.LimitOverrunError):
            continue
        if not line:
            return
        text = line.decode(errors="replace").rstrip()
        state.stderr.append(text)
        state.stderr_lines += 1
        if state.stderr_lines <= STDERR_LOGGED:
            log.info("%s: %s", state.name, text)
        elif state.stderr_lines == STDERR_LOGGED + 1:
            log.info("%s: (more output is not logged)", state.name)


def _resident(pid: int) -> int | None:
    """Private resident memory of ``pid`` in bytes (anonymous + shared anonymous)."""
    total = 0
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(("RssAnon:", "RssShmem:")):
                    total += int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return total


async def _watch_memory(pid: int, state: _Call, memory_limit: int) -> bool:
    """True once the child is past its baseline + ``memory_limit``; False if it is gone."""
    if memory_limit <= 0:
        await asyncio.Future()
    while True:
        await asyncio.sleep(POLL)
        resident = _resident(pid)
        if resident is None:
            return False
        if state.started is not None:
            state.baseline = int(state.started.get("baselineRss") or 0)
        if state.baseline is not None and resident > state.baseline + memory_limit:
            return True


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _outcome(state: _Call, returncode: int | None, stopped: str | None,
             runtime: float) -> HandlerOutcome:
    answer, tail = state.answer, tuple(state.stderr)
    lock_seconds = float(answer.get("lockSeconds") or 0.0) if answer else 0.0
    if stopped is not None:
        log.warning("%s terminated after %.2f s: %s", state.name, runtime, stopped)
        return HandlerOutcome(None, runtime, stopped, lock_seconds, tail)
    if state.bad is not None:
        return HandlerOutcome(None, runtime, f"bad answer: {state.bad}", lock_seconds, tail)
    if answer is None:
        reason = _exit_reason(returncode)
        log.warning("%s %s", state.name, reason)
        return HandlerOutcome(None, runtime, f"crashed: {reason}", lock_seconds, tail)
    if answer["status"] == "ok":
        return HandlerOutcome(answer, runtime, None, lock_seconds, tail)
    return HandlerOutcome(None, runtime, _error_reason(state.name, answer), lock_seconds, tail)


def _exit_reason(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-returncode).name} before answering"
    return f"exited with status {returncode} without an answer"


def _error_reason(name: str, answer: Mapping[str, Any]) -> str:
    """The ``terminated`` text of an error answer; the traceback goes to the log."""
    raw = answer.get("error")
    error: dict[str, Any] = raw if isinstance(raw, dict) else {}
    kind = answer.get("kind")
    if kind == "memory limit":
        log.warning("%s terminated: memory limit", name)
        return "memory limit"
    text = f"{error.get('type', 'Error')}: {error.get('message', '')}".rstrip(": ")
    at = f" at {error['where']}" if error.get("where") else ""
    log.warning("%s failed%s: %s", name, at, text)
    if error.get("traceback"):
        log.debug("%s traceback:\n%s", name, error["traceback"])
    if kind == "bad answer":
        return f"bad answer: {error.get('message', '')}{at}"
    if kind == "exited":
        return f"crashed: the handler exited early ({text}){at}"
    return f"crashed: {text}{at}"
