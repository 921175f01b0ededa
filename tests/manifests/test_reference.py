"""docs/manifests.md is generated from the schemas and says something about every field."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.manifests.reference import main, page

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "manifests.md"
SCHEMAS = {path.name.removesuffix(".schema.json"): json.loads(path.read_text())
           for path in sorted((ROOT / "schemas").glob("*.schema.json"))}
REGENERATE = "python -m orchestrator.manifests.reference > docs/manifests.md"


def test_the_page_is_what_the_schemas_generate():
    assert DOC.read_text(encoding="utf-8") == page(), f"the page is out of date: run {REGENERATE}"


def property_paths(node, defs, prefix=""):
    """Every property path of a schema, walked here independently of the generator."""
    for name, child in node.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        yield path
        ref = child.get("$ref", "")
        if ref and not ref.startswith("#"):
            continue  # another kind's schema (a scenario's device changes): its own entries
        target = defs[ref.rsplit("/", 1)[-1]] if ref else child
        yield from property_paths(target, defs, path)
        items = target.get("items")
        if isinstance(items, dict):
            yield f"{path}[]"
            inner = defs[items["$ref"].rsplit("/", 1)[-1]] if "$ref" in items else items
            yield from property_paths(inner, defs, f"{path}[]")


@pytest.mark.parametrize("kind", SCHEMAS)
def test_every_schema_property_has_its_own_entry(kind):
    schema = SCHEMAS[kind]
    paths = list(property_paths(schema, schema.get("$defs", {})))
    assert len(paths) >= 8
    text = page()
    missing = [path for path in paths if f"### `{path}`\n" not in text]
    assert missing == []


@pytest.mark.parametrize("kind", SCHEMAS)
def test_each_entry_carries_the_schema_description(kind):
    text = page()
    for where, node in _described(SCHEMAS[kind]):
        plain = re.sub(r"\\(.)", r"\1", text)
        assert node["description"] in plain, where


def _described(node, where=""):
    for name, child in node.get("properties", {}).items():
        yield f"{where}.{name}", child
        yield from _described(child, f"{where}.{name}")
    for name, child in node.get("$defs", {}).items():
        yield from _described(child, f"$defs.{name}")


def test_required_type_default_and_example_are_stated():
    text = page()
    entry = text.split("### `spec.size`\n", 1)[1].split("\n### ", 1)[0]
    assert "Required: no · Type: [size](#sizes) · Default: `0` · Example: `48MiB`" in entry
    assert "Download size of the base app." in entry
    priority = text.split("### `spec.rules[].priority`\n", 1)[1].split("\n### ", 1)[0]
    assert "Type: integer 0..100 or `catalog` · Default: `catalog`" in priority


def test_links_stay_inside_the_repository():
    text = page()
    anchors = {re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")
               for heading in re.findall(r"^#+ (.+)$", text, re.M)}
    targets = re.findall(r"\]\(([^)]+)\)", text)
    assert targets
    for target in targets:
        if target.startswith("#"):
            assert target[1:] in anchors, target
        else:
            assert "://" not in target and (DOC.parent / target).exists(), target
    assert "<http" not in text


def test_check_says_whether_the_page_is_current(tmp_path, capsys):
    assert main(["--check", str(DOC)]) == 0
    stale = tmp_path / "manifests.md"
    stale.write_text(page().replace("Download size of the base app.", "Old words."))
    assert main(["--check", str(stale)]) == 1
    assert "out of date with the schemas" in capsys.readouterr().err


def test_the_module_prints_the_page():
    result = subprocess.run([sys.executable, "-m", "orchestrator.manifests.reference"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0 and result.stdout == page()
