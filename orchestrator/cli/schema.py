"""``bgassets schema KIND`` / ``schema --write DIR``: the JSON Schemas, for editors and projects."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from orchestrator.bundled import KINDS
from orchestrator.errors import UsageError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``schema`` command."""
    parser = subparsers.add_parser(
        "schema",
        help="print a document kind's JSON Schema, or write all of them for an editor",
        description=(
            "Print the JSON Schema of one document kind (app, extension, device, catalog), "
            "or with --write DIR write all six plus index.json (a SchemaStore-style "
            "catalog naming the files each schema is for) into DIR, so that a project can "
            "commit them and point its manifests' '# yaml-language-server: $schema=' lines "
            "and its editor settings at them. The schemas' $id names them; it is not a "
            "download location."
        ),
        epilog="Exit codes: 0 success, 2 usage error (unknown kind, unusable folder).",
    )
    parser.add_argument("kind", nargs="?", metavar="KIND",
                        help=f"one of {', '.join(KINDS)}")
    parser.add_argument("--write", type=Path, metavar="DIR",
                        help="write every schema and index.json into DIR (created if missing)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print one schema or write them all."""
    from orchestrator.bundled.editor import schema_text, write_schemas

    if args.write is not None:
        if args.kind is not None:
            raise UsageError("give either KIND or --write DIR, not both")
        try:
            written = write_schemas(args.write)
        except OSError as error:
            raise UsageError(f"{args.write}: cannot write the schemas there "
                             f"({error.strerror or error})") from None
        for path in written:
            print(path)
        print(f"{len(written)} files written; start each manifest with "
              "'# yaml-language-server: $schema=<path from the manifest's folder to "
              f"{args.write}>/<kind>.schema.json'", file=sys.stderr)
        return 0
    if args.kind is None:
        raise UsageError(f"name a kind ({', '.join(KINDS)}) or pass --write DIR")
    kind = args.kind.lower()
    if kind not in KINDS:
        raise UsageError(f"unknown kind {args.kind!r}; the kinds are {', '.join(KINDS)}")
    sys.stdout.write(schema_text(kind))
    return 0
