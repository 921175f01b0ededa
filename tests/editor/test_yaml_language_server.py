"""The shipped schemas in a real editor: yaml-language-server spoken to over stdio.

The server is the one behind VS Code's YAML extension. Documents are written
the way users get them (the bundled examples, a ``bgassets init`` scaffold)
next to schemas written by ``bgassets schema --write``, found through their
``# yaml-language-server: $schema=`` modelines or the scaffold's editor
settings. The tests check what an editor shows: the schemas' own
``errorMessage`` sentences, hovers and pre-filled completions, and that
``bgassets validate`` refuses the same documents at the same places.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.bundled import manifests_dir
from tests.editor.lsp import LanguageServer, language_server
from tests.support.tools import require_tool

pytestmark = pytest.mark.integration

SERVER = "yaml-language-server"
# What the scaffold's .vscode/settings.json sets, without schema associations
# (the modelines name the schemas) and without SchemaStore, which the server
# would otherwise download its catalog of schemas from.
SETTINGS = {"yaml": {"validate": True, "hover": True, "completion": True, "yamlVersion": "1.2",
                     "schemas": {}, "schemaStore": {"enable": False}}}
EXAMPLE = "wwdc-sessions"
ERROR = 1  # DiagnosticSeverity.Error


@dataclass(frozen=True)
class Bad:
    """One mistake written into a copy of the example: ``old`` becomes ``new`` in ``file``."""

    id: str
    file: str
    old: str
    new: str
    value: str  # the bad value as written in ``new``, where the diagnostic starts
    message: str  # how the editor's message starts
    agreed: tuple[str, ...]  # what both the editor's and validate's messages say


BAD = [
    Bad("size", "app.yaml", "size: 32MiB", "size: 600 MegaBytes", "600 MegaBytes",
        "Not a size: ",
        ("not a size: write an integer number of bytes or a string like 600MiB or 1.5GB",)),
    Bad("priority-word", "extension.yaml", "priority: catalog", "priority: high", "high",
        "Not a priority: write catalog or an integer from 0 to 100",
        ("not a priority: write catalog or an integer from 0 to 100",)),
    # yaml-language-server keeps its own message for minimum and maximum.
    Bad("priority-above-100", "extension.yaml", "priority: catalog", "priority: 101", "101",
        "Value is above the maximum of 100", ("above the maximum", "100")),
    Bad("domain-with-scheme-and-path", "app.yaml", 'domainAllowList: ["127.0.0.1", "localhost"]',
        'domainAllowList: ["127.0.0.1", "localhost", "http://x.com/path"]', '"http://x.com/path"',
        "Not a host: ",
        ("not a host: write a host name (cdn.example.com), an ip address (127.0.0.1, ::1) or a "
         "'*.' wildcard (*.example.com), without scheme, port or path",)),
    Bad("boolean-yes", "extension.yaml", "skipPresent: true", "skipPresent: yes", "yes",
        "Not a boolean: write true or false",
        ("not a boolean: write true or false (yes, no, on and off are text in yaml 1.2)",)),
    Bad("boolean-off", "extension.yaml", "download: true", "download: off", "off",
        "Not a boolean: write true or false",
        ("not a boolean: write true or false (yes, no, on and off are text in yaml 1.2)",)),
    Bad("essential-yes", "extension.yaml", "essential: catalog", "essential: yes", "yes",
        "Not an essential mode: write catalog, always or never", ("catalog", "always", "never")),
    Bad("scenario-duration", "scenario.yaml", "at: 5m", "at: 5 minutes", "5 minutes",
        "Not a duration: ", ("not a duration: write a number and s, m, h or d",)),
    # A device change in a scenario is checked by the Device schema it refers to.
    Bad("scenario-device-boolean", "scenario.yaml", "device: {lowPowerMode: true}",
        "device: {lowPowerMode: yes}", "yes", "Not a boolean: write true or false",
        ("not a boolean: write true or false (yes, no, on and off are text in yaml 1.2)",)),
]
# The scenario the scenario cases change, copied beside the example as scenario.yaml.
SCENARIO = "scenarios/first-install-metered.yaml"

VALID = sorted(path.relative_to(manifests_dir()).as_posix()
               for path in manifests_dir().rglob("*.yaml"))
MODELINE = re.compile(r"^# yaml-language-server: \$schema=\S*/(\w+)\.schema\.json$")


# Helpers


def position(text: str, needle: str, start: int = 0) -> tuple[int, int]:
    """The zero-based line and character of the first ``needle`` in ``text`` after ``start``."""
    offset = text.index(needle, start)
    line = text.count("\n", 0, offset)
    return line, offset - (text.rfind("\n", 0, offset) + 1)


def key_position(text: str, key: str) -> tuple[int, int]:
    """Where the first mapping key ``key`` (block or flow style) is written."""
    match = re.search(rf"(?<![\w.-]){re.escape(key)}:", text)
    assert match, f"no key {key} in\n{text}"
    return position(text, key, match.start())


def start(diagnostic: dict) -> tuple[int, int]:
    return diagnostic["range"]["start"]["line"], diagnostic["range"]["start"]["character"]


def diagnostics_of(server: LanguageServer, path: Path) -> list[dict]:
    """What the server publishes for ``path`` once opened (closed again afterwards)."""
    uri = server.open(path)
    try:
        return server.diagnostics(uri)
    finally:
        server.close_document(uri)


def summary(diagnostics: list[dict]) -> list[tuple[tuple[int, int], str]]:
    return [(start(d), d["message"]) for d in diagnostics]


def orchestrator(*args: str | Path, workspace: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator", *map(str, args)],
                          capture_output=True, text=True, timeout=30,
                          env={**os.environ, "BGASSETS_STATE_DIR": str(workspace / "state")})


def hover_text(server: LanguageServer, path: Path, key: str) -> str:
    """The markdown the server shows when hovering over ``key`` in ``path``."""
    text = path.read_text(encoding="utf-8")
    uri = server.open(path, text)
    try:
        hover = server.hover(uri, *key_position(text, key))
    finally:
        server.close_document(uri)
    assert hover is not None, f"no hover over {key} in {path.name}"
    assert hover["contents"]["kind"] == "markdown"
    return hover["contents"]["value"]


# Fixtures


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out like the repository: ``manifests/`` and ``schemas/`` side by side.

    The schemas come from ``bgassets schema --write``, so the examples'
    ``../../schemas/`` modelines find them.
    """
    root = tmp_path_factory.mktemp("editor").resolve()
    shutil.copytree(manifests_dir(), root / "manifests")
    written = orchestrator("schema", "--write", root / "schemas", workspace=root)
    assert written.returncode == 0, written.stderr
    (root / "cases").mkdir()
    return root


@pytest.fixture(scope="module")
def server(workspace: Path) -> Iterator[LanguageServer]:
    executable = require_tool(SERVER, installer="npm")
    with language_server([executable, "--stdio"], workspace, SETTINGS,
                         stderr_path=workspace / f"{SERVER}.log") as started:
        yield started


@pytest.fixture(scope="module")
def scaffold(workspace: Path) -> Path:
    """An app made by ``bgassets init``, with its own schemas folder and editor settings."""
    folder = workspace / "scaffold"
    made = orchestrator("init", folder, workspace=workspace)
    assert made.returncode == 0, made.stderr
    return folder


def bad_copy(workspace: Path, bad: Bad) -> Path:
    """A fresh copy of the example with ``bad`` written into it; the changed file."""
    folder = Path(tempfile.mkdtemp(prefix=f"{bad.id}-", dir=workspace / "cases"))
    shutil.copytree(workspace / "manifests" / EXAMPLE, folder, dirs_exist_ok=True)
    if bad.file == "scenario.yaml":
        shutil.copy(workspace / "manifests" / SCENARIO, folder / bad.file)
    path = folder / bad.file
    text = path.read_text(encoding="utf-8")
    assert text.count(bad.old) == 1, f"{bad.old!r} is not written once in {bad.file}"
    text = text.replace(bad.old, bad.new)
    assert text.startswith("# yaml-language-server: $schema=../../schemas/")
    path.write_text(text, encoding="utf-8")
    return path


# Diagnostics


@pytest.mark.parametrize("bad", BAD, ids=lambda bad: bad.id)
def test_the_editor_flags_the_mistake_with_the_schemas_message(server, workspace, bad):
    path = bad_copy(workspace, bad)
    found = diagnostics_of(server, path)
    text = path.read_text(encoding="utf-8")
    assert len(found) == 1, summary(found)
    diagnostic = found[0]
    assert diagnostic["message"].startswith(bad.message), diagnostic["message"]
    assert start(diagnostic) == position(text, bad.value, text.index(bad.new))
    assert diagnostic["severity"] == ERROR
    assert diagnostic["data"]["schemaUri"] == [
        (workspace / "schemas" / f"{bad.file.removesuffix('.yaml')}.schema.json").as_uri()]


@pytest.mark.parametrize("bad", BAD, ids=lambda bad: bad.id)
def test_validate_refuses_what_the_editor_flags_at_the_same_place(server, workspace, bad):
    path = bad_copy(workspace, bad)
    found = diagnostics_of(server, path)
    checked = orchestrator("validate", "--format", "json", path.parent, workspace=workspace)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    problems = json.loads(checked.stdout)
    assert {Path(p["file"]).resolve() for p in problems} == {path}, problems
    # validate counts lines and columns from 1, LSP from 0.
    refused = {(p["line"] - 1, p["column"] - 1): p["message"] for p in problems}
    flagged = {start(d): d["message"] for d in found}
    assert refused.keys() == flagged.keys(), (problems, summary(found))
    for place, message in refused.items():
        for words in bad.agreed:
            assert words.lower() in flagged[place].lower(), flagged[place]
            assert words.lower() in message.lower(), message


@pytest.mark.parametrize("relative", VALID)
def test_a_bundled_example_has_no_diagnostics_and_its_schema_applies(server, workspace,
                                                                     relative):
    path = workspace / "manifests" / relative
    found = diagnostics_of(server, path)
    assert found == [], summary(found)
    # No diagnostics could also mean no schema: the hover proves it was applied.
    kind = MODELINE.match(path.read_text(encoding="utf-8").splitlines()[0])
    assert kind, f"{relative} does not start with a modeline"
    shown = hover_text(server, path, "kind")
    assert shown.startswith("#### Kind\n"), shown
    assert f"[{kind[1]}.schema.json]({(workspace / 'schemas').as_uri()}/" in shown, shown


@pytest.mark.parametrize("name", ["app.yaml", "extension.yaml"])
def test_a_scaffold_from_init_has_no_diagnostics(server, scaffold, name):
    found = diagnostics_of(server, scaffold / name)
    assert found == [], summary(found)
    assert hover_text(server, scaffold / name, "kind").startswith("#### Kind\n")


def test_the_scaffolds_editor_settings_find_the_schema_without_a_modeline(scaffold):
    """``.vscode/settings.json`` maps file names to the schemas, relative to the workspace."""
    editor_settings = json.loads((scaffold / ".vscode" / "settings.json").read_text())
    yaml_settings = {key.removeprefix("yaml."): value for key, value in editor_settings.items()
                     if key.startswith("yaml.")}
    settings = {"yaml": {**yaml_settings, "schemaStore": {"enable": False}}}
    text = (scaffold / "app.yaml").read_text(encoding="utf-8")
    modeline, _, body = text.partition("\n")
    assert modeline.startswith("# yaml-language-server:")
    size = re.search(r"^  size: (.+)$", body, re.MULTILINE)
    assert size, body
    nested = scaffold / "nested" / "app.yaml"
    nested.parent.mkdir()
    nested.write_text(body.replace(size[0], "  size: 600 MegaBytes"), encoding="utf-8")
    executable = require_tool(SERVER, installer="npm")
    with language_server([executable, "--stdio"], scaffold, settings,
                         stderr_path=scaffold.parent / f"{SERVER}-scaffold.log") as started:
        found = diagnostics_of(started, nested)
    assert [message for _, message in summary(found)] == [
        "Not a size: write an integer number of bytes or a string like 600MiB or 1.5GB"]
    assert found[0]["data"]["schemaUri"] == [(scaffold / "schemas" / "app.schema.json").as_uri()]


# Hover


@pytest.mark.parametrize(("relative", "key", "title"), [
    (f"{EXAMPLE}/app.yaml", "downloadAllowance", "Download allowance"),
    (f"{EXAMPLE}/app.yaml", "size", "App size"),
    (f"{EXAMPLE}/app.yaml", "id", "Bundle id"),
    (f"{EXAMPLE}/app.yaml", "appGroup", "App group"),
    (f"{EXAMPLE}/extension.yaml", "memory", "Memory limit"),
    (f"{EXAMPLE}/extension.yaml", "priority", "Priority"),
])
def test_hover_shows_the_fields_title_once(server, workspace, relative, key, title):
    shown = hover_text(server, workspace / "manifests" / relative, key)
    heading, _, rest = shown.partition("\n")
    assert heading == f"#### {title}", shown
    assert "||" not in shown, shown
    assert title not in rest, shown


# Completion


@pytest.mark.parametrize(("kind", "name"), [("app", "App"), ("extension", "Extension"),
                                            ("device", "Device")])
def test_completion_in_an_empty_document_offers_apiversion_and_kind_filled_in(server, workspace,
                                                                             kind, name):
    path = workspace / "cases" / f"empty.{kind}.yaml"
    text = f"# yaml-language-server: $schema=../schemas/{kind}.schema.json\n"
    path.write_text(text, encoding="utf-8")
    uri = server.open(path)
    try:
        items = {item["label"]: item for item in server.completion(uri, 1, 0)}
    finally:
        server.close_document(uri)
    assert {"apiVersion", "kind", "metadata", "spec"} <= items.keys(), sorted(items)
    assert items["apiVersion"]["insertText"] == "apiVersion: bgassets/v1"
    assert items["apiVersion"]["textEdit"]["newText"] == "apiVersion: bgassets/v1"
    assert items["kind"]["insertText"] == f"kind: {name}"
    assert items["kind"]["textEdit"]["newText"] == f"kind: {name}"
    # The whole-document skeleton, labelled with the schema's title, starts with both.
    skeleton = items[f"bgassets {name}"]["insertText"]
    assert skeleton.startswith(f"apiVersion: bgassets/v1\nkind: {name}\nmetadata:\n"), skeleton


def test_completion_after_apiversion_offers_only_what_is_missing(server, workspace):
    path = workspace / "cases" / "half.app.yaml"
    text = "# yaml-language-server: $schema=../schemas/app.schema.json\napiVersion: bgassets/v1\n"
    path.write_text(text, encoding="utf-8")
    uri = server.open(path)
    try:
        items = {item["label"]: item for item in server.completion(uri, 2, 0)}
    finally:
        server.close_document(uri)
    assert "apiVersion" not in items, sorted(items)
    assert items["kind"]["insertText"] == "kind: App"
