"""The schemas as editors read them, and validate's messages agreeing with the editor's.

yaml-language-server shows a schema's ``errorMessage`` as it is; validate puts
the offending value in front of the same text. Both engines used here
(jsonschema-rs on the hot path, jsonschema for explanations) must ignore that
keyword and agree with each other.
"""

import json
from pathlib import Path

import jsonschema
import jsonschema_rs
import pytest
import referencing

from orchestrator.manifests import validate_paths
from tests.manifests.bases import APP, CATALOG, DEVICE, EXTENSION, write_set

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = {path.name.removesuffix(".schema.json"): json.loads(path.read_text())
           for path in sorted((ROOT / "schemas").glob("*.schema.json"))}


def nodes(node, where=""):
    """Every (where, schema object) pair below ``node``."""
    if isinstance(node, dict):
        yield where, node
        for key, child in node.items():
            if key not in ("examples", "default", "const", "enum"):
                yield from nodes(child, f"{where}/{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from nodes(child, f"{where}/{index}")


def with_defs(kind, node):
    """``node`` as a schema of its own, its ``#/$defs/...`` references still resolving, and
    those to another kind's schema too (see :func:`engines`)."""
    return {**node, "$id": SCHEMAS[kind]["$id"], "$defs": SCHEMAS[kind]["$defs"]}


def engines(schema):
    """Both engines' validators of ``schema``, with every kind's schema in their registry."""
    resources = [(other["$id"], other) for other in SCHEMAS.values()]
    registry = referencing.Registry().with_resources(
        (uri, referencing.Resource.from_contents(contents)) for uri, contents in resources)
    return (jsonschema_rs.validator_for(schema, registry=jsonschema_rs.Registry(resources)),
            jsonschema.Draft202012Validator(schema, registry=registry))


@pytest.mark.parametrize("kind", SCHEMAS)
def test_error_messages_are_editor_sentences_on_values_only(kind):
    """On an object yaml-language-server would show it instead of 'Missing property'."""
    for where, node in nodes(SCHEMAS[kind]):
        if "errorMessage" in node:
            assert node["errorMessage"].startswith("Not "), where
            assert node.get("type") not in ("object", "array"), where


@pytest.mark.parametrize("kind", SCHEMAS)
def test_no_alternatives_that_double_hover_titles(kind):
    """yaml-language-server joins the titles of anyOf branches ('Size || Size') on hover.

    A size is ``type: [integer, string]`` with a minimum and a pattern instead, each
    applying to its own type: one schema, one title, one message.
    """
    assert [where for where, node in nodes(SCHEMAS[kind])
            if "anyOf" in node or "oneOf" in node] == []


@pytest.mark.parametrize("kind", [kind for kind in SCHEMAS if kind != "catalog"])
def test_completion_prefills_api_version_and_kind(kind):
    properties = SCHEMAS[kind]["properties"]
    for name in ("apiVersion", "kind"):
        assert properties[name]["default"] == properties[name]["const"]


def fields(node, where=""):
    """Every (where, schema) of a property, list item, map value or definition."""
    children = [(f"{where}.{name}", child) for name, child in node.get("properties", {}).items()]
    children += [(f"{where}[]", node["items"])] if isinstance(node.get("items"), dict) else []
    extra = node.get("additionalProperties")
    children += [(f"{where}.*", extra)] if isinstance(extra, dict) else []
    children += [(f"$defs.{name}", child) for name, child in node.get("$defs", {}).items()]
    for path, child in children:
        yield path, child
        yield from fields(child, path)


@pytest.mark.parametrize("kind", SCHEMAS)
def test_both_engines_accept_every_example_and_default(kind):
    checked = 0
    for where, node in fields(SCHEMAS[kind]):
        schema = with_defs(kind, node)
        samples = node.get("examples", []) + ([node["default"]] if "default" in node else [])
        compiled, explained = engines(schema)
        for sample in samples:
            assert compiled.is_valid(sample), (where, sample)
            assert explained.is_valid(sample), (where, sample)
            checked += 1
    assert checked >= 10


def located(tmp_path, name, old, new):
    """The problems validate reports once ``old`` becomes ``new`` in the base ``name``."""
    bases = {"app.yaml": APP, "extension.yaml": EXTENSION, "device.yaml": DEVICE,
             "catalog.json": CATALOG}
    assert old in bases[name]
    problems = validate_paths([write_set(tmp_path, {name: bases[name].replace(old, new, 1)})])
    return [f"{p.line}:{p.column}: {p.message}" for p in problems]


@pytest.mark.parametrize(("name", "old", "new", "expected"), [
    ("app.yaml", "size: 10MiB", "size: 600 MegaBytes",
     "10:9: spec.size: '600 MegaBytes' is not a size: write an integer number of bytes or a "
     "string like 600MiB or 1.5GB"),
    ("app.yaml", "size: 10MiB", "size: 1.5",
     "10:9: spec.size: 1.5 is not a size: write an integer number of bytes or a string like "
     "600MiB or 1.5GB"),
    ("app.yaml", "size: 10MiB", "size: -5", "10:9: spec.size: -5 is below the minimum 0"),
    ("extension.yaml", "priority: catalog", "priority: high",
     "12:17: spec.rules[0].priority: 'high' is not a priority: write catalog or an integer "
     "from 0 to 100"),
    ("extension.yaml", "priority: catalog", "priority: 101",
     "12:17: spec.rules[0].priority: 101 is above the maximum 100"),
    ("extension.yaml", "essential: catalog", "essential: true",
     "11:18: spec.rules[0].essential: true is not one of catalog, always, never"),
])
def test_validate_says_what_the_editor_says(tmp_path, name, old, new, expected):
    assert located(tmp_path, name, old, new) == [expected]


def test_the_stricter_regex_engine_wins(tmp_path):
    """Python's ``$`` matches before a final newline; jsonschema-rs and editors do not."""
    problems = located(tmp_path, "app.yaml", "team: EXAMPLE123", 'team: "EXAMPLE123\\n"')
    assert problems[0] == ("5:9: metadata.team: 'EXAMPLE123\\n' is not a team id (ten "
                           "upper-case letters or digits, e.g. EXAMPLE123)")


def test_a_catalog_may_name_its_schema(tmp_path):
    catalog = CATALOG.replace('{\n', '{\n  "$schema": "./schemas/catalog.schema.json",\n', 1)
    assert validate_paths([write_set(tmp_path, {"catalog.json": catalog})]) == []
