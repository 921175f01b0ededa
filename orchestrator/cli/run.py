"""``bgassets run``: the main job — asset server, orchestrator and UI in one process, offline.

It installs every app found under DIR (default: the bundled examples) and shows
everything live: the Textual UI on a terminal, or with ``--headless`` a compact
summary that needs no TTY. Apps whose ``manifestURL`` names the built-in server
(127.0.0.1:8470 by default, as the examples do) get their catalogs and assets from
DIR's own files (see ``served``); the bundled examples ship catalogs only, and
their assets are generated.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from orchestrator.bundled import EXAMPLES_PORT, manifests_dir
from orchestrator.cli.state_dir import StateDirAccess
from orchestrator.errors import UsageError

DEMO_PORT = EXAMPLES_PORT
# Per connection: the ~570 MB of examples then play out in about a minute.
DEMO_RATE = "640KiB"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="the main job: orchestrator + live UI + built-in asset server, on DIR's apps "
        "(default: the bundled examples)",
        description=(
            "Run the orchestrator with a built-in asset server in one process and install "
            "every app found under DIR (default: the bundled examples). An app whose "
            "manifestURL names the built-in server (http://127.0.0.1:PORT/PATH) gets DIR/PATH "
            "as its catalog and each asset from DIR at its URL path, next to the catalog "
            "(assets of the bundled examples are generated); other apps are fetched from "
            "their own servers. Works offline. Without a terminal, or with --headless, "
            "prints a compact live summary instead of the UI."
        ),
    )
    parser.add_argument("directory", nargs="?", type=Path, default=None, metavar="DIR",
                        help="folder with <app>/app.yaml and <app>/catalog.json "
                        "(default: the bundled examples)")
    parser.add_argument("--headless", action="store_true",
                        help="no UI: print a compact live summary (no TTY needed)")
    parser.add_argument("--port", type=int, default=DEMO_PORT,
                        help=f"port of the built-in asset server (default {DEMO_PORT}, where the "
                        "example manifestURLs point)")
    parser.add_argument("--rate-per-connection", default=DEMO_RATE, metavar="BYTES",
                        help=f"throttle each server connection (default {DEMO_RATE}; 0 = off)")
    parser.add_argument("--device", type=Path, metavar="FILE",
                        help="a Device manifest (default: manifests/devices/default.yaml)")
    parser.add_argument("--no-server", action="store_true",
                        help="do not start the built-in server (another server at the "
                        "manifestURLs has the catalogs)")
    parser.set_defaults(handler=run, state_dir_access=StateDirAccess.WRITE)


def run(args: argparse.Namespace) -> int:
    from orchestrator.model.units import parse_size

    args.directory = args.directory or manifests_dir()
    if not args.directory.is_dir():
        raise UsageError(f"{args.directory}: no such folder")
    if not sorted(args.directory.glob("*/app.yaml")):
        raise UsageError(f"{args.directory}: no <app>/app.yaml found")
    try:
        args.rate = parse_size(args.rate_per_connection) or None
    except ValueError as error:
        raise UsageError(f"--rate-per-connection: {error}") from None
    from orchestrator.cli.session import served_root

    served_root(args)
    headless = args.headless or not sys.stdout.isatty()
    if not headless:
        try:
            from tui.app import BgAssetsApp, in_process, run_app
        except ImportError:
            headless = True
        else:
            from orchestrator.cli.session import app_manifests, demo_session

            return run_app(BgAssetsApp(in_process(lambda: demo_session(args)),
                                       app_manifests(args.directory), rare_gc=True))
    from orchestrator.cli.headless import run_headless

    return asyncio.run(run_headless(args))
