"""``bgassets packs ACTION APP [PACK]``: an app's asset packs on the running daemon."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from orchestrator.cli.state_dir import StateDirAccess
from orchestrator.errors import UsageError

ACTIONS = {
    "list": "every pack of the app: policy, versions, local size, status",
    "status": "one pack's status flags (or every pack's without PACK)",
    "ensure": "download what a pack lacks and wait until it is local",
    "remove": "remove a pack's local versions",
    "rollback": "make a pack's previous version current again",
    "check": "read the pack catalog again: update packs with a newer version, remove "
             "those it dropped",
}
NEEDS_PACK = ("ensure", "remove", "rollback")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "packs", help="an app's managed asset packs on the daemon (needs `bgassets daemon`)",
        description="Look at and act on the asset packs of an installed app: "
        + "; ".join(f"{name}: {text}" for name, text in ACTIONS.items()) + ".",
        epilog="Talks to the `bgassets daemon` of the same --state-dir. Exit codes: 0 done, "
        "1 refused (the error names the code) or no daemon, 2 usage error.")
    parser.add_argument("action", choices=list(ACTIONS), help="what to do")
    parser.add_argument("app_id", metavar="APP", help="the app's id (metadata.id)")
    parser.add_argument("pack", nargs="?", metavar="PACK", help="the pack's id")
    parser.add_argument("--json", action="store_true", help="print the answer as JSON")
    parser.set_defaults(handler=run, state_dir_access=StateDirAccess.READ)


def run(args: argparse.Namespace) -> int:
    if args.action in NEEDS_PACK and not args.pack:
        raise UsageError(f"packs {args.action} needs the pack's id: "
                         f"bgassets packs {args.action} {args.app_id} PACK")
    answer = asyncio.run(_ask(args))
    print(json.dumps(answer, indent=2) if args.json else _text(args, answer))
    return 0


async def _ask(args: argparse.Namespace) -> Any:
    from orchestrator.client import AssetPackManager
    from orchestrator.service.views import to_json

    async with AssetPackManager(args.app_id, args.state_dir) as packs:
        if args.action in ("list", "status"):
            views = [to_json(view) for view in await packs.packs()
                     if args.pack is None or view.id == args.pack]
            if args.pack is not None and not views:
                await packs.status(args.pack)  # raises: no such pack
            return views
        if args.action == "ensure":
            await packs.ensure_local_availability(args.pack)
            return {"pack": args.pack, "local": True}
        if args.action == "remove":
            return {"pack": args.pack, "freed": await packs.remove(args.pack)}
        if args.action == "rollback":
            return {"pack": args.pack, "version": await packs.rollback(args.pack)}
        updating, removed = await packs.check_for_updates()
        return {"updating": updating, "removed": removed}


def _text(args: argparse.Namespace, answer: Any) -> str:
    from orchestrator.model.units import format_size

    if args.action in ("list", "status"):
        if not answer:
            return f"{args.app_id} has no asset packs"
        return "\n".join(
            f"{row['pack']:<24} {row['policy'] or '-':<10} latest {row['latestVersion'] or '-':<17}"
            f" local {row['localVersion'] or '-':<17} {format_size(row['localSize']):>10}  "
            f"{', '.join(flag.lower() for flag in row['status'])}"
            for row in answer)
    if args.action == "ensure":
        return f"{args.pack}: local"
    if args.action == "remove":
        return f"{args.pack}: removed, {format_size(answer['freed'])} freed"
    if args.action == "rollback":
        return f"{args.pack}: version {answer['version']} is current again"
    return (f"updating: {', '.join(answer['updating']) or 'none'}; "
            f"removed: {', '.join(answer['removed']) or 'none'}")
