"""Reading one file into a located document and deciding which kind it is."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from orchestrator.manifests.jsonlocate import JsonLocator
from orchestrator.manifests.problems import LocatedError, PathTuple, Problem, dotted
from orchestrator.manifests.schema import Locator, describe
from orchestrator.manifests.yamlload import decode, load_yaml, number

API_VERSION = "bgassets/v1"
KINDS = {"App": "app", "Extension": "extension", "Device": "device"}
# Below this size JSON objects are checked for duplicate keys; on large catalogs the
# check would cost 0.2 s per 100,000 assets (measured), more than the whole validation.
DUPLICATE_CHECK_LIMIT = 1 << 20


@dataclass
class Source:
    """One parsed file: its data, where each node is, its kind and what is wrong with it.

    ``kind`` is app, extension, device or catalog; None when it could not be told.
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


def _parse_json(text: str) -> tuple[Any, Locator]:
    """JSON text with a lazy locator; duplicate keys found only in small files."""
    try:
        if len(text) <= DUPLICATE_CHECK_LIMIT:
            return json.loads(text, object_pairs_hook=_pairs, parse_float=number), \
                JsonLocator(text)
        return json.loads(text, parse_float=number), JsonLocator(text)
    except _DuplicateKey:
        return load_yaml(text)  # JSON is YAML: this locates the duplicate key, and raises
    except json.JSONDecodeError as error:
        raise LocatedError(f"JSON syntax: {error.msg}", error.lineno, error.colno) from None
    except RecursionError:
        raise LocatedError("the document is nested too deeply") from None
    except ValueError:  # Python refuses integers of more than 4300 digits
        raise LocatedError("JSON: a number has too many digits to be read") from None


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
            source.data, source.locator = _parse_json(text)
        else:
            source.data, source.locator = load_yaml(text)
    except LocatedError as error:
        source.problems.append(error.problem(file))
        return source
    source.kind = classify(source)
    return source


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
