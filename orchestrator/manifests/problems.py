"""Problems found in manifests and catalogs, each with its file, line and column."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from orchestrator.errors import LocatedError, ManifestError

# What would end a line or drive the terminal if printed as it is: C0 and C1 controls,
# DEL, and Unicode's line and paragraph separators.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """``text`` with every control character written as its escape (``\\n``, ``\\x1b``).

    File names and values come from documents and catalogs: printed raw, a newline
    splits one ``FILE:LINE:COL: message`` line in two, an escape sequence recolours
    or retitles the terminal.
    """
    if _UNPRINTABLE.search(text) is None:
        return text
    return _UNPRINTABLE.sub(lambda match: repr(match.group())[1:-1], text)

PathTuple = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with one document, located for people and editors.

    ``line`` and ``column`` are 1-based; ``path`` is the dotted path of the
    offending node (``spec.rules[0].destination``), empty for the whole file.
    """

    file: str
    line: int
    column: int
    path: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        """The JSON form printed by ``bgassets validate --format json``."""
        return asdict(self)

    def __str__(self) -> str:
        return printable(f"{self.file}:{self.line}:{self.column}: {self.message}")


def located_problem(error: LocatedError, file: str) -> Problem:
    """``error`` as a :class:`Problem` in ``file``, its message led by its path."""
    message = error.message
    if error.path and not message.startswith(f"{error.path}:"):
        message = f"{error.path}: {message}"
    return Problem(file, error.line, error.column, error.path, message)


def dotted(path: PathTuple) -> str:
    """``("spec", "rules", 0, "destination")`` -> ``spec.rules[0].destination``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of character ``offset`` in ``text``."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


# An error listing thousands of problems (a catalog of duplicate ids) would travel in
# every event and log line; validate lists them all.
MAX_LISTED = 50


def raise_problems(problems: list[Problem]) -> None:
    """Raise :class:`ManifestError` listing ``problems`` (the first MAX_LISTED) if any."""
    if problems:
        lines = [str(problem) for problem in problems[:MAX_LISTED]]
        if len(problems) > MAX_LISTED:
            lines.append(f"... and {len(problems) - MAX_LISTED} more problems: run bgassets "
                         "validate to see them all")
        raise ManifestError("\n".join(lines))
