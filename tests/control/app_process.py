"""A real app in its own process: connects with a DownloadManager and prints its callbacks.

``python -m tests.control.app_process STATE APP_ID OUT [--die-on ID] [--wait]``: each
callback is one JSON line on stdout; ``finished`` moves the file into OUT, except for
download ID, inside whose ``finished`` the process kills itself (as an app that crashes
before returning). It runs until stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from orchestrator.client import DownloadManager


def say(**data) -> None:
    print(json.dumps(data), flush=True)


class Delegate:
    def __init__(self, out: Path, die_on: str | None) -> None:
        self.out, self.die_on = out, die_on

    def began(self, download) -> None:
        say(callback="began", download=download.id)

    def progress(self, download, written, expected) -> None:
        say(callback="progress", download=download.id, written=written, expected=expected)

    async def finished(self, download, path: Path) -> None:
        say(callback="finished", download=download.id, path=str(path))
        if download.id == self.die_on:
            os._exit(9)
        path.replace(self.out / download.id)

    def failed(self, download, error) -> None:
        say(callback="failed", download=download.id, code=int(error.code))


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("state")
    parser.add_argument("app")
    parser.add_argument("out", type=Path)
    parser.add_argument("--die-on")
    parser.add_argument("--wait", action="store_true")
    args = parser.parse_args()
    async with DownloadManager(args.app, args.state,
                               wait_until_launchable=args.wait) as manager:
        manager.delegate = Delegate(args.out, args.die_on)
        current = await manager.fetch_current_downloads()
        say(callback="connected", current=sorted(view.id for view in current))
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
