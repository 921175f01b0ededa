"""Checks that span fields or documents: what a schema cannot say.

Every function records problems on the :class:`Source` they concern and
expects documents that already passed their schema.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from urllib.parse import urlsplit

from orchestrator.manifests.sources import Source
from orchestrator.model.hosts import host_allowed
from orchestrator.model.units import parse_size

PLACEHOLDERS = ("id", "filename", "ext")
_DRIVE = re.compile(r"^[A-Za-z]:")


def check_app(app: Source) -> None:
    """The manifestURL host against the allow list, and consistent sizes.

    The allow-list entries themselves are the schema's to check (its pattern
    accepts a subset of what ``orchestrator.model.hosts.allow_entry_problem``
    does), so that an editor flags exactly what validate refuses.
    """
    entries = app.get("spec", "initialDownloadRestrictions", "domainAllowList") or []
    try:
        host = urlsplit(app.get("spec", "manifestURL")).hostname
    except ValueError:
        host = None
    if host and not host_allowed(host, entries):
        app.report(("spec", "manifestURL"), f"spec.manifestURL: host {host!r} is not in "
                   "initialDownloadRestrictions.domainAllowList, so the catalog cannot be "
                   "fetched before the first launch")
    spec = app.data["spec"]
    if "essentialMaxInstallSize" in spec and "maxInstallSize" in spec and parse_size(
            spec["essentialMaxInstallSize"]) > parse_size(spec["maxInstallSize"]):
        app.report(("spec", "essentialMaxInstallSize"), "spec.essentialMaxInstallSize: larger "
                   "than spec.maxInstallSize, which includes it")


def destination_problem(template: str) -> str | None:
    """Why a destination template cannot be used, or None when it is fine."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError:
        return f"{template!r} has unbalanced braces: use {{id}}, {{filename}} or {{ext}}"
    for name in fields:
        if name not in PLACEHOLDERS:
            return f"unknown placeholder {{{name}}}: use {{id}}, {{filename}} or {{ext}}"
    path = template.replace("\\", "/")
    if path.startswith(("/", "~")) or _DRIVE.match(path):
        return f"{template!r} must be relative to the app group container"
    if ".." in path.split("/"):
        return f"{template!r} must not contain '..': files stay inside the app group container"
    if path.endswith("/"):
        return f"{template!r} names a folder: end it with a file name, e.g. {{filename}}"
    return None


def check_extension(extension: Source) -> None:
    """Destination templates stay inside the container and use known placeholders."""
    for index, rule in enumerate(extension.get("spec", "rules") or []):
        template = rule.get("destination")
        problem = template is not None and destination_problem(template)
        if problem:
            path = ("spec", "rules", index, "destination")
            extension.report(path, f"spec.rules[{index}].destination: {problem}")


def check_pair(app: Source, extension: Source) -> None:
    """The extension belongs to the app: id prefix, app id, team and app group."""
    app_id = app.get("metadata", "id")
    own_id = extension.get("metadata", "id")
    if not own_id.startswith(f"{app_id}."):
        extension.report(("metadata", "id"), f"metadata.id: {own_id!r} must start with the app "
                         f"id followed by a dot ({app_id}.) as declared in {app.file}")
    for path, what in ((("metadata", "app"), "app id"), (("metadata", "team"), "team"),
                       (("spec", "appGroup"), "app group")):
        theirs = app.get(*path) if path[-1] != "app" else app_id
        ours = extension.get(*path)
        if ours != theirs:
            extension.report(path, f"{'.'.join(path)}: {ours!r} differs from the {what} "
                             f"{theirs!r} of the app that uses this extension ({app.file})")


def check_unique_ids(sources: Iterable[Source]) -> None:
    """No two apps, no two extensions and no two device profiles share an id (or name)."""
    seen: dict[tuple[str, str], Source] = {}
    for source in sources:
        if source.kind not in ("app", "extension", "device"):
            continue
        path = ("metadata", "name" if source.kind == "device" else "id")
        key = (source.kind, source.get(*path))
        first = seen.setdefault(key, source)
        if first is not source:
            line, column = first.locator.value(path) if first.locator else (1, 1)
            source.report(path, f"{'.'.join(path)}: duplicate {source.kind} "
                          f"{path[1]} {key[1]!r}, already used in {first.file}:{line}:{column}")


def check_asset_ids(catalog: Source) -> None:
    """Asset ids are unique within a catalog; one set() over the ids when they are."""
    assets = catalog.get("assets") or []
    ids = [asset["id"] for asset in assets]
    if len(set(ids)) == len(ids):
        return
    first: dict[str, int] = {}
    for index, asset_id in enumerate(ids):
        if first.setdefault(asset_id, index) != index:
            catalog.report(("assets", index, "id"), f"assets[{index}].id: duplicate asset id "
                           f"{asset_id!r}, already used by assets[{first[asset_id]}]")
