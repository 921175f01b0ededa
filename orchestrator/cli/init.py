"""``bgassets init DIR``: a new app folder that validates at once, with working modelines."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.bundled import EXAMPLES_PORT
from orchestrator.errors import UsageError

if TYPE_CHECKING:
    from orchestrator.bundled.scaffold import Identity


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``init`` command."""
    parser = subparsers.add_parser(
        "init",
        help="scaffold a new app (manifests, catalog, schemas, editor settings) in DIR",
        description=(
            "Create DIR with app.yaml, extension.yaml, catalog.json (one essential asset, "
            "files/welcome.txt, with its exact size and sha256), the six JSON Schemas with "
            "an index, and .vscode/settings.json. Every manifest's first line points its "
            "editor at the schemas relative to DIR, so it validates as you type, and "
            "`bgassets validate DIR` passes at once. With --example NAME, copy one of the "
            "bundled examples instead, under this app's identity and URL."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "Try it:\n"
            "  bgassets init apps/my-game\n"
            f"  bgassets serve apps --port {EXAMPLES_PORT} &\n"
            "  bgassets simulate install apps/my-game/app.yaml --wait all\n\n"
            "Exit codes: 0 success, 2 usage error (a file exists with other content, "
            "a bad id, an unusable DIR)."
        ),
    )
    parser.add_argument("directory", type=Path, metavar="DIR", help="the new app's folder")
    parser.add_argument("--id", dest="app_id", metavar="BUNDLE_ID",
                        help="the app's reverse-DNS id (default: com.example.<DIR name>, or "
                        "the example's)")
    parser.add_argument("--team", help="the developer team id, ten upper-case letters or "
                        "digits (default EXAMPLE123)")
    parser.add_argument("--name", help="the app's display name (default: from DIR)")
    parser.add_argument("--manifest-url", metavar="URL",
                        help=f"where the catalog will be served (default http://127.0.0.1:"
                        f"{EXAMPLES_PORT}/<DIR name>/catalog.json, where `bgassets serve` of "
                        f"DIR's parent folder on port {EXAMPLES_PORT} serves it)")
    parser.add_argument("--example", metavar="NAME",
                        help="copy a bundled example instead (wwdc-sessions, level-packs, "
                        "offline-models)")
    parser.add_argument("--schemas", type=Path, metavar="SCHEMAS_DIR",
                        help="where to write the schemas (default DIR/schemas); apps of one "
                        "project can share one folder")
    parser.add_argument("--force", action="store_true",
                        help="overwrite files that exist with other content")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Write the scaffold; print what was written and what to do next."""
    from orchestrator.bundled.editor import write_files
    from orchestrator.bundled.scaffold import conflicts, identity_problem, scaffold_files

    folder: Path = args.directory
    identity = _identity(args)
    problem = identity_problem(identity)
    if problem is not None:
        raise UsageError(problem)
    files = scaffold_files(folder, args.schemas or folder / "schemas", identity, args.example)
    clashing = [] if args.force else conflicts(files)
    if clashing:
        raise UsageError(f"{clashing[0]} exists already with other content "
                         "(use --force to overwrite)")
    try:
        written = write_files(files)
    except OSError as error:
        where = error.filename or folder
        raise UsageError(f"{where}: cannot write there ({error.strerror or error})") from None
    for path in written:
        print(path)
    print(f"next: bgassets validate {shlex.quote(str(folder))}", file=sys.stderr)
    return 0


def _identity(args: argparse.Namespace) -> Identity:
    """The new app's identity: the options given, else the example's, else from DIR."""
    from orchestrator.bundled.scaffold import (
        Identity,
        default_manifest_url,
        example_identity,
        example_names,
        slug,
    )

    short = slug(args.directory)
    if args.example is None:
        base = Identity(f"com.example.{short}", "EXAMPLE123", short.replace("-", " ").title(),
                        "")
    elif args.example in example_names():
        base = example_identity(args.example)
    else:
        raise UsageError(f"--example: no bundled example {args.example!r}; "
                         f"choose one of {', '.join(example_names())}")
    return Identity(
        app_id=args.app_id or base.app_id,
        team=args.team or base.team,
        name=args.name or base.name,
        manifest_url=args.manifest_url or default_manifest_url(args.directory),
    )
