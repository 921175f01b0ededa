"""A safe YAML reader that keeps the position of every node and refuses YAML's pitfalls.

PyYAML silently keeps the last of two equal keys and expands aliases without
limit (billion laughs); here both are located errors. The reader walks the
parser's events itself (libyaml's C parser when available), so it never
builds a node graph and never expands an alias.

Plain scalars are read with the YAML 1.2 core schema, as yaml-language-server
and other YAML 1.2 editors read them, not with PyYAML's YAML 1.1 rules: only
true and false (also True, TRUE, False, FALSE) are booleans, so ``yes``, ``no``,
``on`` and ``off`` are text; ``017`` is seventeen; ``1_000``, ``0b101``,
``1:30`` and dates are text. An editor and ``bgassets validate`` then see the
same values and report the same mistakes.
"""

from __future__ import annotations

import datetime
import decimal
import math
import re
from collections.abc import Callable
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode

from orchestrator.errors import LocatedError
from orchestrator.manifests.problems import PathTuple, dotted, position

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_DEPTH = 64
# Beyond this, messages could not even print the number (Python's 4300-digit limit).
MAX_INT_BITS = 1024
_JSON_TYPES = (str, int, float, bool, type(None))
_CORE = "tag:yaml.org,2002:"


def number(text: str) -> int | float:
    """The value of a float literal; an integral one with an exponent is that integer.

    An editor's numbers are JavaScript's, in which ``1e9`` is an integer; here it is too,
    so that ``size: 1e9`` means 10**9 bytes to the model as to the schema. ``1.0`` stays
    a float, so a version written as a number is still shown as it was written.
    """
    value = float(text)
    if "e" in text.lower() and math.isfinite(value) and value.is_integer():
        exact = decimal.Decimal(text)
        if exact == exact.to_integral_value():
            return int(exact)
    return value


# The YAML 1.2 core schema's tag resolution (YAML 1.2.2, section 10.3.2), in its order.
CORE_SCALARS: tuple[tuple[str, re.Pattern[str], Callable[[str], Any]], ...] = (
    ("null", re.compile(r"~|null|Null|NULL|"), lambda text: None),
    ("bool", re.compile(r"true|True|TRUE"), lambda text: True),
    ("bool", re.compile(r"false|False|FALSE"), lambda text: False),
    ("int", re.compile(r"[-+]?[0-9]+"), int),
    ("int", re.compile(r"0o[0-7]+"), lambda text: int(text[2:], 8)),
    ("int", re.compile(r"0x[0-9a-fA-F]+"), lambda text: int(text[2:], 16)),
    ("float", re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"), number),
    ("float", re.compile(r"[-+]?\.(inf|Inf|INF)"), lambda text: float(text.replace(".", ""))),
    ("float", re.compile(r"\.(nan|NaN|NAN)"), lambda text: math.nan),
)


def core_scalar(text: str) -> tuple[str, Any]:
    """The core-schema tag (``null``, ``bool``, ``int``, ``float`` or ``str``) and value of
    a plain scalar."""
    for tag, pattern, convert in CORE_SCALARS:
        if pattern.fullmatch(text):
            return tag, convert(text)
    return "str", text


class YamlLocator:
    """Positions of values and keys, by path, as 1-based (line, column)."""

    def __init__(self) -> None:
        self.values: dict[PathTuple, tuple[int, int]] = {}
        self.keys: dict[PathTuple, tuple[int, int]] = {}

    def value(self, path: PathTuple) -> tuple[int, int]:
        """Where the value at ``path`` is, or its deepest existing ancestor."""
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found:
                return found
        return 1, 1

    def key(self, path: PathTuple) -> tuple[int, int]:
        """Where the key naming ``path`` is; the value's position when it has no key."""
        return self.keys.get(path) or self.value(path)


def _at(mark: Any) -> tuple[int, int]:
    return mark.line + 1, mark.column + 1


class _Reader:
    def __init__(self, text: str) -> None:
        self.loader = _Loader(text)
        self.locator = YamlLocator()

    def fail(self, message: str, mark: Any, path: PathTuple = ()) -> LocatedError:
        line, column = _at(mark)
        return LocatedError(message, line, column, dotted(path))

    def document(self) -> Any:
        loader = self.loader
        loader.get_event()  # StreamStartEvent
        if loader.check_event(StreamEndEvent):
            raise LocatedError("the file is empty: expected a mapping with apiVersion, kind, "
                               "metadata and spec")
        loader.get_event()  # DocumentStartEvent
        data = self.value((), 0)
        loader.get_event()  # DocumentEndEvent
        if loader.check_event(DocumentStartEvent):
            raise self.fail("only one document per file: split it at this '---' into two files",
                            loader.peek_event().start_mark)
        return data

    def value(self, path: PathTuple, depth: int) -> Any:
        event = self.loader.get_event()
        self.locator.values[path] = _at(event.start_mark)
        if isinstance(event, AliasEvent):
            raise self.fail(f"aliases (*{event.anchor}) are not supported: write the value out",
                            event.start_mark, path)
        if event.anchor is not None:
            raise self.fail(f"anchors (&{event.anchor}) are not supported: write the value out",
                            event.start_mark, path)
        if depth > MAX_DEPTH:
            raise self.fail(f"nesting deeper than {MAX_DEPTH} levels", event.start_mark, path)
        if isinstance(event, ScalarEvent):
            return self.scalar(event, path)
        if isinstance(event, SequenceStartEvent | MappingStartEvent):
            self.collection_tag(event, path)
        if isinstance(event, SequenceStartEvent):
            items: list[Any] = []
            while not self.loader.check_event(SequenceEndEvent):
                items.append(self.value((*path, len(items)), depth + 1))
            self.loader.get_event()
            return items
        if isinstance(event, MappingStartEvent):
            return self.mapping(path, depth)
        raise self.fail(f"unexpected YAML event {type(event).__name__}", event.start_mark, path)

    def collection_tag(self, event: Any, path: PathTuple) -> None:
        """Only !!map on a mapping and !!seq on a list: !!str {a: 1} or !!set is a mistake."""
        fitting = f"{_CORE}{'map' if isinstance(event, MappingStartEvent) else 'seq'}"
        if event.tag not in (None, "!", fitting):
            what = "mapping" if isinstance(event, MappingStartEvent) else "list"
            raise self.fail(f"tag {event.tag} is not supported on a {what}: remove it",
                            event.start_mark, path)

    def mapping(self, path: PathTuple, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while not self.loader.check_event(MappingEndEvent):
            event = self.loader.peek_event()
            if not isinstance(event, ScalarEvent) or event.anchor is not None:
                raise self.fail("mapping keys must be plain text", event.start_mark, path)
            if event.tag not in (None, "!", f"{_CORE}str"):
                raise self.fail(f"tag {event.tag} is not supported on a key: remove it",
                                event.start_mark, path)
            self.loader.get_event()
            key = event.value
            if key in result:
                line, column = self.locator.keys[(*path, key)]
                raise self.fail(f"duplicate key {key!r} (first defined at line {line}, column "
                                f"{column}); YAML would silently keep only the last one",
                                event.start_mark, path)
            self.locator.keys[(*path, key)] = _at(event.start_mark)
            result[key] = self.value((*path, key), depth + 1)
        self.loader.get_event()
        return result

    def scalar(self, event: ScalarEvent, path: PathTuple) -> Any:
        tag = event.tag
        if tag == "!" or (tag is None and not event.implicit[0]):
            return event.value  # quoted, block or '!'-tagged: text as written
        if tag is None or tag.removeprefix(_CORE) in ("null", "bool", "int", "float", "str"):
            return self.core(event, tag, path)
        node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        try:
            value = self.loader.construct_object(node, deep=True)
            self.loader.constructed_objects.pop(node, None)  # keep memory flat on long files
        except (yaml.YAMLError, ValueError, TypeError, AttributeError, KeyError, OverflowError):
            # PyYAML's constructors fail in their own ways on text that their tag does not
            # fit (``!!timestamp x`` is an AttributeError): all of them mean the same here.
            raise self.fail(f"tag {tag} is not supported: use plain text, numbers or booleans",
                            event.start_mark, path) from None
        if isinstance(value, datetime.date):
            return event.value  # a date is text in a manifest: keep what was written
        if not isinstance(value, _JSON_TYPES):
            raise self.fail(f"tag {tag} is not supported: use plain text, numbers or booleans",
                            event.start_mark, path)
        return value

    def core(self, event: ScalarEvent, tag: str | None, path: PathTuple) -> Any:
        """A plain scalar, or one tagged !!null, !!bool, !!int, !!float or !!str."""
        if tag == f"{_CORE}str":
            return event.value
        try:
            found, value = core_scalar(event.value)
        except ValueError:  # an integer of more than 4300 digits
            raise self.fail("this number is too long", event.start_mark, path) from None
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise self.fail("this number is too long", event.start_mark, path)
        wanted = found if tag is None else tag.removeprefix(_CORE)
        if wanted == "float" and found == "int":
            found, value = "float", float(value)
        if found != wanted:
            hint = " (the booleans are true and false)" if wanted == "bool" else ""
            raise self.fail(f"{event.value!r} is not a YAML 1.2 {wanted}{hint}",
                            event.start_mark, path)
        return value


def _yaml_error(error: yaml.YAMLError, text: str) -> LocatedError:
    if isinstance(error, yaml.reader.ReaderError):
        line, column = position(text, min(error.position, len(text)))
        character = error.character
        code = ord(character) if isinstance(character, str) else int(character)
        return LocatedError(f"character U+{code:04X} is not allowed in YAML", line, column)
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    line, column = _at(mark) if mark is not None else (1, 1)
    problem = str(getattr(error, "problem", None) or "cannot read this YAML")
    lines = text.split("\n")
    if line <= len(lines) and "\t" in lines[line - 1][: max(column, 1)]:
        column = lines[line - 1].index("\t") + 1
        return LocatedError("a tab cannot indent YAML: use spaces", line, column)
    context = getattr(error, "context", None)
    return LocatedError(f"YAML syntax: {context + ', ' if context else ''}{problem}", line, column)


def decode(data: bytes) -> str:
    """UTF-8 text of ``data``; a located error at the first byte that is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        prefix = data[: error.start].decode("utf-8", errors="replace")
        line, column = position(prefix, len(prefix))
        raise LocatedError(f"not UTF-8: byte 0x{data[error.start]:02x} at offset {error.start} "
                           "(save the file as UTF-8)", line, column) from None


def load_yaml(text: str) -> tuple[Any, YamlLocator]:
    """Parse one YAML document into plain dicts and lists, with a locator of its nodes.

    Raises :class:`LocatedError` for duplicate keys, anchors and aliases, tabs,
    several documents, an empty file and any YAML syntax error.
    """
    reader = _Reader(text)
    try:
        data = reader.document()
    except yaml.YAMLError as error:
        raise _yaml_error(error, text) from None
    except RecursionError:
        raise LocatedError("the document is nested too deeply") from None
    finally:
        reader.loader.dispose()
    return data, reader.locator
