"""``bgassets simulate``: drive one lifecycle event headless, as the framework's debug tool does.

The state dir keeps the journal between runs, so ``simulate install`` then
``simulate launch`` then ``simulate periodic`` play an app's life in steps.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

from orchestrator.cli.state_dir import StateDirAccess
from orchestrator.errors import BackgroundAssetsError, ErrorCode, UsageError
from orchestrator.events import EventKind

EVENTS = ("install", "update", "periodic", "launch", "uninstall")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="drive one lifecycle event headless (install, update, periodic, launch, uninstall)",
        description=(
            "Run the orchestrator for one lifecycle event of the app in APP.yaml and wait. "
            "The runtime allotment is bypassed, as the framework's debug tool does, unless "
            "--enforce-allotment is given. State (journal, containers) lives in --state-dir."
        ),
        epilog="Exit codes: 0 done, 1 refused, a download failed or the device is offline "
        "(--device with network.online: false: nothing can be fetched), 2 usage error.",
    )
    parser.add_argument("event", choices=EVENTS, help="the lifecycle event")
    parser.add_argument("manifest", type=Path, metavar="APP.yaml", help="the App manifest")
    parser.add_argument("--wait", choices=("essential", "all", "none"), default="all",
                        help="wait until the app is launchable (essential), until every "
                        "download ended (all, the default) or not at all")
    parser.add_argument("--device", type=Path, metavar="FILE",
                        help="a Device manifest (default: a device with everything allowed)")
    parser.add_argument("--timeout", type=float, default=600, metavar="SECONDS",
                        help="give up waiting after this long (default 600)")
    parser.add_argument("--enforce-allotment", action="store_true",
                        help="apply the daily runtime allotment instead of bypassing it")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON event per line instead of a timeline")
    parser.set_defaults(handler=run, state_dir_access=StateDirAccess.WRITE)


def run(args: argparse.Namespace) -> int:
    if not args.manifest.is_file():
        raise UsageError(f"{args.manifest}: no such App manifest")
    if args.device is not None and not args.device.is_file():
        raise UsageError(f"{args.device}: no such Device manifest")
    return asyncio.run(_simulate(args))


async def _simulate(args: argparse.Namespace) -> int:
    from orchestrator.cli.offline import wait_unless_offline
    from orchestrator.cli.timeline import Timeline
    from orchestrator.manifests import load_app, load_device
    from orchestrator.service import Orchestrator
    from orchestrator.service.network import unless_set

    device = load_device(args.device) if args.device else None
    app, _ = load_app(args.manifest)
    failures: dict[str, dict[str, Any]] = {}
    stuck = asyncio.Event()

    def watch(event: Any) -> None:
        """Remember what failed; a re-enqueued essential download is no longer a failure.

        A request that waits for disk space (``request.waiting`` with a code) would keep
        the wait going until space is back, which nothing in this process brings; so
        would downloads that wait for space (``download.deferred``), so ``--wait all``
        ends once nothing else of the app moves (``idle``).
        """
        if event.app != app.id:
            return
        download = f"download:{event.data.get('download')}"
        if event.event == EventKind.DOWNLOAD_FAILED:
            failures[download] = event.as_dict()
        elif event.event in (EventKind.EVENT_REFUSED, EventKind.EXTENSION_TERMINATED):
            failures[event.event] = event.as_dict()
        elif event.event == EventKind.REQUEST_WAITING and "code" in event.data:
            failures[event.event] = event.as_dict()
            stuck.set()
        elif event.event in (EventKind.DOWNLOAD_REENQUEUED, EventKind.DOWNLOAD_FINISHED):
            failures.pop(download, None)
        elif event.event == EventKind.DOWNLOAD_DEFERRED:
            failures[download] = event.as_dict()

    printer = Output(JsonLines(sys.stdout) if args.json else Timeline(sys.stdout))
    if not args.enforce_allotment and not args.json:
        print("simulate: runtime allotment bypassed (as the debug tool does)", file=sys.stderr)
    try:
        async with Orchestrator(args.state_dir, device=device,
                                bypass_allotment=not args.enforce_allotment) as orchestrator:
            orchestrator.events.subscribe(printer)
            orchestrator.events.subscribe(watch)
            await _act(orchestrator, args, app.id)
            if args.event != "uninstall" and app.id in orchestrator.apps:
                until = {"none": None, "all": "idle"}.get(args.wait, args.wait)
                try:
                    # Nothing here changes the device: offline, this stops instead.
                    await unless_set(stuck, wait_unless_offline(
                        orchestrator, app.id, until, args.device, timeout=args.timeout))
                except TimeoutError:
                    print(f"simulate: still waiting after {args.timeout:g} s", file=sys.stderr)
                    return 1
    finally:
        printer.flush()
    printer.check()
    if failures:
        print(f"simulate: {_summary(failures)}", file=sys.stderr)
    return 1 if failures else 0


def _summary(failures: dict[str, dict[str, Any]]) -> str:
    """One line for what failed: how many, and the first failure's code and message."""
    first = next(iter(failures.values()))
    what = first.get("download") or first["event"]
    count = len(failures)
    head = "1 failure" if count == 1 else f"{count} failures"
    code = f"{first['code']} {first.get('name', '')}".strip() if "code" in first else ""
    reason = first.get("message") or first.get("reason") or ""
    detail = ": ".join(part for part in (code, reason) if part)
    return f"{head}, first {what}" + (f" ({detail})" if detail else "")


class Output:
    """The events printer, whose writes may fail (stdout on a full disk, /dev/full): the
    first failure stops the printing, and :meth:`check` raises it as one coded error
    instead of a traceback per event."""

    def __init__(self, printer: Any) -> None:
        self.printer = printer
        self.error: OSError | None = None

    def __call__(self, event: Any) -> None:
        if self.error is None:
            try:
                self.printer(event)
            except OSError as error:
                self._failed(error)

    def flush(self) -> None:
        if self.error is None:
            try:
                if isinstance(self.printer, JsonLines):
                    self.printer.flush()
                sys.stdout.flush()
            except OSError as error:
                self._failed(error)

    def check(self) -> None:
        if self.error is not None:
            raise BackgroundAssetsError(
                f"cannot write the events to stdout ({self.error.strerror}); free some space "
                "there or send them elsewhere", ErrorCode.DISK_ERROR)

    def _failed(self, error: OSError) -> None:
        self.error = error
        # What is still buffered goes nowhere at exit, instead of failing once more there.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


class JsonLines:
    """Events as JSON lines, written out at most every 50 ms and at the end, not once
    per line (20,000 downloads make 60,000 events; with PYTHONUNBUFFERED each line
    would be a write of its own)."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.pending: list[str] = []
        self.flushed = 0.0

    def __call__(self, event: Any) -> None:
        self.pending.append(event.to_json())
        now = time.monotonic()
        if now - self.flushed >= 0.05:
            self.flush()
            self.flushed = now

    def flush(self) -> None:
        if self.pending:
            self.out.write("\n".join(self.pending) + "\n")
            self.pending.clear()
        self.out.flush()


async def _act(orchestrator: Any, args: argparse.Namespace, app_id: str) -> None:
    if args.event in ("install", "update"):
        if args.event == "update":
            await orchestrator.update(args.manifest)
        else:
            await orchestrator.install(args.manifest)
    elif args.event == "periodic":
        await orchestrator.periodic(app_id)
    elif args.event == "launch":
        orchestrator.launch(app_id)
    else:
        await orchestrator.uninstall(app_id)
