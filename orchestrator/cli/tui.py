"""``bgassets tui``: the Textual UI of ``run``, attached to a running ``bgassets daemon``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from orchestrator.cli.state_dir import StateDirAccess

EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tui",
        help="the live UI attached to a running `bgassets daemon` (same --state-dir)",
        description=(
            "Attach the live UI to the daemon of --state-dir over its control socket: the "
            "Apps, Downloads, Device, Events and Help screens of `run`, filled first from the "
            "daemon's current status and downloads, then live from its event stream. Actions "
            "(promote, pause, resume, cancel, purge, launch, terminate, periodic, install and "
            "update from the daemon's manifests, device toggles) are sent to the daemon. "
            "Quitting (q) detaches and leaves the daemon running; if the daemon stops, the UI "
            "says so and keeps showing the last state it knew."
        ),
        epilog="Exit codes: 0 after quitting, 1 when no daemon listens on the state dir, "
        "2 without a terminal. Start the daemon first: bgassets --state-dir DIR daemon [APPS].",
    )
    parser.set_defaults(handler=run, state_dir_access=StateDirAccess.READ)


def run(args: argparse.Namespace) -> int:
    from orchestrator.control import socket_path
    from orchestrator.control.server import someone_listens
    from orchestrator.errors import DaemonUnavailable

    path = socket_path(args.state_dir)
    if not someone_listens(path):
        raise DaemonUnavailable(f"no daemon listens on {path}; start it with `bgassets "
                                "daemon` (same --state-dir)")
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("bgassets tui: needs a terminal; without one, `bgassets status` and "
              "`bgassets downloads` show the daemon's state", file=sys.stderr)
        return EXIT_USAGE
    from tui.app import run_attached

    return run_attached(path)
