"""``bgassets daemon``: the orchestrator as a service on the state dir's control socket."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.bundled import EXAMPLES_PORT
from orchestrator.cli.state_dir import StateDirAccess
from orchestrator.errors import BackgroundAssetsError, UsageError

if TYPE_CHECKING:
    from orchestrator.cli.daemon_log import DaemonLog


def register(subparsers: Any) -> None:
    from orchestrator.cli.remote import CLIENT_COMMANDS

    clients = ", ".join(CLIENT_COMMANDS)
    parser = subparsers.add_parser(
        "daemon",
        help=f"run the orchestrator as a service (--print-unit systemd|launchd installs it "
        f"as one); {clients} and tui talk to it",
        description=(
            "Run the orchestrator on --state-dir with a control API on a Unix socket (mode "
            "0600) in that folder. Apps installed earlier resume; apps under DIR are installed. "
            "With --serve-demo the content of DIR's catalogs is served on --port as `run` "
            f"does. These commands talk to it (same --state-dir): {clients}, and tui for the "
            "live UI."
        ),
        epilog="Stop with Ctrl-C or SIGTERM (exit 0); pending downloads resume next time. "
        "Exit 1 when another daemon or process uses the state dir, 2 on a usage error. "
        "While it runs it logs one stderr line per notable event (start and stop, app "
        "installed, launchable, launched, uninstalled, download failed, extension "
        "terminated, request waiting); when stderr is not a terminal or JOURNAL_STREAM is "
        "set, each line starts with its syslog priority (<6> info, <4> warning, <3> "
        "error) for the journal.",
    )
    parser.add_argument("directory", nargs="?", type=Path, metavar="DIR",
                        help="install every <app>/app.yaml found here")
    parser.add_argument("--serve-demo", action="store_true",
                        help="serve DIR's catalogs and their assets on --port (like `run`)")
    parser.add_argument("--port", type=int, default=EXAMPLES_PORT,
                        help=f"demo server port (default {EXAMPLES_PORT})")
    parser.add_argument("--device", type=Path, metavar="FILE", help="a Device manifest")
    parser.add_argument(
        "--print-unit", choices=("systemd", "launchd"), metavar="MANAGER",
        help="print a service definition that runs this daemon (same executable, DIR, "
        "options and absolute --state-dir) and exit: `systemd` a user unit for "
        "~/.config/systemd/user/bgassets.service, `launchd` an agent plist for "
        "~/Library/LaunchAgents/dev.bgassets.daemon.plist; both restart it on failure")
    parser.set_defaults(handler=run, state_dir_access=StateDirAccess.WRITE)


def run(args: argparse.Namespace) -> int:
    if args.directory is not None and not args.directory.is_dir():
        raise UsageError(f"{args.directory}: no such folder")
    if args.serve_demo and args.directory is None:
        raise UsageError("--serve-demo needs DIR (the folder whose catalogs are served)")
    if args.print_unit is not None:
        return _print_unit(args)
    from orchestrator.cli.daemon_log import DaemonLog

    log = DaemonLog()
    try:
        return asyncio.run(_serve(args, log))
    except Exception as error:
        # Before the start line, the command's own error line (and exit 1) says it all.
        if log.started:
            log.error(f"daemon.failed: {_failure(error)}")
        raise


def _failure(error: Exception) -> str:
    if isinstance(error, BackgroundAssetsError):
        return f"error {int(error.code)} {error.code.title}: {error.message}"
    return f"unexpected {type(error).__name__}: {error}"


def _daemon_arguments(args: argparse.Namespace) -> list[str]:
    """The options of this command line that the service repeats, paths made absolute."""
    arguments = []
    if args.directory is not None:
        arguments.append(str(args.directory.absolute()))
    if args.serve_demo:
        arguments += ["--serve-demo", "--port", str(args.port)]
    if args.device is not None:
        arguments += ["--device", str(args.device.absolute())]
    return arguments


def _print_unit(args: argparse.Namespace) -> int:
    from orchestrator.cli.units import service_definition

    if args.device is not None and not args.device.is_file():
        raise UsageError(f"{args.device}: no such file")
    text = service_definition(args.print_unit, _daemon_arguments(args), args.state_dir)
    sys.stdout.write(text)
    return 0


@contextlib.asynccontextmanager
async def _orchestrator(args: argparse.Namespace) -> Any:
    from orchestrator.cli.session import demo_session, periodic_runs
    from orchestrator.manifests import load_device
    from orchestrator.service import Orchestrator

    if args.serve_demo:
        args.no_server, args.rate = False, None
        async with demo_session(args) as orchestrator:
            yield orchestrator
        return
    device = load_device(args.device) if args.device else None
    async with Orchestrator(args.state_dir, device=device) as orchestrator, \
            periodic_runs(orchestrator):
        yield orchestrator


async def _serve(args: argparse.Namespace, log: DaemonLog) -> int:
    from orchestrator.cli.session import app_manifests
    from orchestrator.control import ControlServer, socket_path
    from orchestrator.control.server import refuse_second_daemon

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    path = socket_path(args.state_dir)
    refuse_second_daemon(path)  # before the orchestrator touches the state dir
    async with _orchestrator(args) as orchestrator, ControlServer(orchestrator, path):
        unsubscribe = orchestrator.events.subscribe(log.event)
        log.start(f"daemon.started: listening on {path}, state dir {args.state_dir}, "
                  f"pid {os.getpid()}")
        print(f"bgassets daemon: listening on {path} (Ctrl-C to stop)", flush=True)
        try:
            if args.directory is not None:
                for manifest in app_manifests(args.directory):
                    await orchestrator.install(manifest)
            await stop.wait()
        finally:
            unsubscribe()
    log.info("daemon.stopped: pending downloads resume next time")
    return 0
