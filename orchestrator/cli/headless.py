"""``bgassets run --headless``: the main job with a compact live summary instead of the UI."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from orchestrator.cli.offline import wait_unless_offline
from orchestrator.cli.session import app_manifests, default_device, demo_session
from orchestrator.cli.timeline import Timeline
from orchestrator.errors import BackgroundAssetsError, ErrorCode
from orchestrator.events import Event, EventKind
from orchestrator.model.units import format_size

if TYPE_CHECKING:
    from orchestrator.service import Orchestrator
    from orchestrator.service.views import AppView

SUMMARY_EVERY = 2.0
QUIET_EVENTS = {EventKind.DOWNLOAD_PROGRESS, EventKind.DOWNLOAD_SCHEDULED,
                EventKind.DOWNLOAD_STARTED, EventKind.APP_PROGRESS}


@dataclass
class AppLine:
    """What the summary shows for one app."""

    state: str = "installing"
    fraction: float = 0.0
    scheduled: int = 0
    finished: int = 0
    failed: int = 0
    bytes_done: int = 0
    live: dict[str, int] = field(default_factory=dict)
    # Downloads that wait for space (download.deferred) and have not started since.
    deferred: set[str] = field(default_factory=set)


class Summary:
    """Keeps per-app counters from the event stream and prints them on demand."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.apps: dict[str, AppLine] = {}
        self.timeline = Timeline(out)
        self._last_printed: list[str] = []

    def __call__(self, event: Event) -> None:
        if event.app is None:
            return
        line = self.apps.setdefault(event.app, AppLine())
        name, data = event.event, event.data
        download = str(data.get("download") or "")
        if name == EventKind.APP_PROGRESS:
            line.fraction = data["fraction"]
        elif name == EventKind.APP_LAUNCHABLE and line.state == "installing":
            line.state = "launchable"
        elif name == EventKind.APP_LAUNCHED:
            line.state = "launched"
        elif name == EventKind.DOWNLOAD_SCHEDULED:
            line.scheduled += 1
        elif name == EventKind.DOWNLOAD_DEFERRED:
            line.deferred.add(download)
        elif name == EventKind.DOWNLOAD_STARTED:
            line.deferred.discard(download)
        elif name == EventKind.DOWNLOAD_PROGRESS:
            line.live[download] = data["bytes"]
        elif name == EventKind.DOWNLOAD_FINISHED:
            line.finished += 1
            line.bytes_done += data.get("total") or data.get("bytes") or 0
            line.live.pop(download, None)
        elif name == EventKind.DOWNLOAD_FAILED:
            line.failed += 1
            line.live.pop(download, None)
        if name not in QUIET_EVENTS:
            self.timeline(event)

    def known(self, view: AppView) -> None:
        """Start an app's line from what the journal says, for an app installed earlier."""
        line = self.apps.setdefault(view.id, AppLine())
        line.fraction = view.progress
        if view.launchable:
            line.state = str(view.state)

    def print(self, force: bool = False) -> None:
        """Print one line per app, unless nothing changed since the last time."""
        lines = []
        for app_id, line in sorted(self.apps.items()):
            moving = sum(line.live.values())
            lines.append(f"  {app_id:<28} {line.state:<11} install {line.fraction:4.0%}  "
                         f"{line.finished}/{line.scheduled} downloads  "
                         f"{format_size(line.bytes_done + moving)}"
                         + (f"  {line.failed} failed" if line.failed else "")
                         + (f"  {len(line.deferred)} waiting for space" if line.deferred
                            else ""))
        if lines != self._last_printed or force:
            self._last_printed = lines
            print("\n".join(lines), file=self.out, flush=True)


async def run_headless(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Install every app, launch each once launchable, then run a periodic request."""
    from orchestrator.manifests import load_app
    from orchestrator.service.views import snapshot

    summary = Summary(out)
    started = time.monotonic()
    async with demo_session(args) as orchestrator:
        orchestrator.events.subscribe(summary)
        printer = asyncio.create_task(_print_every(summary))
        try:
            apps = []
            for manifest in app_manifests(args.directory):
                app, _ = load_app(manifest)
                view = snapshot(orchestrator, app.id).app(app.id)
                if view is not None:
                    summary.known(view)
                elif not await _installed(orchestrator, manifest, out):
                    continue
                apps.append(app.id)
            device_file = args.device or default_device(args.directory)
            plays = [asyncio.ensure_future(_play(orchestrator, app_id, device_file))
                     for app_id in apps]
            try:
                await asyncio.gather(*plays)
            finally:
                for play in plays:
                    play.cancel()
        finally:
            printer.cancel()
        summary.print(force=True)
    failed = sum(line.failed for line in summary.apps.values())
    waiting = sum(len(line.deferred) for line in summary.apps.values())
    print(f"run: done in {time.monotonic() - started:.1f} s; {failed} failed download(s)"
          + (f"; {waiting} waiting for space" if waiting else ""), file=out, flush=True)
    return 1 if failed else 0


async def _installed(orchestrator: Orchestrator, manifest: Path, out: TextIO) -> bool:
    """Install the app of ``manifest``; False, said in one line, when it is refused (an
    install that does not fit on the disk: 1032), and the other apps go on."""
    try:
        await orchestrator.install(manifest)
    except BackgroundAssetsError as error:
        if error.code != ErrorCode.INSTALL_DOES_NOT_FIT:
            raise
        print(f"run: {manifest}: error {int(error.code)} {error.code.title}: {error.message}",
              file=out, flush=True)
        return False
    return True


async def _play(orchestrator: Orchestrator, app_id: str, device_file: Path | None) -> None:
    """One app's life: launchable, launched, background fetches, periodic.

    Nothing in this process changes the device: offline, it stops (see ``offline``).
    """
    await wait_unless_offline(orchestrator, app_id, "essential", device_file)
    from orchestrator.service.views import app_view

    if not app_view(orchestrator, app_id).running:
        try:
            orchestrator.launch(app_id)
        except BackgroundAssetsError:
            return
    # Nor does anything make room on the disk: downloads waiting for space end the wait.
    await wait_unless_offline(orchestrator, app_id, "idle", device_file)
    await orchestrator.periodic(app_id)
    await wait_unless_offline(orchestrator, app_id, "idle", device_file)


async def _print_every(summary: Summary) -> None:
    while True:
        await asyncio.sleep(SUMMARY_EVERY)
        summary.print()
