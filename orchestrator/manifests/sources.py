"""Reading one file into a located document and deciding which kind it is."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from orchestrator.errors import LocatedError
from orchestrator.manifests.jsonlocate import JsonLocator
from orchestrator.manifests.problems import (
    PathTuple,
    Problem,
    dotted,
    located_problem,
    position,
)
from orchestrator.manifests.schema import Locator, describe
from orchestrator.manifests.yamlload import MAX_DEPTH, decode, load_yaml, number

API_VERSION = "bgassets/v1"
KINDS = {"App": "app", "Extension": "extension", "Device": "device", "AssetPack": "assetpack",
         "Scenario": "scenario"}
# Below this size JSON objects are checked for duplicate keys; on large catalogs the
# check would cost 0.2 s per 100,000 assets (measured), more than the whole validation.
DUPLICATE_CHECK_LIMIT = 1 << 20


@dataclass
class Source:
    """One parsed file: its data, where each node is, its kind and what is wrong with it.

    ``kind`` is app, extension, device, assetpack, scenario or catalog; None when it could
    not be told.
    """

    file: str
    data: Any = None
    locator: Locator | None = None
    kind: str | None = None
    problems: list[Problem] = field(default_factory=list)
    directory: str | None = None
    valid: bool = False

    def report(self, path: PathTuple, message: str, *, key: bool = False) -> None:
        """Record a problem at the value (or with ``key`` the key) at ``path``."""
        where = (1, 1) if self.locator is None else (
            self.locator.key(path) if key else self.locator.value(path))
        self.problems.append(Problem(self.file, where[0], where[1], dotted(path), message))

    def get(self, *path: str | int) -> Any:
        """The value at ``path`` or None, whatever shapes the document has."""
        node = self.data
        for part in path:
            if isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node):
                node = node[part]
            elif isinstance(part, str) and isinstance(node, dict):
                node = node.get(part)
            else:
                return None
        return node


class _DuplicateKey(Exception):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _DuplicateKey
    return result


class _NotANumber(Exception):
    pass


def _constant(name: str) -> Any:
    raise _NotANumber(name)


# Skipping strings, NaN, Infinity and -Infinity (Python's json reads them, JSON has
# none) and integers longer than Python reads (4300 digits). A long integer is looked
# for only where a number starts, not in a fraction or an exponent: tried at every
# digit, a file of 3999-digit numbers took 7 ms per number.
_CONSTANT = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)')
_LONG_NUMBER = re.compile(r'"(?:[^"\\]|\\.)*"|(?<![0-9.eE+-])(-?[0-9]{4000,})')


def _outside_strings(text: str, pattern: re.Pattern[str]) -> tuple[int, int, str] | None:
    """The line, column and text of the first match of ``pattern``'s group outside strings."""
    for match in pattern.finditer(text):
        if match.group(1):
            return (*position(text, match.start(1)), match.group(1))
    return None


def _constant_error(text: str) -> LocatedError:
    found = _outside_strings(text, _CONSTANT)
    if found is None:
        return LocatedError("JSON has no NaN or Infinity: write a number")
    line, column, name = found
    return LocatedError(f"JSON has no {name}: write a number", line, column)


def _long_number_error(text: str) -> LocatedError:
    line, column, _ = _outside_strings(text, _LONG_NUMBER) or (1, 1, "")
    return LocatedError("JSON: a number has too many digits to be read", line, column)


def _parse_json(text: str, data: bytes) -> tuple[Any, Locator]:
    """JSON ``text`` (decoded from ``data``) with a lazy locator; duplicate keys found
    only in small files."""
    try:
        if len(text) <= DUPLICATE_CHECK_LIMIT:
            return json.loads(text, object_pairs_hook=_pairs, parse_float=number,
                              parse_constant=_constant), JsonLocator(text)
        return json.loads(text, parse_float=number, parse_constant=_constant), \
            JsonLocator(data)
    except _DuplicateKey:
        return load_yaml(text)  # JSON is YAML: this locates the duplicate key, and raises
    except _NotANumber:
        raise _constant_error(text) from None
    except json.JSONDecodeError as error:
        raise LocatedError(f"JSON syntax: {error.msg}", error.lineno, error.colno) from None
    except RecursionError:
        raise LocatedError("the document is nested too deeply") from None
    except ValueError:  # Python refuses integers of more than 4300 digits
        raise _long_number_error(text) from None


_JSON_START = re.compile(r"[ \t\r\n]*[\[{]")


def looks_like_json(text: str) -> bool:
    """Whether ``text`` starts like a JSON object or array (without copying it)."""
    return _JSON_START.match(text) is not None


def parse(file: str, data: bytes, *, json_first: bool) -> Source:
    """Read ``data`` into a :class:`Source`; reading problems are recorded, never raised."""
    source = Source(file)
    try:
        text = decode(data)
        if json_first and looks_like_json(text):
            source.data, source.locator = _parse_json(text, data)
        else:
            source.data, source.locator = load_yaml(text)
        if _SURROGATE_ESCAPE.search(text):
            _refuse_surrogates(source.data, source.locator)
    except LocatedError as error:
        source.problems.append(located_problem(error, file))
        return source
    source.kind = classify(source)
    return source


_SURROGATE = re.compile("[\ud800-\udfff]")
# Only an escape makes a surrogate (in a pair, as JSON writes emoji, or alone).
_SURROGATE_ESCAPE = re.compile(r"\\(?:u|U0000)[dD][89a-fA-F]")


def _surrogate_at(data: Any) -> tuple[PathTuple, bool] | None:
    """The path of the first text (or, with True, key) holding a lone surrogate.

    Walked with a stack of its own: a JSON document may be nested deeper than Python's
    recursion allows.
    """
    stack: list[tuple[PathTuple, Any]] = [((), data)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                return path, False
        elif isinstance(node, list):
            stack.extend(((*path, index), item) for index, item in reversed(list(
                enumerate(node))))
        elif isinstance(node, dict):
            for key in node:
                if isinstance(key, str) and _SURROGATE.search(key):
                    return (*path, key), True
            stack.extend(((*path, key), item) for key, item in reversed(list(node.items())))
    return None


def too_deep(data: Any, limit: int = MAX_DEPTH) -> PathTuple | None:
    """The path of the first value nested deeper than ``limit`` levels, if there is one."""
    stack: list[tuple[PathTuple, Any]] = [((), data)]
    while stack:
        path, node = stack.pop()
        if len(path) > limit:
            return path
        if isinstance(node, list):
            stack.extend(((*path, index), item) for index, item in reversed(list(
                enumerate(node))))
        elif isinstance(node, dict):
            stack.extend(((*path, key), item) for key, item in reversed(list(node.items())))
    return None


def _refuse_surrogates(data: Any, locator: Locator) -> None:
    """A located error for a lone surrogate escape such as ``"\\ud800"``.

    Such a string is no Unicode text: it cannot be written as UTF-8, and the schema
    validator (which needs UTF-8) would fail on it. Only escapes make one, so only
    files with a surrogate escape are walked.
    """
    found = _surrogate_at(data)
    if found is None:
        return
    path, is_key = found
    line, column = locator.key(path) if is_key else locator.value(path)
    what = "key" if is_key else "text"
    shown = tuple(_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", part)
                  if isinstance(part, str) else part for part in path)
    raise LocatedError(f"this {what} holds a lone UTF-16 surrogate (an escape such as \\ud800 "
                       "without its pair), which is not Unicode text: remove it or write the "
                       "full character", line, column, dotted(shown))


def classify(source: Source) -> str | None:
    """The kind of a parsed document; a problem is recorded when it cannot be told."""
    data = source.data
    if not isinstance(data, dict):
        source.report((), f"the top level is {_kind_of(data)}: expected a mapping with "
                      "apiVersion, kind, metadata and spec (or version and assets for a catalog)")
        return None
    if "kind" not in data:
        if "assets" in data or "version" in data:
            return "catalog"
        source.report((), "missing 'kind': expected App, Extension or Device "
                      "(or version and assets for a catalog)")
        return None
    kind = data["kind"]
    if not isinstance(kind, str) or kind not in KINDS:
        close = difflib.get_close_matches(str(kind), list(KINDS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        source.report(("kind",), f"kind: unknown kind {describe(kind)}{hint}; expected App, "
                      "Extension or Device")
        return None
    if "apiVersion" not in data:
        source.report((), f"missing 'apiVersion': add apiVersion: {API_VERSION}")
        return None
    if data["apiVersion"] != API_VERSION:
        source.report(("apiVersion",), f"apiVersion: unknown apiVersion "
                      f"{describe(data['apiVersion'])}; "
                      f"expected {API_VERSION}")
        return None
    return KINDS[kind]


def _kind_of(data: Any) -> str:
    if isinstance(data, list):
        return "a list"
    if data is None:
        return "empty"
    return f"a single value ({type(data).__name__})"
