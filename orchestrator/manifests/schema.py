"""The four JSON Schemas, compiled once, and their failures explained for people.

The compiled jsonschema-rs validator answers "valid?" on the hot path; only
when the answer is no does the pure-Python jsonschema walk the document to
say what is wrong, where, and what to write instead.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from functools import cache
from typing import Any, Protocol

import jsonschema
import jsonschema_rs
from referencing import Registry, Resource

from orchestrator.bundled import KINDS, schema_path
from orchestrator.manifests.problems import PathTuple, dotted

MAX_EXPLAINED = 100


class Locator(Protocol):
    """Where values and keys are in a source file, as 1-based (line, column)."""

    def value(self, path: PathTuple) -> tuple[int, int]: ...

    def key(self, path: PathTuple) -> tuple[int, int]: ...


@cache
def load_schema(kind: str) -> dict[str, Any]:
    """The schema of ``kind`` (app, extension, device, catalog), shipped in the package."""
    with open(schema_path(kind), encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


@cache
def compiled(kind: str) -> Any:
    """The compiled jsonschema-rs validator of ``kind``; a schema's ``$ref`` to another
    kind's schema (the scenario's device changes) is found among the bundled ones."""
    registry = jsonschema_rs.Registry([(load_schema(k)["$id"], load_schema(k)) for k in KINDS])
    return jsonschema_rs.validator_for(load_schema(kind), registry=registry)


@cache
def _registry() -> Registry:
    return Registry().with_resources(
        (load_schema(k)["$id"], Resource.from_contents(load_schema(k))) for k in KINDS)


@cache
def _pattern_checker(pattern: str) -> Any:
    return jsonschema_rs.validator_for({"pattern": pattern})


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any
             ) -> Iterator[jsonschema.ValidationError]:
    """The ``pattern`` keyword matched by the compiled validator's regex engine.

    Python's backtracking ``re`` takes quadratic time on some of the schemas' patterns
    (a size of ``"1"`` and 80,000 spaces and tabs: 14 s); Rust's regex engine is
    linear, and it is the one whose answer ``check`` explains.
    """
    if validator.is_type(instance, "string") and not _pattern_checker(pattern).is_valid(
            instance):
        yield jsonschema.ValidationError(f"{describe(instance)} does not match {pattern!r}")


_Explainer = jsonschema.validators.extend(jsonschema.Draft202012Validator,
                                          {"pattern": _pattern})


@cache
def explainer(kind: str, definition: str | None = None) -> jsonschema.Draft202012Validator:
    """A jsonschema validator for ``kind``, or for one of its ``$defs`` (catalog assets)."""
    schema = load_schema(kind)
    if definition is None:
        return _Explainer(schema, registry=_registry())
    return _Explainer({"$ref": f"{schema['$id']}#/$defs/{definition}"}, registry=_registry())


Finding = tuple[PathTuple, tuple[int, int], str]


def check(kind: str, data: Any, locator: Locator) -> list[Finding]:
    """Schema findings as (path, (line, column), message); empty when ``data`` is valid."""
    if compiled(kind).is_valid(data):
        return []
    findings: list[Finding] = []
    for error in _errors(kind, data):
        findings.extend(_explain(error, locator))
        if len(findings) >= MAX_EXPLAINED:
            break
    return findings or _compiled_findings(kind, data, locator)


def _compiled_findings(kind: str, data: Any, locator: Locator) -> list[Finding]:
    """The compiled validator's own findings, for when jsonschema sees nothing wrong.

    The two disagree only where their regex engines do: Python's ``$`` also matches
    before a final newline, Rust's (and an editor's JavaScript) does not. The
    stricter answer wins, so that validate never accepts what an editor flags.
    """
    schema = load_schema(kind)
    findings: list[Finding] = []
    for error in compiled(kind).iter_errors(data):
        path: PathTuple = tuple(error.instance_path)
        hint = _error_message(schema, list(error.schema_path)[:-1])
        message = _hinted(describe(error.instance), hint) if hint else str(error.message)
        findings.append((path, locator.value(path), f"{_prefix(path)}{message}"))
        if len(findings) >= MAX_EXPLAINED:
            break
    return findings


def _error_message(schema: Any, keywords: list[str | int]) -> str | None:
    """The ``errorMessage`` of the schema node at ``keywords``, if there is one."""
    node = schema
    for keyword in keywords:
        try:
            node = node[keyword]
        except (KeyError, IndexError, TypeError):
            return None
    message = node.get("errorMessage") if isinstance(node, dict) else None
    return message if isinstance(message, str) else None


def _hinted(shown: str, hint: str) -> str:
    """``'x' is not a size: ...`` from an editor message such as ``Not a size: ...``."""
    if hint.startswith("Not "):
        return f"{shown} is not {hint.removeprefix('Not ')}"
    return f"{shown}: {hint}"


def _errors(kind: str, data: Any) -> Iterator[jsonschema.ValidationError]:
    """jsonschema's errors; for catalogs only the failing assets are walked again."""
    if kind != "catalog" or not isinstance(data, dict) or not isinstance(data.get("assets"), list):
        yield from explainer(kind).iter_errors(data)
        return
    yield from explainer(kind).iter_errors({**data, "assets": []})
    failing = sorted({e.instance_path[1] for e in compiled(kind).iter_errors(data)
                      if len(e.instance_path) >= 2 and e.instance_path[0] == "assets"})
    for index in failing:
        for error in explainer(kind, "asset").iter_errors(data["assets"][index]):
            error.path.extendleft(["assets", index][::-1])
            yield error


def describe(value: Any) -> str:
    """A short rendering of a value for a message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "an empty value"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _json_type(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "text",
             dict: "a mapping", list: "a list", type(None): "empty"}
    return names.get(type(value), type(value).__name__)


def _suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _prefix(path: PathTuple) -> str:
    return f"{dotted(path)}: " if path else ""


def _explain(error: jsonschema.ValidationError, locator: Locator) -> list[Finding]:
    path: PathTuple = tuple(error.absolute_path)
    keyword, value, instance = error.validator, error.validator_value, error.instance
    if keyword == "required" and isinstance(instance, dict):
        return [(path, locator.value(path), f"{_prefix(path)}missing required field {name!r}")
                for name in value if name not in instance]
    if keyword == "additionalProperties" and isinstance(instance, dict):
        known = error.schema.get("properties", {})
        return [((*path, name), locator.key((*path, name)),
                 f"{_prefix(path)}unknown field {name!r}{_suggest(name, known)}")
                for name in instance if name not in known and not str(name).startswith("x-")]
    if "propertyNames" in error.relative_schema_path and isinstance(instance, str):
        path = (*path, instance)
        return [(path, locator.key(path), f"{_prefix(path)}{_message(error)}")]
    return [(path, locator.value(path), f"{_prefix(path)}{_message(error)}")]


def _message(error: jsonschema.ValidationError) -> str:
    keyword, value, instance = error.validator, error.validator_value, error.instance
    shown = describe(instance)
    # errorMessage is yaml-language-server's keyword: the editor shows it as it is, and
    # validate puts the value in front of it, so that both say the same.
    hint = error.schema.get("errorMessage") if isinstance(error.schema, dict) else None
    if isinstance(hint, str) and keyword in {"pattern", "anyOf", "oneOf", "type", "const"}:
        return _hinted(shown, hint)
    if keyword == "type":
        wanted = " or ".join(_json_type(_SAMPLES[name]) for name in _as_list(value))
        quote = value == "string" and isinstance(instance, int | float)
        return f"{shown} is {_json_type(instance)}, expected {wanted}" + (
            " (quote it in YAML)" if quote else "")
    if keyword == "const":
        return f"{shown} must be {value!r}"
    if keyword == "enum":
        choices = ", ".join(str(choice) for choice in value)
        return f"{shown} is not one of {choices}{_suggest(str(instance), value)}"
    if keyword == "minimum":
        return f"{shown} is below the minimum {value}"
    if keyword == "maximum":
        return f"{shown} is above the maximum {value}"
    if keyword in {"minLength", "minItems"}:
        return "must not be empty" if value == 1 else f"needs at least {value} entries"
    if keyword == "maxLength":
        return f"{shown} is longer than {value} characters"
    if keyword == "uniqueItems":
        return "has duplicate entries"
    if keyword in {"minProperties", "maxProperties"} and isinstance(error.schema, dict):
        return _property_count(keyword, error.schema)
    if keyword == "dependentRequired" and isinstance(instance, dict):
        pairs = [(name, needed) for name, needed in value.items()
                 if name in instance and any(n not in instance for n in needed)]
        if pairs:
            name, needed = pairs[0]
            return f"{name} needs {' and '.join(needed)} beside it"
    if keyword == "pattern":
        return f"{shown} does not match {value}"
    return str(error.message)


def _property_count(keyword: str, schema: dict[str, Any]) -> str:
    """Too few or too many fields, naming the ones (or the pairs) to choose from."""
    required = set(schema.get("required", ()))
    choices = [name for name in schema.get("properties", {}) if name not in required]
    groups: list[list[str]] = []
    for name, needed in schema.get("dependentRequired", {}).items():
        group = [name, *needed]
        if not any(set(group) == set(known) for known in groups):
            groups.append(group)
    if groups:
        return "needs " + ", or ".join(" and ".join(group) for group in groups)
    if keyword == "minProperties":
        return f"needs one of {', '.join(choices)}"
    return f"give only one of {', '.join(choices)}"


_SAMPLES: dict[str, Any] = {"string": "", "integer": 0, "number": 0.5, "boolean": True,
                            "object": {}, "array": [], "null": None}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
