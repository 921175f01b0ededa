"""``bgassets validate PATH...``: schema and cross-document checks, one located line per problem."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from orchestrator.errors import UsageError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``validate`` command."""
    parser = subparsers.add_parser(
        "validate",
        help="check manifests and catalogs against the schemas and each other",
        description=(
            "Validate App, Extension, Device and AssetPack manifests and catalogs (YAML or "
            "JSON). Folders are searched recursively for *.yaml, *.yml and *.json. Files "
            "given together are checked against each other: an app against its extension, "
            "ids unique. Prints FILE:LINE:COL: message per problem."
        ),
        epilog="Exit codes: 0 all valid, 1 any problem, 2 usage error.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="manifest files or folders")
    parser.add_argument("--source", metavar="DIR", type=Path, default=None,
                        help="the folder AssetPack selectors name files in: check that each "
                        "selector matches a file and that no path is in two packs (as "
                        "pack build does)")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text: FILE:LINE:COL: message lines; json: a list of "
                        "{file, line, column, path, message}")
    parser.set_defaults(handler=run)


def _count_files(paths: list[str]) -> int:
    from orchestrator.manifests.documents import walk_files

    return sum(sum(1 for _ in walk_files(Path(p))) if Path(p).is_dir() else 1 for p in paths)


def _print_line(text: str) -> None:
    """Print one problem line, whatever the terminal can encode.

    A file name that is not UTF-8 reaches Python as surrogate escapes, which a UTF-8
    terminal refuses (UnicodeEncodeError): such a name is written as the bytes it has
    on disk, as ls and compilers print it, and any other character the terminal's
    encoding lacks as a backslash escape.
    """
    try:
        print(text)
        return
    except UnicodeEncodeError:
        pass
    stream = sys.stdout
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        data = f"{text}\n".encode(encoding, "surrogateescape")
    except UnicodeEncodeError:
        data = f"{text}\n".encode(encoding, "backslashreplace")
    stream.flush()
    stream.buffer.write(data)
    stream.buffer.flush()


def run(args: argparse.Namespace) -> int:
    """Validate ``args.paths``; print the problems; 0 when there is none, else 1."""
    from orchestrator.manifests import validate_paths

    # A dangling link is the link's problem, reported with the others, not a usage error.
    missing = [path for path in args.paths if not os.path.lexists(path)]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    if args.source is not None and not args.source.is_dir():
        raise UsageError(f"--source {args.source}: no such folder")
    try:
        problems = validate_paths(args.paths, pack_source=args.source)
    except (RecursionError, MemoryError) as error:
        print(f"bgassets validate: cannot validate, the input is too large or too deeply "
              f"nested ({type(error).__name__})", file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps([problem.as_dict() for problem in problems], indent=2))
    else:
        for problem in problems:
            _print_line(str(problem))
    files = len({problem.file for problem in problems})
    if problems:
        noun = "problem" if len(problems) == 1 else "problems"
        print(f"{len(problems)} {noun} in {files} file{'s' if files != 1 else ''}",
              file=sys.stderr)
        return 1
    total = _count_files(args.paths)
    print(f"{total} file{'s' if total != 1 else ''} valid", file=sys.stderr)
    return 0
