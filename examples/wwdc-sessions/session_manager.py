"""The WWDC Sessions app after adopting Background Assets: a real program using the client.

The framework's sample app keeps its own request for the session list (the catalog) and
hands the videos to the download manager. This is that app, run against a
``bgassets daemon``:

1. it fetches the session list itself, over HTTP;
2. it connects to the daemon as ``com.example.wwdc-sessions`` and asks which sessions
   are being fetched already (the extension scheduled them at install);
3. it moves those to the foreground, and schedules every session that is neither on
   disk nor being fetched;
4. each finished video is moved into place under the app group's exclusive control, the
   same lock the extension takes, while a line per session shows its progress.

Run ``bgassets daemon --serve-demo manifests`` in one terminal, this program in another
(``python examples/wwdc-sessions/session_manager.py``), and ``bgassets tui`` in a third
to watch the daemon. It exits once every session is on disk (0), or after ``--timeout``
seconds (1).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import aiohttp

from orchestrator.client import DownloadManager
from orchestrator.errors import BackgroundAssetsError
from orchestrator.service.views import DownloadView

APP_ID = "com.example.wwdc-sessions"
CATALOG = "http://127.0.0.1:8470/wwdc-sessions/catalog.json"


class Sessions:
    """The session list and what the app knows of each video: the app's own model."""

    def __init__(self, catalog: dict[str, Any], url: str, folder: Path) -> None:
        self.entries = {asset["id"]: {**asset, "url": urljoin(url, asset["url"])}
                        for asset in catalog["assets"]}
        self.folder = folder
        self.progress: dict[str, float] = {}

    def path(self, session_id: str) -> Path:
        return self.folder / Path(self.entries[session_id]["url"]).name

    def missing(self) -> list[str]:
        return [i for i in self.entries if not self.path(i).is_file()]

    def line(self, session_id: str) -> str:
        entry = self.entries[session_id]
        mark = "*" if entry.get("essential") else " "
        done = "on disk" if self.path(session_id).is_file() else \
            f"{self.progress.get(session_id, 0.0):4.0%}"
        return f"{mark} {session_id:<16} {done:>8}  {entry.get('title', '')}"


class SessionDelegate:
    """The download manager's delegate: progress lines, and finished videos moved in."""

    def __init__(self, manager: DownloadManager, sessions: Sessions) -> None:
        self.manager, self.sessions = manager, sessions
        self.changed = asyncio.Event()

    def progress(self, download: DownloadView, written: int, expected: int | None) -> None:
        if download.id in self.sessions.entries and expected:
            self.sessions.progress[download.id] = written / expected

    async def finished(self, download: DownloadView, path: Path) -> None:
        if download.id not in self.sessions.entries:
            return  # not a session: left where it is, and removed
        target = self.sessions.path(download.id)
        async with self.manager.exclusive_control(time.monotonic() + 30):
            target.parent.mkdir(parents=True, exist_ok=True)
            path.replace(target)
        print(f"  finished {download.id} -> {target}", flush=True)
        self.changed.set()

    def failed(self, download: DownloadView, error: BackgroundAssetsError) -> None:
        print(f"  failed {download.id}: {int(error.code)} {error.code.title}: "
              f"{error.message}", flush=True)
        self.changed.set()


async def fetch_catalog(url: str) -> dict[str, Any]:
    """The session list, fetched by the app itself (the seed keeps URLSession for it)."""
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as answer:
        answer.raise_for_status()
        return await answer.json(content_type=None)  # type: ignore[no-any-return]


async def adopt(manager: DownloadManager, sessions: Sessions) -> None:
    """Promote what is being fetched already; schedule what is neither there nor coming."""
    current = {view.id: view for view in await manager.fetch_current_downloads()}
    for session_id in sessions.missing():
        if session_id in current:
            await manager.start_foreground(current[session_id])
            print(f"  {session_id}: in flight, moved to the foreground", flush=True)
        else:
            entry = sessions.entries[session_id]
            await manager.schedule(manager.download(
                session_id, entry["url"], size=entry.get("size"), sha256=entry.get("sha256"),
                priority=entry.get("priority", 50)))
            print(f"  {session_id}: scheduled", flush=True)


async def run(args: argparse.Namespace) -> int:
    catalog = await fetch_catalog(args.catalog)
    async with DownloadManager(APP_ID, args.state_dir, wait_until_launchable=True) as manager:
        sessions = Sessions(catalog, args.catalog, manager.container / "sessions")
        delegate = SessionDelegate(manager, sessions)
        manager.delegate = delegate
        print(f"{len(sessions.entries)} sessions (* essential):", flush=True)
        await adopt(manager, sessions)
        deadline = time.monotonic() + args.timeout
        while sessions.missing():
            if time.monotonic() > deadline:
                print(f"timed out; missing: {', '.join(sessions.missing())}", flush=True)
                return 1
            delegate.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(delegate.changed.wait(), 1.0)
        for session_id in sessions.entries:
            print(sessions.line(session_id), flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", help="the daemon's state dir (default: bgassets')")
    parser.add_argument("--catalog", default=CATALOG, help=f"the session list (default {CATALOG})")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait at most")
    args = parser.parse_args()
    try:
        return asyncio.run(run(args))
    except (BackgroundAssetsError, aiohttp.ClientError, OSError) as error:
        print(f"session_manager: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
