"""``bgassets scenario run|new``: timelines of device life on a virtual clock."""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from orchestrator.errors import BackgroundAssetsError, ErrorCode, UsageError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "scenario", help="play scenarios (kind: Scenario) on a virtual clock, or write one",
        description="A scenario is a timeline of device life for an app: install, launches, "
        "periodic runs, device and server changes, and expectations at given moments. "
        "`scenario run` plays it with a real orchestrator and dev server on loopback, on a "
        "virtual clock that jumps ahead whenever nothing transfers, so days take seconds. "
        "`scenario new` writes a commented example to start from.")
    actions = parser.add_subparsers(dest="scenario_action", metavar="ACTION", required=True)
    run_parser = actions.add_parser(
        "run", help="play scenarios and check their expectations",
        description="Play each scenario (files, or folders of them) in a scratch state dir "
        "of its own and print its timeline: the virtual time, what happened, the outcome. "
        "A scenario whose expectation fails goes on to its end, and every failure names "
        "its step, what was expected and what was found.",
        epilog="Exit codes: 0 every scenario passed, 1 one failed or could not be played "
        "(a bad manifest, the port taken), 2 usage error.")
    run_parser.add_argument("files", nargs="+", type=Path, metavar="FILE",
                            help="Scenario manifests, or folders of them (*.yaml)")
    run_parser.add_argument("--json", action="store_true",
                            help="print one JSON object per timeline line and per scenario")
    run_parser.add_argument("--junit", type=Path, metavar="OUT.xml",
                            help="also write a JUnit XML report for CI systems")
    run_parser.add_argument("--keep", type=Path, metavar="DIR",
                            help="keep each scenario's state dir (journal, containers) in "
                            "DIR/<name> instead of removing it")
    run_parser.set_defaults(handler=run)
    new_parser = actions.add_parser(
        "new", help="write a commented example scenario",
        description="Write a commented example scenario for an app to FILE (default: "
        "print it). Its modeline points at a schemas/ folder found next to it or above; "
        "without one, the schemas are written to a schemas/ folder beside FILE.",
        epilog="Exit codes: 0 written, 2 usage error (FILE exists).")
    new_parser.add_argument("file", nargs="?", type=Path, metavar="FILE",
                            help="where to write it, such as scenarios/first-week.yaml")
    new_parser.add_argument("--app", type=Path, default=Path("app.yaml"), metavar="APP.yaml",
                            help="the App manifest the scenario plays (default app.yaml)")
    new_parser.add_argument("--force", action="store_true", help="replace FILE if it exists")
    new_parser.set_defaults(handler=new)


def _scenario_files(given: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in given:
        if path.is_dir():
            found = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
            if not found:
                raise UsageError(f"{path}: no *.yaml scenario in this folder")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"{path}: no such file or folder")
    return files


def run(args: argparse.Namespace) -> int:
    files = _scenario_files(args.files)
    if args.junit is not None and args.junit.is_dir():
        raise UsageError(f"--junit {args.junit}: a folder; name the file to write")
    for option, folder in (("--junit", args.junit and args.junit.parent), ("--keep", args.keep)):
        if folder is not None:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise UsageError(f"{option}: cannot make the folder {folder}: "
                                 f"{error.strerror or error}") from None
    return asyncio.run(_run_all(args, files))


async def _run_all(args: argparse.Namespace, files: list[Path]) -> int:
    from orchestrator.manifests import load_scenario
    from orchestrator.scenario import Result
    from orchestrator.scenario.report import JsonPrinter, TimelinePrinter, write_junit

    printer = JsonPrinter(sys.stdout) if args.json else TimelinePrinter(sys.stdout)
    results: list[Result] = []
    errors: list[tuple[Path, str]] = []
    for file in files:
        try:
            scenario = load_scenario(file)
            printer.begin(scenario)
            result = await _play(scenario, args.keep, printer)
        except (BackgroundAssetsError, OSError) as error:
            message = str(error) if isinstance(error, BackgroundAssetsError) else \
                f"{file}: cannot play it: {error.filename or ''} {error.strerror or error}"
            errors.append((file, message))
            print(f"bgassets scenario: {message}", file=sys.stderr)
            continue
        printer.end(result)
        results.append(result)
    if args.junit is not None:
        try:
            write_junit(args.junit, results, errors)
        except OSError as error:
            raise BackgroundAssetsError(f"--junit {args.junit}: cannot write it: "
                                        f"{error.strerror or error}",
                                        ErrorCode.DISK_ERROR) from None
    failed = sum(not r.passed for r in results) + len(errors)
    if not args.json and len(files) > 1:
        print(f"{len(files) - failed} of {len(files)} scenarios passed")
    return 1 if failed else 0


async def _play(scenario: Any, keep: Path | None, printer: Any) -> Any:
    from orchestrator.scenario import ScenarioRun

    if keep is not None:
        work = keep / scenario.name
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        return await ScenarioRun(scenario, work, on_line=printer).run()
    with tempfile.TemporaryDirectory(prefix="bgassets-scenario-") as scratch:
        return await ScenarioRun(scenario, Path(scratch), on_line=printer).run()


def new(args: argparse.Namespace) -> int:
    from orchestrator.bundled.editor import modeline, relative_to, write_file, write_schemas
    from orchestrator.scenario.template import scenario_text

    if args.file is None:
        print(scenario_text(modeline("scenario", "../schemas"), "first-week",
                            args.app.as_posix()), end="")
        return 0
    target: Path = args.file
    if target.exists() and not args.force:
        raise UsageError(f"{target}: exists already; pass --force to replace it")
    folder = target.parent
    name = re.sub(r"[^a-z0-9]+", "-", target.stem.lower()).strip("-") or "scenario"
    app = relative_to(args.app, folder) if args.app.is_absolute() or args.app.exists() \
        else args.app.as_posix()
    try:
        schemas = _schemas_near(folder)
        if schemas is None:
            schemas = folder / "schemas"
            write_schemas(schemas)
        write_file(target, scenario_text(modeline("scenario", relative_to(schemas, folder)),
                                         name, app.removeprefix("./")))
    except OSError as error:
        raise UsageError(f"{target}: cannot write it: {error.strerror or error}") from None
    print(f"wrote {target}; play it with: bgassets scenario run {target}")
    return 0


def _schemas_near(folder: Path) -> Path | None:
    """A ``schemas/`` folder with the scenario schema in ``folder`` or above it."""
    for place in (folder.resolve(), *folder.resolve().parents):
        if (place / "schemas" / "scenario.schema.json").is_file():
            return place / "schemas"
    return None
