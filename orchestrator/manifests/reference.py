"""The manifest reference (``docs/manifests.md``), generated from the schemas.

The schemas are the one description of every field; this module only lays
them out for reading: one section per document kind, each field with its
path, whether it is required, its type, default, an example and what it does.

    python -m orchestrator.manifests.reference > docs/manifests.md
    python -m orchestrator.manifests.reference --check docs/manifests.md
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.bundled import manifests_dir
from orchestrator.bundled.editor import FILE_MATCH
from orchestrator.manifests.schema import load_schema

COMMAND = "python -m orchestrator.manifests.reference > docs/manifests.md"
# Pages of this folder that say more about a field than its schema can.
SEE_ALSO = {("extension", "spec.handler"): "[Extension handlers](handlers.md)"}
# (kind, heading, the bundled example shown)
SECTIONS = (
    ("app", "App", "wwdc-sessions/app.yaml"),
    ("extension", "Extension", "wwdc-sessions/extension.yaml"),
    ("device", "Device", "devices/low-power.yaml"),
    ("assetpack", "AssetPack", "level-packs/packs/worlds.yaml"),
    ("scenario", "Scenario", "scenarios/first-install-metered.yaml"),
    ("catalog", "Catalog", "wwdc-sessions/catalog.json"),
)


@dataclass(frozen=True)
class Field:
    """One property of a schema, flattened: ``spec.rules[].match.id``."""

    path: str
    schema: dict[str, Any]
    required: bool | None  # None for list entries and map values: the parent decides


def fields(node: dict[str, Any], defs: dict[str, Any], prefix: str = "") -> Iterator[Field]:
    """Every field below ``node`` in document order, ``$ref``s to objects followed."""
    required = set(node.get("required", ()))
    for name, child in node.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        yield Field(path, child, name in required)
        yield from _below(child, defs, path)
    for pattern, child in node.get("patternProperties", {}).items():
        name = pattern.removeprefix("^") + "*"
        yield Field(f"{prefix}.{name}" if prefix else name, child, False)


def _below(node: dict[str, Any], defs: dict[str, Any], path: str) -> Iterator[Field]:
    target = resolve(node, defs)
    kinds = target.get("type")
    if kinds == "object" or (isinstance(kinds, list) and "object" in kinds):
        yield from fields(target, defs, path)
        extra = target.get("additionalProperties")
        if isinstance(extra, dict):
            key = target.get("propertyNames", {}).get("$ref", "").rsplit("/", 1)[-1]
            entry = f"{path}.<{'app id' if key == 'bundleId' else 'name'}>"
            yield Field(entry, extra, None)
    items = target.get("items")
    if target.get("type") == "array" and isinstance(items, dict):
        yield Field(f"{path}[]", items, None)
        # The catalog's asset definition has a section of its own.
        if not items.get("$ref", "").endswith("/asset"):
            yield from _below(items, defs, f"{path}[]")


def resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """``node`` with its ``$ref``'d definition under it, as editors merge them."""
    if "$ref" not in node or _external(node):
        return node
    return {**defs[node["$ref"].rsplit("/", 1)[-1]], **node}


def _external(node: dict[str, Any]) -> bool:
    """Whether ``node`` refers to another kind's schema (a scenario's device changes)."""
    return not str(node.get("$ref", "#")).startswith("#")


def _code(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(", ", ": "))
    return f"`{text}`" if "`" not in text else f"`` {text} ``"


def type_text(node: dict[str, Any], defs: dict[str, Any]) -> str:
    """The field's type in words, e.g. ``[size](#sizes)`` or ``integer 0..100``."""
    if _external(node):
        kind = str(node["$ref"]).split(".", 1)[0]
        return f"mapping: the fields of a [{kind.title()}](#{kind}) spec"
    reference = node.get("$ref", "").rsplit("/", 1)[-1]
    if reference == "size":
        return "[size](#sizes)"
    if reference == "asset":
        return "[asset](#catalog-assets)"
    if reference:
        return f"string, [{defs[reference]['title'].lower()}](#identifiers)"
    node = resolve(node, defs)
    if "const" in node:
        return _code(node["const"])
    if "enum" in node:
        return "one of " + ", ".join(_code(choice) for choice in node["enum"])
    kinds = node.get("type", [])
    kinds = kinds if isinstance(kinds, list) else [kinds]
    words = [_one_type(kind, node, defs) for kind in kinds]
    return " or ".join(words) or "any value"


def _one_type(kind: str, node: dict[str, Any], defs: dict[str, Any]) -> str:
    if kind == "integer":
        low, high = node.get("minimum"), node.get("maximum")
        if low is not None and high is not None:
            return f"integer {low}..{high}"
        return f"integer ≥ {low}" if low is not None else "integer"
    if kind == "string":
        pattern = node.get("pattern", "")
        word = pattern[1:-1] if pattern.startswith("^") and pattern.endswith("$") else ""
        return _code(word) if word.isalnum() else "string"
    if kind == "boolean":
        return "boolean (`true` or `false`)"
    if kind == "array":
        items = node.get("items", {})
        return f"list of {type_text(items, defs) if items.get('$ref') else _plural(items)}"
    if kind == "object":
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            return f"mapping of app id to {type_text(extra, defs)}"
        return "mapping"
    return kind


def prose(text: str) -> str:
    """Schema text as Markdown that shows it as written (``*.example.com``, ``[abc]``)."""
    for character in "\\`*_[]<>":
        text = text.replace(character, f"\\{character}")
    return text


def _plural(items: dict[str, Any]) -> str:
    return {"object": "mappings", "string": "strings"}.get(str(items.get("type")), "values")


def field_text(field: Field, defs: dict[str, Any], kind: str = "") -> str:
    """The Markdown of one field: heading, facts line, description."""
    node = resolve(field.schema, defs)
    facts = []
    if field.required is not None:
        facts.append(f"Required: {'yes' if field.required else 'no'}")
    facts.append(f"Type: {type_text(field.schema, defs)}")
    if "default" in node:
        facts.append(f"Default: {_code(node['default'])}")
    examples = field.schema.get("examples") or (
        node.get("examples") if node.get("type") != "object" else None)
    if examples:
        facts.append(f"Example: {_code(examples[0])}")
    title = prose(node.get("title", ""))
    see = SEE_ALSO.get((kind, field.path))
    return (f"### `{field.path}`\n\n*{title}*. " + " · ".join(facts) + "\n\n"
            f"{prose(node.get('description', ''))}{f' See {see}.' if see else ''}\n")


def _example(relative: str) -> str:
    """A bundled example, without its modeline; a catalog cut to its first two assets."""
    path = manifests_dir() / relative
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        document = json.loads(text)
        document["assets"] = document["assets"][:2]
        return "```json\n" + json.dumps(document, indent=2) + "\n```\n"
    lines = [line for line in text.splitlines() if not line.startswith("# yaml-language-server")]
    return "```yaml\n" + "\n".join(lines) + "\n```\n"


def section(kind: str, heading: str, example: str) -> str:
    """One document kind: what it is, where editors find its schema, an example, every field."""
    schema = load_schema(kind)
    defs = schema.get("$defs", {})
    globs = ", ".join(f"`{glob}`" for glob in FILE_MATCH[kind])
    parts = [f"## {heading}\n\n{schema['description']}\n\n"
             f"Schema: [`schemas/{kind}.schema.json`](../schemas/{kind}.schema.json). "
             f"Editors set up by `bgassets init` apply it to {globs}.\n\n"
             f"An example, [`manifests/{example}`](../manifests/{example})"
             f"{' (its first two assets)' if example.endswith('.json') else ''}:\n\n"
             f"{_example(example)}"]
    assets: list[str] = []
    for field in fields(schema, defs):
        parts.append(field_text(field, defs, kind))
    if kind == "catalog":
        assets.append("## Catalog assets\n\nEach entry of a catalog's `assets` is one "
                      "downloadable file.\n")
        assets += [field_text(field, defs) for field in fields(defs["asset"], defs, "assets[]")]
    return "\n".join(parts + assets)


INTRO = """\
# Manifest reference

<!-- Generated from the schemas by `{command}`:
     edit the schemas or orchestrator/manifests/reference.py, not this page. -->

bgassets reads six kinds of documents. Five are manifests that you write in
YAML, one document per file, each with `apiVersion: bgassets/v1`, a `kind`, a
`metadata` mapping and a `spec` mapping:

- an [App](#app) (`kind: App`): what the app's Info.plist declares: its
  identity, app group, where its catalog is, its sizes and the download
  restrictions that hold until its first launch;
- its [Extension](#extension) (`kind: Extension`): the downloader extension
  that turns the catalog into downloads;
- a [Device](#device) (`kind: Device`): the conditions of a machine that the
  scheduler obeys;
- an [AssetPack](#assetpack) (`kind: AssetPack`): a managed asset pack, the files of
  a source folder it holds and when it is downloaded. `bgassets pack build` turns
  packs into what a host serves: a pack catalog (`packs.json`) and its objects;
- a [Scenario](#scenario) (`kind: Scenario`): a timeline of device life for apps,
  with the expectations that must hold, played on a virtual clock by
  `bgassets scenario run` (see [Scenarios](scenarios.md)).

The sixth, the [Catalog](#catalog), is served at the app's `manifestURL`: the
assets on the server, in JSON or YAML (large catalogs are JSON). It has no
`kind`; bgassets knows it by its `version` and `assets`.

Every field below comes from the JSON Schemas (draft 2020-12) in
[`schemas/`](../schemas/), which are also what editors and `bgassets validate`
check against, so this page, your editor and the command line always agree.

## Getting the schemas into your editor

In a clone of this repository nothing is needed: every example starts with a
modeline, and `.vscode/settings.json` maps the schemas by file name.

For your own project, with bgassets installed:

```sh
bgassets init my-app            # a new app: manifests, catalog, schemas, editor settings
bgassets schema --write schemas # or only the six schemas and an index.json, into schemas/
bgassets schema app             # or print one schema
```

Then start each manifest with a modeline that points at its schema, relative
to the manifest, and give a JSON catalog a `$schema`:

```yaml
# yaml-language-server: $schema=./schemas/app.schema.json
```

```json
{{ "$schema": "./schemas/catalog.schema.json", "version": "1", "assets": [] }}
```

With the YAML extension of VS Code (or any editor using yaml-language-server)
you get completion, hover help and the same errors as `bgassets validate`.
Set the editor to YAML 1.2 (`"yaml.yamlVersion": "1.2"`, its default), as
bgassets reads YAML.

## Values

### Sizes

{size}

### Identifiers

{identifiers}

### Booleans

Only `true` and `false` are booleans (also `True`, `TRUE`, `False`,
`FALSE`), as in YAML 1.2. `yes`, `no`, `on` and `off` are text, so
`essential: yes` is an error, not a quiet `true`.

### Text that looks like a number

Quote versions and other text that YAML would read as a number:
`version: "1.0"`, not `version: 1.0`.

## What validate checks beyond the schemas

`bgassets validate PATH...` prints `FILE:LINE:COL: message` for every problem.
Besides each schema it checks that:

- an App's `spec.extension` exists and is an Extension whose `metadata.id`
  starts with the app's id and a dot, and whose `metadata.app`,
  `metadata.team` and `spec.appGroup` equal the app's;
- the host of `spec.manifestURL` is in `domainAllowList`;
- `essentialMaxInstallSize` is at most `maxInstallSize`;
- a rule's `destination` stays inside the app group container and uses only
  `{{id}}`, `{{filename}}` and `{{ext}}`;
- the host of `spec.assetPacks.manifestURL`, when given, is in `domainAllowList` too;
- each AssetPack selector names a `file` or a `directory`, not both;
- no two apps, extensions, asset packs or device profiles share an id or name, and no
  two assets of a catalog share an id.

With `--source DIR` it also checks the AssetPacks' selectors against the files in
`DIR`, as `bgassets pack build` does: every selector matches at least one regular
file (symlinks are not followed), and no path is claimed by two packs.
"""


def page() -> str:
    """The whole reference page."""
    defs = load_schema("app")["$defs"]
    size = defs["size"]
    examples = ", ".join(_code(example) for example in size["examples"])
    identifiers = "\n".join(
        f"- *{defs[name]['title']}*: {prose(defs[name]['description'])} Example: "
        f"{_code(defs[name]['examples'][0])}." for name in ("bundleId", "team", "appGroup"))
    intro = INTRO.format(command=COMMAND, size=f"{prose(size['description'])} Examples: "
                         f"{examples}.", identifiers=identifiers)
    sections = [section(kind, heading, example) for kind, heading, example in SECTIONS]
    return "\n".join([intro, *sections]).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the page, or with ``--check FILE`` exit 1 when FILE differs from it."""
    parser = argparse.ArgumentParser(prog="python -m orchestrator.manifests.reference",
                                     description="Generate the manifest reference page.")
    parser.add_argument("--check", type=Path, metavar="FILE",
                        help="compare FILE with the generated page instead of printing it")
    args = parser.parse_args(argv)
    text = page()
    if args.check is None:
        sys.stdout.write(text)
        return 0
    try:
        current = args.check.read_text(encoding="utf-8")
    except OSError as error:
        print(f"{args.check}: cannot read ({error.strerror or error})", file=sys.stderr)
        return 1
    if current != text:
        print(f"{args.check} is out of date with the schemas: run {COMMAND}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
