"""``bgassets serve DIR``: the development asset server, with optional injected faults."""

from __future__ import annotations

import argparse
import asyncio
import errno
import signal
import textwrap
from pathlib import Path
from typing import Any

from orchestrator.bundled import EXAMPLES_PORT
from orchestrator.devserver.faults import FAULT_DESCRIPTIONS, FAULT_NAMES, Fault, parse_fault
from orchestrator.errors import BackgroundAssetsError, ErrorCode, UsageError
from orchestrator.model.units import parse_size

DEFAULT_PORT = EXAMPLES_PORT


def _fault_help() -> str:
    lines = [textwrap.fill(text, width=78, initial_indent=f"  {name:<17} ",
                           subsequent_indent=" " * 20)
             for name, text in FAULT_DESCRIPTIONS.items()]
    return "\n".join([
        "faults (--fault NAME[:once|:Nx|:SHARE][@GLOB], repeatable):",
        *lines,
        "",
        textwrap.fill(
            "NAME alone or NAME:once fires on the first GET of each path only, so a client "
            "that retries still finishes; NAME:2x on the first two; NAME:0.3 fires on "
            "30% of GETs, repeatably for a given --seed; @GLOB limits a fault to the "
            "paths the glob matches, such as 503:0.5@/videos/*. Faults never apply to "
            "HEAD or to missing files.", width=78),
    ])


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve a folder over HTTP with Range, ETag and If-Range, optionally with faults",
        description="A local asset server for development and tests: serves the files "
        "under DIR (no listings) with HEAD, single byte ranges, strong ETags, Last-Modified "
        "and If-Range, optionally throttled and with injected faults.",
        epilog=_fault_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dir", metavar="DIR", help="the folder to serve")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: only this machine)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port to bind, 0 picks a free one (default {DEFAULT_PORT})")
    parser.add_argument("--rate-per-connection", metavar="BYTES", default=None,
                        help="cap each connection at this many bytes per second, "
                        "e.g. 20MiB (default: no cap)")
    parser.add_argument("--fault", action="append", default=[], metavar="NAME",
                        help=f"inject a fault, repeatable: {', '.join(FAULT_NAMES)} "
                        "(see below)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed deciding which requests a fault share hits (default 0)")
    parser.add_argument("--bearer-token-file", metavar="FILE", type=Path, default=None,
                        help="require 'Authorization: Bearer TOKEN' of every request, TOKEN "
                        "being the contents of FILE; others get a 401 challenge (to try "
                        "an extension's spec.credentials)")
    parser.add_argument("--verbose", action="store_true",
                        help="print one line per request on stderr")
    parser.set_defaults(handler=run)


def _token(path: Path | None) -> str | None:
    from orchestrator.errors import CredentialUnavailable
    from orchestrator.service.credentials import read_secret_file

    if path is None:
        return None
    try:
        token = read_secret_file(path)
    except CredentialUnavailable as error:
        raise UsageError(f"--bearer-token-file: {error}") from None
    if not token:
        raise UsageError(f"--bearer-token-file: {path} is empty")
    return token


def _options(args: argparse.Namespace) -> tuple[Path, int | None, list[Fault]]:
    root = Path(args.dir)
    if not root.is_dir():
        raise UsageError(f"{args.dir}: no such folder to serve")
    rate = None
    if args.rate_per_connection is not None:
        try:
            rate = parse_size(args.rate_per_connection)
        except ValueError as error:
            raise UsageError(f"--rate-per-connection: {error}") from None
        if rate == 0:
            raise UsageError("--rate-per-connection must be more than 0 bytes per second")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: use a port between 0 and 65535")
    return root, rate, [parse_fault(text) for text in args.fault]


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; exit 0 then."""
    root, rate, faults = _options(args)
    args.bearer_token = _token(args.bearer_token_file)
    return asyncio.run(_serve(args, root, rate, faults))


async def _serve(args: argparse.Namespace, root: Path, rate: int | None,
                 faults: list[Fault]) -> int:
    from orchestrator.devserver.server import DevServer

    server = DevServer(root, args.host, args.port, rate_per_connection=rate, faults=faults,
                       seed=args.seed, verbose=args.verbose, bearer_token=args.bearer_token)
    try:
        await server.start()
    except OSError as error:
        reason = "is already in use" if error.errno == errno.EADDRINUSE else \
            f"cannot be bound ({error.strerror or error})"
        raise BackgroundAssetsError(
            f"{args.host} port {args.port} {reason}: choose another with --port "
            "(0 picks a free one)", ErrorCode.PORT_UNAVAILABLE) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    extra = f", faults: {', '.join(map(str, faults))}" if faults else ""
    if args.bearer_token is not None:
        extra += ", bearer token required"
    print(f"bgassets serve: serving {args.dir} at {server.url} (Ctrl-C to stop){extra}",
          flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()
    return 0
