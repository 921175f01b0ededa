"""``status``, ``downloads``, ``promote``, ``cancel``, ``pause``, ``resume``, ``purge``:
commands that talk to a running ``bgassets daemon`` on the same state dir."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

ACTIONS = {"promote": "start a download in the foreground now (the app must be running)",
           "cancel": "cancel a download", "pause": "pause a download",
           "resume": "resume a paused download"}


def register(subparsers: Any) -> None:
    for name, text in (("status", "apps and device as the daemon sees them"),
                       ("downloads", "pending and recent downloads")):
        parser = subparsers.add_parser(name, help=f"{text} (needs `bgassets daemon`)",
                                       description=f"Show {text}.")
        _common(parser)
        parser.set_defaults(handler=run, remote=name)
    for name, text in ACTIONS.items():
        parser = subparsers.add_parser(name, help=f"{text} (needs `bgassets daemon`)",
                                       description=f"{text.capitalize()}: ID is the "
                                       "download id or key.")
        parser.add_argument("download", metavar="ID", help="the download's id")
        _common(parser)
        parser.set_defaults(handler=run, remote=name)
    parser = subparsers.add_parser("purge", help="free space by evicting purgeable files "
                                   "(needs `bgassets daemon`)",
                                   description="Evict purgeable files (Library/Caches), "
                                   "least recently used and apps not running first.")
    parser.add_argument("--bytes", metavar="N", help="free at least N bytes (e.g. 500MiB; "
                        "default: every purgeable file)")
    _common(parser)
    parser.set_defaults(handler=run, remote="purge")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--app", metavar="APP_ID", help="act as this app (see only its data)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_remote(args))


async def _remote(args: argparse.Namespace) -> int:
    from orchestrator.control import ControlClient, socket_path
    from orchestrator.model.units import format_size, parse_size

    async with ControlClient(socket_path(args.state_dir), app=args.app) as client:
        if args.remote == "status":
            answer: Any = await client.status()
        elif args.remote == "downloads":
            answer = await client.downloads()
        elif args.remote == "purge":
            try:
                amount = parse_size(args.bytes) if args.bytes else None
            except ValueError as error:
                from orchestrator.errors import UsageError

                raise UsageError(f"--bytes: {error}") from None
            answer = {"freed": await client.purge(amount)}
        else:
            answer = await client.act(args.download, args.remote)
    if args.json:
        print(json.dumps(answer, indent=2))
    elif args.remote == "status":
        for app in answer["apps"]:
            print(f"{app['app']:<32} {app['state']:<11} install {app['progress']:4.0%}  "
                  f"{app['pending']} pending  runtime {app['runtimeToday']:.1f}/"
                  f"{app['runtimeAllotment']:.0f} s")
    elif args.remote == "downloads":
        for row in answer:
            total = format_size(row["total"]) if row.get("total") else "?"
            print(f"{row['app']:<32} {row['download']:<28} {row['state']:<11} "
                  f"{format_size(row['bytes'])} of {total}"
                  + (f"  error {row['error']}" if row.get("error") else ""))
    elif args.remote == "purge":
        print(f"freed {format_size(answer['freed'])}")
    else:
        print(f"{answer['action']}: {answer['download']} ({answer['app']})")
    return 0
