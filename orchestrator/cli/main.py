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

from orchestrator.errors import BackgroundAssetsError, UsageError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

COMMANDS = (
    "orchestrator.cli.validate",
    "orchestrator.cli.schema",
    "orchestrator.cli.init",
    "orchestrator.cli.serve",
    "orchestrator.cli.fetch",
    "orchestrator.cli.plan",
    "orchestrator.cli.simulate",
    "orchestrator.cli.run",
    "orchestrator.cli.daemon",
    "orchestrator.cli.tui",
    "orchestrator.cli.remote",
)


def default_state_dir() -> str:
    """``BGASSETS_STATE_DIR`` if set, else the platform's user state folder."""
    env = os.environ.get("BGASSETS_STATE_DIR")
    if env:
        return env
    import platformdirs

    return platformdirs.user_state_dir("bgassets")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bgassets",
        description=(
            "Background Assets for any machine: validate app and extension manifests, "
            "serve and fetch assets, and plan and simulate downloads."
        ),
        epilog="Exit codes: 0 success, 1 validation or download failure, 2 usage error.",
    )
    parser.add_argument(
        "--state-dir",
        default=None,
        help="where the journal and app containers live (env BGASSETS_STATE_DIR; "
        "default: the platform's user state folder)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if args.state_dir is None:
        args.state_dir = default_state_dir()
    try:
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
