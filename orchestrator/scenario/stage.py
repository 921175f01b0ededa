"""What a scenario run sets up before it plays: manifest copies, the served content, the
starting device."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from orchestrator.bundled import LOOPBACK_HOSTS
from orchestrator.devserver.served import plan_content, served_path
from orchestrator.errors import ManifestError
from orchestrator.manifests.documents import load_device_document
from orchestrator.model.app import App
from orchestrator.model.scenario import Scenario


def copy_manifest(manifest: Path, folder: Path, name: str, *, version: str | None = None,
                  extension: Path | None = None) -> Path:
    """A copy of an App manifest as ``folder/name.yaml``, with another version or
    extension; it keeps its extension, relative to where the copy is."""
    data = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    spec = data["spec"]
    named = spec.get("extension") or "extension.yaml"
    target = folder / f"{name}.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    spec["extension"] = os.path.relpath(
        (extension or manifest.parent / named).resolve(), folder)
    if version is not None:
        spec["version"] = version
    target.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return target


@dataclass(frozen=True)
class Served:
    """The folder the dev server serves, its port, and each app's catalog file in it."""

    root: Path
    port: int
    catalogs: dict[str, Path]


def serve_content(scenario: Scenario, apps: Mapping[str, App], manifests: list[Path],
                  out: Path) -> Served:
    """``spec.server.content``, or the apps' own content laid out in ``out`` as
    ``bgassets run`` serves it, on the port the apps' manifestURL names."""
    ports = {loopback_port(scenario.file, app) for app in apps.values()}
    if len(ports) != 1:
        raise ManifestError(f"{scenario.file}: the apps' manifestURLs name different ports "
                            f"({', '.join(map(str, sorted(ports)))}); one server serves a "
                            "scenario")
    port = ports.pop()
    updates = [step.manifest for step in scenario.steps if step.manifest is not None]
    if scenario.server.content is not None:
        root = scenario.server.content.resolve()
        if any(step.server is not None and step.server.catalog is not None
               for step in scenario.steps):
            root = _linked_copy(root, out)  # a new catalog must not land in the user's folder
    else:
        first = scenario.apps[0].resolve()
        planned = plan_content(first.parent.parent, [*manifests, *updates], port)
        if planned is None:
            raise ManifestError(f"{scenario.file}: the apps' manifestURLs name no loopback "
                                "server to serve their content")
        root = planned.root(out)
    catalogs = {app_id: root / path for app_id, app in apps.items()
                if (path := served_path(app.manifest_url, port)) is not None}
    return Served(root, port, catalogs)


def loopback_port(file: Path, app: App) -> int:
    """The port of the loopback http server ``app``'s manifestURL names."""
    parts = urlsplit(app.manifest_url)
    try:
        port = parts.port or 80
    except ValueError:
        port = -1
    if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS or port <= 0:
        raise ManifestError(
            f"{file}: {app.id}'s manifestURL {app.manifest_url} names no loopback http "
            "server: a scenario serves the content itself, on 127.0.0.1")
    return port


def starting_device(given: Path | Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """The name and Device spec a scenario starts with: a Device manifest's, the fields
    written in the scenario, or none (everything allowed)."""
    if isinstance(given, Path):
        document = load_device_document(given)
        return str(document["metadata"]["name"]), dict(document.get("spec") or {})
    return "scenario", dict(given or {})


def merged(base: Mapping[str, Any], change: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``change``'s fields in, nested mappings field by field."""
    result = dict(base)
    for key, value in change.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def _linked_copy(source: Path, out: Path) -> Path:
    """``source``'s regular files at the same places under ``out``, hard-linked (copied
    across file systems); symbolic links are left out, as the dev server serves none."""
    for folder, _, names in os.walk(source):
        for name in names:
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            target = out / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.unlink(missing_ok=True)
            try:
                os.link(path, target)
            except OSError:
                shutil.copy2(path, target)
    return out
