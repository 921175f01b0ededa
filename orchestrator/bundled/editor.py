"""What an editor needs to validate bgassets documents outside this package.

The schemas are copied next to a user's manifests together with an index in
SchemaStore's catalog format (which file names each schema is for), and the
manifests point at them with relative ``yaml-language-server`` modelines.
Nothing here needs a network: the schemas' ``$id`` names them, it is not
where an editor fetches them from.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from orchestrator.bundled import KINDS, schema_path

INDEX_NAME = "index.json"
MODELINE_PREFIX = "# yaml-language-server: $schema="

# File names that editors map to each schema without a modeline.
FILE_MATCH: dict[str, tuple[str, ...]] = {
    "app": ("**/app.yaml", "**/app.yml", "**/*.app.yaml", "**/*.app.yml"),
    "extension": ("**/extension.yaml", "**/extension.yml", "**/*.extension.yaml",
                  "**/*.extension.yml"),
    "device": ("**/devices/*.yaml", "**/devices/*.yml", "**/*.device.yaml", "**/*.device.yml"),
    "catalog": ("**/catalog.json", "**/*.catalog.json", "**/catalog.yaml", "**/catalog.yml",
                "**/*.catalog.yaml", "**/*.catalog.yml"),
    "assetpack": ("**/packs/*.yaml", "**/packs/*.yml", "**/*.pack.yaml", "**/*.pack.yml"),
    "scenario": ("**/scenarios/*.yaml", "**/scenarios/*.yml", "**/*.scenario.yaml",
                 "**/*.scenario.yml"),
}


def schema_file_name(kind: str) -> str:
    """``app.schema.json`` for ``app``."""
    return f"{kind}.schema.json"


def schema_text(kind: str) -> str:
    """The schema of ``kind`` exactly as shipped."""
    if kind not in KINDS:
        raise KeyError(kind)
    return schema_path(kind).read_text(encoding="utf-8")


def index() -> dict[str, Any]:
    """A SchemaStore-style catalog of the four schemas, with URLs relative to its folder."""
    entries = []
    for kind in KINDS:
        schema = json.loads(schema_text(kind))
        entries.append({
            "name": schema.get("title", kind),
            "description": schema.get("description", ""),
            "fileMatch": list(FILE_MATCH[kind]),
            "url": f"./{schema_file_name(kind)}",
            "$id": schema["$id"],
        })
    return {"$schema": "https://json.schemastore.org/schema-catalog.json", "version": 1,
            "schemas": entries}


def schema_files(folder: Path) -> dict[Path, str]:
    """The four schemas and ``index.json`` as they belong in ``folder``."""
    files = {folder / schema_file_name(kind): schema_text(kind) for kind in KINDS}
    files[folder / INDEX_NAME] = json.dumps(index(), indent=2) + "\n"
    return files


def write_schemas(folder: Path) -> list[Path]:
    """Write the four schemas and ``index.json`` into ``folder``; the paths written."""
    return write_files(schema_files(folder))


def write_files(files: dict[Path, str]) -> list[Path]:
    """Write every file of ``files`` (path -> text) with :func:`write_file`; the paths."""
    return [write_file(path, text) for path, text in files.items()]


def relative_to(target: Path, start: Path) -> str:
    """``target`` as a POSIX path relative to the folder ``start`` (``./x`` when inside)."""
    relative = Path(os.path.relpath(target.resolve(), start.resolve())).as_posix()
    return relative if relative.startswith("../") else f"./{relative}"


def modeline(kind: str, schemas: str) -> str:
    """The first line of a YAML manifest of ``kind`` whose schemas are in ``schemas``."""
    return f"{MODELINE_PREFIX}{schemas.rstrip('/')}/{schema_file_name(kind)}"


def vscode_settings(schemas: str) -> dict[str, Any]:
    """``.vscode/settings.json`` mapping file names to the schemas in ``schemas``.

    The YAML extension reads ``yaml.schemas``; catalogs in JSON are matched by
    VS Code's own ``json.schemas``. ``yaml.yamlVersion`` is pinned to 1.2, whose
    only booleans are true and false, as the validator reads them.
    """
    base = schemas.rstrip("/")
    yaml_schemas = {f"{base}/{schema_file_name(kind)}": list(FILE_MATCH[kind]) for kind in KINDS}
    json_catalogs = [glob for glob in FILE_MATCH["catalog"] if glob.endswith(".json")]
    return {
        "yaml.schemas": yaml_schemas,
        "json.schemas": [{"fileMatch": json_catalogs,
                          "url": f"{base}/{schema_file_name('catalog')}"}],
        "yaml.yamlVersion": "1.2",
        "yaml.validate": True,
        "yaml.hover": True,
        "yaml.completion": True,
    }


def write_file(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` durably: temporary file, fsync, rename, fsync the folder.

    A crash leaves the old file or the new one, never half of one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(descriptor, 0o644)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    return path
