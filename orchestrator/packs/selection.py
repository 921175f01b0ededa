"""Which files of a source folder each pack holds, and what is wrong with the selectors.

A ``file:`` selector names one regular file; a ``directory:`` selector takes every
regular file below a folder (symlinks are not followed, so nothing outside the source
folder gets in), narrowed by ``include`` and ``exclude`` globs relative to that folder.
A selector that matches nothing is a problem, and so is a path two packs claim: the
framework leaves the winner undefined, here the build refuses it.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath

from orchestrator.model.pack import AssetPack, Selector


@dataclass(frozen=True)
class SelectionProblem:
    """What is wrong with selector ``selector`` of pack number ``pack`` (in the order given)."""

    pack: int
    selector: int
    message: str


@dataclass
class Selection:
    """The files of each pack (by id, sorted source-relative POSIX paths), and problems."""

    files: dict[str, list[str]] = field(default_factory=dict)
    problems: list[SelectionProblem] = field(default_factory=list)


@cache
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob as a regular expression over POSIX paths: ``*`` and ``?`` stay within one
    folder, ``**`` crosses folders (``**/`` also matches no folder at all), ``[...]`` is
    a set."""
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
            continue
        if pattern.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", index + 2 if pattern[index + 1:index + 2] == "!" else index + 1)
            if end < 0:
                out.append(re.escape(char))
            else:
                body = pattern[index + 1:end]
                body = "^" + body[1:] if body.startswith("!") else body
                out.append(f"[{body.replace(chr(92), chr(92) * 2)}]")
                index = end
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("".join(out) + r"\Z")


def matches(path: str, globs: Sequence[str]) -> bool:
    return any(glob_regex(pattern).match(path) for pattern in globs)


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _walk(folder: Path) -> list[str]:
    """Every regular file below ``folder``, relative to it, sorted; symlinks not followed."""
    found = []
    for root, folders, names in os.walk(folder, followlinks=False):
        folders.sort()
        base = Path(root)
        for name in sorted(names):
            if _regular(base / name):
                found.append((base / name).relative_to(folder).as_posix())
    return sorted(found)


def _selected(source: Path, selector: Selector) -> tuple[list[str], str | None]:
    """The source-relative paths a selector takes, or why it takes none."""
    if selector.file is not None:
        path = source / selector.file
        if not _regular(path):
            why = "is not a regular file" if os.path.lexists(path) else "does not exist"
            return [], f"file {selector.file!r} {why} in {source}"
        return [PurePosixPath(selector.file).as_posix()], None
    assert selector.directory is not None
    folder = source / selector.directory
    if not folder.is_dir() or folder.is_symlink():
        return [], f"directory {selector.directory!r} is not a folder in {source}"
    prefix = PurePosixPath(selector.directory)
    chosen = [rel for rel in _walk(folder)
              if (not selector.include or matches(rel, selector.include))
              and not matches(rel, selector.exclude)]
    if not chosen:
        narrowed = " after include and exclude" if selector.include or selector.exclude else ""
        return [], f"directory {selector.directory!r} has no files{narrowed} in {source}"
    return [(prefix / rel).as_posix() if str(prefix) != "." else rel for rel in chosen], None


def select(packs: Sequence[AssetPack], source: Path) -> Selection:
    """The files of every pack in ``source``; problems name the pack and selector."""
    selection = Selection()
    owner: dict[str, tuple[int, int]] = {}  # path -> (pack number, selector)
    told: set[tuple[int, int, int, int]] = set()
    for number, pack in enumerate(packs):
        mine: set[str] = set()
        for selector in pack.files:
            paths, problem = _selected(source, selector)
            if problem is not None:
                selection.problems.append(SelectionProblem(number, selector.where, problem))
            for path in paths:
                claimed = owner.setdefault(path, (number, selector.where))
                if claimed[0] != number:
                    _overlap(selection, told, packs, path, claimed, (number, selector.where))
                    continue
                mine.add(path)
        selection.files[pack.id] = sorted(mine)
    return selection


def _overlap(selection: Selection, told: set[tuple[int, int, int, int]],
             packs: Sequence[AssetPack], path: str, first: tuple[int, int],
             second: tuple[int, int]) -> None:
    """Report a path two packs claim on both selectors (once per pair), each naming the
    other: which of the two should have it is for the author to say."""
    if (*first, *second) in told:
        return
    told.add((*first, *second))
    for (mine, where), (other, theirs) in ((first, second), (second, first)):
        selection.problems.append(SelectionProblem(
            mine, where, f"{path!r} is claimed by pack {packs[other].id!r} too (its "
            f"spec.files[{theirs}]); a path belongs to one pack"))
