"""The ``bgassets`` command: a dispatcher over one module per sub-command.

Each module in ``COMMANDS`` defines ``register(subparsers)``, which adds its
parser and sets ``handler`` to a function ``(args) -> int``. Modules import
their heavy dependencies inside the handler so that ``bgassets --help`` and
``validate`` start fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from orchestrator.errors import BackgroundAssetsError, UsageError
from orchestrator.storage.places import default_state_dir

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

COMMANDS = (
    "orchestrator.cli.validate",
    "orchestrator.cli.schema",
    "orchestrator.cli.init",
    "orchestrator.cli.serve",
    "orchestrator.cli.pack",
    "orchestrator.cli.packs",
    "orchestrator.cli.fetch",
    "orchestrator.cli.plan",
    "orchestrator.cli.simulate",
    "orchestrator.cli.scenario",
    "orchestrator.cli.run",
    "orchestrator.cli.daemon",
    "orchestrator.cli.tui",
    "orchestrator.cli.remote",
)



STATE_DIR_HELP = ("where the journal, app containers and the daemon's control socket live "
                  "(env BGASSETS_STATE_DIR; default: the platform's user state folder)")


def _add_global_options(parser: argparse.ArgumentParser, default: object) -> None:
    """The options every command takes, before or after its name."""
    group = parser.add_argument_group("global options")
    group.add_argument("--state-dir", metavar="DIR", default=default, help=STATE_DIR_HELP)


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every sub-command parser under ``parser``, nested ones too, each once."""
    found: dict[int, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                if id(child) not in found:
                    found[id(child)] = child
                    found.update((id(p), p) for p in _subparsers(child))
    return list(found.values())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bgassets",
        description=(
            "Background Assets for any machine: validate app and extension manifests, "
            "serve and fetch assets, plan and simulate downloads, run the orchestrator "
            "with its live UI or as a daemon, and talk to that daemon."
        ),
        epilog="Global options work before or after the command. Exit codes: 0 success, "
        "1 validation or download failure, 2 usage error.",
    )
    _add_global_options(parser, None)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        module.register(subparsers)
    # After the command, a global option must not reset what was given before it.
    for child in _subparsers(parser):
        if "--state-dir" not in child._option_string_actions:
            _add_global_options(child, argparse.SUPPRESS)
    return parser


def _state_dir(args: argparse.Namespace) -> None:
    """Fill ``args.state_dir``, check it for the access the command needs, and make it
    absolute: the paths derived from it travel to handler processes, which run in their
    extension's folder, and to a daemon's clients."""
    from orchestrator.cli.state_dir import check_state_dir

    label = "--state-dir"
    if args.state_dir is None:
        label = "BGASSETS_STATE_DIR" if os.environ.get("BGASSETS_STATE_DIR") \
            else "the default state dir"
        args.state_dir = default_state_dir()
    access = getattr(args, "state_dir_access", None)
    if access is not None:
        check_state_dir(args.state_dir, access, label)  # its messages name the dir as given
    args.state_dir = str(Path(args.state_dir).expanduser().absolute())


# The engine's write and hash threads wait for the GIL at most this long (Python's default
# is 5 ms); see ``engine.transfer.MAX_PENDING``.
SWITCH_INTERVAL = 0.001


def main(argv: Sequence[str] | None = None) -> int:
    sys.setswitchinterval(SWITCH_INTERVAL)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        _state_dir(args)
        return int(args.handler(args))
    except UsageError as error:
        print(f"bgassets {args.command}: {error.message}", file=sys.stderr)
        return EXIT_USAGE
    except BackgroundAssetsError as error:
        print(f"bgassets {args.command}: error {int(error.code)} {error.code.title}: "
              f"{error.message}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(f"bgassets {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
