"""``bgassets init DIR``: a new app folder that validates at once, with working modelines."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from orchestrator.bundled import EXAMPLES_PORT
from orchestrator.errors import UsageError

_BUNDLE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9-]*(\.[A-Za-z0-9-]+)+$")
_TEAM = re.compile(r"^[A-Z0-9]{10}$")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``init`` command."""
    parser = subparsers.add_parser(
        "init",
        help="scaffold a new app (manifests, catalog, schemas, editor settings) in DIR",
        description=(
            "Create DIR with app.yaml, extension.yaml, catalog.json (one essential asset, "
            "files/welcome.txt, with its exact size and sha256), the four JSON Schemas with "
            "an index, and .vscode/settings.json. Every manifest's first line points its "
            "editor at the schemas relative to DIR, so it validates as you type, and "
            "`bgassets validate DIR` passes at once. With --example NAME, copy one of the "
            "bundled examples instead."
        ),
        epilog=(
            "Try it: bgassets init apps/my-game && bgassets serve apps --port 8470 & "
            "bgassets simulate install apps/my-game/app.yaml. "
            "Exit codes: 0 success, 2 usage error (a file exists, a bad id, unusable DIR)."
        ),
    )
    parser.add_argument("directory", type=Path, metavar="DIR", help="the new app's folder")
    parser.add_argument("--id", dest="app_id", metavar="BUNDLE_ID",
                        help="the app's reverse-DNS id (default: com.example.<DIR name>)")
    parser.add_argument("--team", default="EXAMPLE123",
                        help="the developer team id, ten upper-case letters or digits "
                        "(default EXAMPLE123)")
    parser.add_argument("--name", help="the app's display name (default: from DIR)")
    parser.add_argument("--example", metavar="NAME",
                        help="copy a bundled example instead (wwdc-sessions, level-packs, "
                        "offline-models)")
    parser.add_argument("--manifest-url", metavar="URL",
                        help="where the catalog will be served (default "
                        "http://127.0.0.1:8470/<DIR name>/catalog.json, as `bgassets serve` "
                        "of DIR's parent folder on port 8470 serves it)")
    parser.add_argument("--schemas", type=Path, metavar="SCHEMAS_DIR",
                        help="where to write the schemas (default DIR/schemas); for several "
                        "apps in one project, share one folder")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Write the scaffold; print what was written and what to do next."""
    from orchestrator.bundled.scaffold import (
        Identity,
        example_names,
        planned_files,
        scaffold,
        slug,
    )

    folder: Path = args.directory
    schemas: Path = args.schemas or folder / "schemas"
    if args.example is not None and args.example not in example_names():
        raise UsageError(f"--example: no bundled example {args.example!r}; "
                         f"choose one of {', '.join(example_names())}")
    short = slug(folder)
    identity = Identity(
        app_id=args.app_id or f"com.example.{short}",
        team=args.team,
        name=args.name or short.replace("-", " ").title(),
        manifest_url=args.manifest_url or f"http://127.0.0.1:{EXAMPLES_PORT}/{short}/catalog.json",
    )
    if not _BUNDLE_ID.match(identity.app_id):
        raise UsageError(f"--id: {identity.app_id!r} is not a reverse-DNS id such as "
                         "com.example.my-game")
    if args.example is not None and args.manifest_url is not None:
        raise UsageError("--manifest-url applies to a new app, not to a copied --example")
    if not identity.manifest_url.startswith(("http://", "https://")):
        raise UsageError(f"--manifest-url: {identity.manifest_url!r} is not an http(s) URL")
    if not _TEAM.match(identity.team):
        raise UsageError(f"--team: {identity.team!r} is not ten upper-case letters or digits")
    if not args.force:
        existing = [path for path in planned_files(folder, schemas, args.example)
                    if path.exists()]
        if existing:
            raise UsageError(f"{existing[0]} exists already (use --force to overwrite)")
    try:
        written = scaffold(folder, schemas, identity, args.example)
    except OSError as error:
        where = error.filename or folder
        raise UsageError(f"{where}: cannot write there ({error.strerror or error})") from None
    for path in written:
        print(path)
    print(f"next: bgassets validate {folder}", file=sys.stderr)
    return 0
