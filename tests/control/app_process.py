"""A real app in its own process: connects with a DownloadManager and prints its callbacks.

``python -m tests.control.app_process STATE APP_ID OUT [--die-on ID] [--wait]
[--challenge token:T|default|cancel]``: each callback is one JSON line on stdout;
``finished`` moves the file into OUT, except for download ID, inside whose ``finished``
the process kills itself (as an app that crashes before returning). ``--challenge``
gives the delegate a ``challenge`` callback answering with Bearer T, default handling
or cancel. Each line on stdin is a command (``schedule ID URL SIZE SHA256
[essential]``, ``cancel ID``, ``foreground ID``, ``current``) answered with one
``{"answer": ...}`` or ``{"refused": CODE}`` line; it runs until stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

from orchestrator.client import ChallengeDisposition, Credential, DownloadManager
from orchestrator.errors import BackgroundAssetsError


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


class Challenged(Delegate):
    def __init__(self, out: Path, die_on: str | None, answer: str) -> None:
        super().__init__(out, die_on)
        self.answer = answer

    async def challenge(self, download, challenge):
        say(callback="challenge", download=download.id, scheme=challenge.scheme.value,
            realm=challenge.realm, origin=challenge.origin)
        if self.answer.startswith("token:"):
            return Credential.bearer(self.answer.removeprefix("token:"))
        return ChallengeDisposition.CANCEL if self.answer == "cancel" else None


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("state")
    parser.add_argument("app")
    parser.add_argument("out", type=Path)
    parser.add_argument("--die-on")
    parser.add_argument("--wait", action="store_true")
    parser.add_argument("--challenge")
    args = parser.parse_args()
    async with DownloadManager(args.app, args.state,
                               wait_until_launchable=args.wait) as manager:
        manager.delegate = (Challenged(args.out, args.die_on, args.challenge) if args.challenge
                            else Delegate(args.out, args.die_on))
        current = await manager.fetch_current_downloads()
        say(callback="connected", current=sorted(view.id for view in current))
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            try:
                say(answer=await command(manager, line.split()))
            except BackgroundAssetsError as error:
                say(refused=int(error.code), message=error.message)
    return 0


async def command(manager: DownloadManager, words: list[str]) -> object:
    verb, *rest = words
    if verb == "schedule":
        download_id, url, size, sha256, *essential = rest
        request = manager.download(download_id, url, size=int(size), sha256=sha256)
        if essential:
            request = replace(request, essential=True)
        return (await manager.schedule(request)).id
    if verb == "cancel":
        return await manager.cancel(rest[0])
    if verb == "foreground":
        return await manager.start_foreground(rest[0])
    return sorted(view.id for view in await manager.fetch_current_downloads())


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
