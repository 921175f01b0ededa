"""Validating files and folders together, and loading the model from valid manifests."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orchestrator.manifests.crosscheck as crosscheck
from orchestrator.errors import ManifestError
from orchestrator.manifests.problems import Problem, dotted, raise_problems
from orchestrator.manifests.scenario_checks import check_scenario
from orchestrator.manifests.schema import check
from orchestrator.manifests.sources import Source, parse, too_deep
from orchestrator.manifests.yamlload import MAX_DEPTH
from orchestrator.model.app import App
from orchestrator.model.device import Device
from orchestrator.model.extension import Extension
from orchestrator.model.pack import AssetPack
from orchestrator.model.scenario import Scenario
from orchestrator.packs.selection import Selection, select

SUFFIXES = (".yaml", ".yml", ".json")
_KIND_NAMES = {"app": "an App", "extension": "an Extension", "device": "a Device",
               "assetpack": "an AssetPack", "scenario": "a Scenario", "catalog": "a catalog"}
# A 100,000-asset catalog is about 20 MB; anything this large is a mistake, not a manifest.
MAX_FILE_SIZE = 512 << 20
_PER_KIND = {"app": crosscheck.check_app, "extension": crosscheck.check_extension,
             "catalog": crosscheck.check_catalog, "assetpack": crosscheck.check_pack,
             "scenario": check_scenario}


def read_source(path: Path, name: str | None = None) -> Source:
    """Read, parse and schema-check one file; every problem is recorded on the source."""
    name = name or str(path)
    try:
        if not path.is_file():
            return Source(name, problems=[Problem(name, 1, 1, "", _not_a_file(path))])
        if path.stat().st_size > MAX_FILE_SIZE:
            return Source(name, problems=[Problem(name, 1, 1, "", f"larger than "
                                                  f"{MAX_FILE_SIZE >> 20} MiB: not a manifest")])
        data = path.read_bytes()
    except OSError as error:
        return Source(name, problems=[Problem(name, 1, 1, "", f"cannot read: "
                                              f"{error.strerror or error}")])
    source = parse(name, data, json_first=path.suffix.lower() == ".json")
    source.directory = str(path.parent)
    check_source(source)
    return source


def _not_a_file(path: Path) -> str:
    """Why ``path``, which is no regular file, cannot be read (without opening it)."""
    if path.is_symlink():
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        return f"a symbolic link to {target!r}, which is missing or not a regular file"
    if path.is_fifo() or path.is_socket() or path.is_char_device() or path.is_block_device():
        return "not a regular file (a pipe, socket or device): not read"
    return "not a regular file"


def check_source(source: Source) -> None:
    """Schema findings, then (when the schema passes) the kind's own checks."""
    if source.kind is None or source.locator is None:
        return
    try:
        findings = check(source.kind, source.data, source.locator)
    except (RecursionError, ValueError) as error:
        # jsonschema-rs refuses documents nested deeper than it recurses (a ValueError);
        # YAML documents are kept shallower than that when they are read.
        path = too_deep(source.data)
        if path is None or (isinstance(error, ValueError) and "ecursion" not in str(error)):
            raise
        source.report(path, f"{dotted(path)}: nested deeper than {MAX_DEPTH} levels")
        return
    for path, (line, column), message in findings:
        source.problems.append(Problem(source.file, line, column, dotted(path), message))
    if findings:
        return
    before = len(source.problems)
    crosscheck.check_numbers(source)
    source.valid = len(source.problems) == before
    if source.valid and source.kind in _PER_KIND:
        _PER_KIND[source.kind](source)


def walk_files(folder: Path) -> Iterator[Path]:
    """Manifest and catalog candidates under ``folder``, skipping hidden folders."""
    for root, folders, files in os.walk(folder):
        folders[:] = sorted(f for f in folders if not f.startswith(".") and f != "__pycache__")
        for name in sorted(files):
            if name.lower().endswith(SUFFIXES):
                yield Path(root) / name


def _is_ours(source: Source) -> bool:
    """Whether a JSON file met in a folder walk is a bgassets document or catalog."""
    data = source.data
    return not isinstance(data, dict) or bool({"kind", "apiVersion", "assets"} & data.keys())


def extension_of(app: Source, known: dict[str, Source]) -> Source | None:
    """The extension an app names in spec.extension, read once and checked against the app.

    It is read even when the app itself has problems, so that one run shows both.
    """
    relative = app.get("spec", "extension")
    if not isinstance(relative, str) or app.directory is None:
        return None
    path = Path(app.directory) / relative
    try:
        key = os.path.realpath(path)
        exists = path.is_file()
    except (OSError, ValueError):
        key, exists = "", False
    if key not in known:
        if not exists:
            app.report(("spec", "extension"), f"spec.extension: {relative!r} does not exist "
                       f"(looked for {path})")
            return None
        known[key] = read_source(path, os.path.normpath(Path(app.file).parent / relative))
    extension = known[key]
    if extension.kind is None:
        return None  # unreadable: its own problems say why
    if extension.kind != "extension":
        app.report(("spec", "extension"), f"spec.extension: {relative!r} is not an "
                   "Extension document")
    elif extension.valid and app.valid:
        crosscheck.check_pair(app, extension)
    return extension


def validate_paths(paths: Sequence[str | Path], *,
                   pack_source: Path | None = None) -> list[Problem]:
    """Validate files and folders (recursively: *.yaml, *.yml, *.json) as one set.

    Apps are checked against the extensions they name, and ids must be unique
    across the set. With ``pack_source``, the AssetPacks' selectors are checked against
    that folder: each matches a file, and no path is in two packs. Problems come sorted
    by file, line and column.
    """
    known: dict[str, Source] = {}
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for found in walk_files(path):
                source = read_source(found)
                if found.suffix.lower() != ".json" or _is_ours(source):
                    known.setdefault(os.path.realpath(found), source)
        else:
            known.setdefault(os.path.realpath(path), read_source(path))
    for source in list(known.values()):
        if source.kind == "app":
            extension_of(source, known)
    crosscheck.check_unique_ids(s for s in known.values() if s.valid)
    if pack_source is not None:
        check_pack_files([s for s in known.values() if s.kind == "assetpack"], pack_source)
    return sorted({problem for source in known.values() for problem in source.problems})


def check_pack_files(sources: Sequence[Source], source_folder: Path) -> Selection | None:
    """The files of valid packs in ``source_folder``; selector problems are reported on
    their documents. None when a pack is invalid (its own problems say why)."""
    if not all(source.valid and not source.problems for source in sources):
        return None
    packs = [AssetPack.from_document(source.data) for source in sources]
    selection = select(packs, source_folder)
    for problem in selection.problems:
        path = ("spec", "files", problem.selector)
        sources[problem.pack].report(path, f"spec.files[{problem.selector}]: {problem.message}")
    return selection


def load_packs(paths: Sequence[str | Path], source_folder: Path
               ) -> tuple[list[AssetPack], Selection]:
    """The AssetPacks at ``paths`` and their files in ``source_folder``; ManifestError
    lists every problem (schema, duplicate ids, selectors, overlaps)."""
    sources = [_load(path, "assetpack") for path in paths]
    for source in sources:
        if source.kind is None and not source.problems:
            source.report(("kind",), "expected an AssetPack document")
    crosscheck.check_unique_ids(s for s in sources if s.valid)
    selection = check_pack_files(sources, source_folder)
    raise_problems(sorted({p for source in sources for p in source.problems}))
    assert selection is not None
    return [AssetPack.from_document(source.data) for source in sources], selection


def _load(path: str | Path, kind: str) -> Source:
    source = read_source(Path(path))
    if source.kind not in (None, kind) and not source.problems:
        source.report(("kind",), f"expected {_KIND_NAMES[kind]} document, "
                      f"found {source.kind}")
    return source


def load_app(path: str | Path) -> tuple[App, Extension]:
    """The app at ``path`` and the extension it names; ManifestError lists every problem."""
    app = _load(path, "app")
    extension = extension_of(app, {}) if app.kind == "app" else None
    problems = sorted(app.problems + (extension.problems if extension else []))
    raise_problems(problems)
    if extension is None:
        raise ManifestError(f"{app.file}: spec.extension names no Extension document")
    try:
        return (App.from_document(app.data, base_path=str(Path(path).parent)),
                Extension.from_document(extension.data, base_path=extension.directory))
    except (ValueError, TypeError, KeyError) as error:
        raise ManifestError(f"{app.file}: {error}") from None


def load_device(path: str | Path) -> Device:
    """The device profile at ``path``; ManifestError lists every problem."""
    device = _load(path, "device")
    raise_problems(sorted(device.problems))
    try:
        return Device.from_document(device.data)
    except (ValueError, TypeError, KeyError) as error:
        raise ManifestError(f"{device.file}: {error}") from None


def load_device_document(path: str | Path) -> dict[str, Any]:
    """The checked Device document at ``path`` as a mapping (a scenario changes its
    fields); ManifestError lists every problem."""
    device = _load(path, "device")
    raise_problems(sorted(device.problems))
    return dict(device.data)


def load_scenario(path: str | Path) -> Scenario:
    """The scenario at ``path``; ManifestError lists every problem."""
    scenario = _load(path, "scenario")
    raise_problems(sorted(scenario.problems))
    try:
        return Scenario.from_document(scenario.data, Path(path).resolve())
    except (ValueError, TypeError, KeyError) as error:
        raise ManifestError(f"{scenario.file}: {error}") from None
