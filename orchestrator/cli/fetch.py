"""``bgassets fetch``: the download engine on its own, like curl or aria2c but verified.

Files go to ``DIR/<name>.part`` with their state in ``<name>.part.json`` and a
progress mark in ``<name>.part.mark`` beside it, so running the same command again
after Ctrl-C or ``kill -9`` resumes where the bytes on disk end. A file already at its
path with the expected size and sha256 is not fetched again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from orchestrator.cli.fetch_list import FetchOptions, collect_items, sha256_value, size_value
from orchestrator.cli.fetch_lock import lock_folder
from orchestrator.errors import UsageError
from orchestrator.model.hosts import allow_entry_problem

DEFAULT_JOBS = 16


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "fetch",
        help="download files: resumable, verified, segmented",
        description=(
            "Download one or many files with the bgassets engine. Bytes go to NAME.part "
            "(state in NAME.part.json and NAME.part.mark) and are renamed into place only "
            "once complete and verified; run the same command again after an interruption "
            "to resume. One fetch at a time runs into a folder: a second one waits, saying "
            "so, until the first and the process publishing its last files are done."
        ),
        epilog=(
            "List files (-i): one URL per line, optionally followed by sha256=HEX size=N "
            "out=PATH (relative to -d); blank lines and # comments are skipped. "
            "Failures are retried with backoff; once a server has refused every connection "
            "of one file's retries, its remaining files are not tried in this run. "
            "Exit codes: 0 all files verified, 1 some failed (one line each on stderr), "
            "2 usage error, 130 interrupted by Ctrl-C (143 by SIGTERM; state saved)."
        ),
    )
    parser.add_argument("urls", nargs="*", metavar="URL", help="http:// or https:// URLs")
    parser.add_argument("-i", "--input-file", dest="list_file", metavar="LIST",
                        help="read URLs from LIST ('-' for standard input)")
    parser.add_argument("-d", "--dir", dest="directory", default=".", metavar="DIR",
                        help="folder for the files (created if missing; default: .)")
    parser.add_argument("--sha256", metavar="HEX", help="expected sha256 (one URL only)")
    parser.add_argument("--size", metavar="N", help="expected size, e.g. 1048576 or 1MiB "
                        "(one URL only)")
    parser.add_argument("--connections", type=int, metavar="N",
                        help="connections per file (default: automatic)")
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS, metavar="N",
                        help=f"files fetched at once (default: {DEFAULT_JOBS})")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON event per line on standard output")
    parser.add_argument("--netrc", nargs="?", const="", default=None, metavar="FILE",
                        help="answer 401 challenges with credentials from ~/.netrc or FILE")
    parser.add_argument("--allow-host", action="append", metavar="HOST", dest="allow_hosts",
                        help="only reach these hosts, also after redirects (repeatable; "
                        "'*.example.com' for subdomains)")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="no progress line and no summary; failures are still printed")
    parser.set_defaults(handler=run)


def options_from(args: argparse.Namespace) -> FetchOptions:
    """Check the flags that do not depend on the list and bundle them."""
    if args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    if args.connections is not None and not 1 <= args.connections <= 64:
        raise UsageError(f"--connections must be between 1 and 64, got {args.connections}")
    hosts = None
    if args.allow_hosts:
        for host in args.allow_hosts:
            problem = allow_entry_problem(host)
            if problem:
                raise UsageError(f"--allow-host: {problem}")
        hosts = tuple(args.allow_hosts)
    netrc_file = None
    if args.netrc is not None:
        netrc_file = Path(args.netrc).expanduser() if args.netrc else Path("~/.netrc").expanduser()
        if not netrc_file.is_file():
            raise UsageError(f"--netrc: {netrc_file} does not exist")
    return FetchOptions(jobs=args.jobs, connections=args.connections, allowed_hosts=hosts,
                        netrc_file=netrc_file)


def run(args: argparse.Namespace) -> int:
    """Fetch every file; the exit code says whether all of them are verified."""
    directory = Path(args.directory)
    sha256 = sha256_value(args.sha256, "--sha256") if args.sha256 is not None else None
    size = size_value(args.size, "--size") if args.size is not None else None
    items = collect_items(args.urls, args.list_file, directory, sha256, size)
    options = options_from(args)
    from orchestrator.cli.fetch_run import fetch_all  # aiohttp only once the input is sound

    terminal = sys.stderr if sys.stderr.isatty() and not (args.quiet or args.json) else None
    lock = lock_folder(directory, notices=sys.stderr)
    outcome = fetch_all(items, options, terminal=terminal,
                        events=sys.stdout if args.json else None,
                        publisher_holds=() if lock is None else (lock,))
    for line in outcome.failure_lines:
        print(f"bgassets fetch: {line}", file=sys.stderr)
    if outcome.interrupted_by:
        print("bgassets fetch: interrupted; run the same command again to resume",
              file=sys.stderr)
        return 128 + outcome.interrupted_by
    if not (args.quiet or args.json):
        print(f"bgassets fetch: {outcome.summary}", file=sys.stderr)
    return 1 if outcome.failure_lines else 0
