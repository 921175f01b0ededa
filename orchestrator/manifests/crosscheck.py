"""Checks that span fields or documents: what a schema cannot say.

Every function records problems on the :class:`Source` they concern and
expects documents that already passed their schema.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Iterable, Iterator
from functools import cache
from operator import itemgetter
from typing import Any
from urllib.parse import urljoin, urlsplit

from orchestrator.manifests.problems import dotted
from orchestrator.manifests.schema import describe, load_schema
from orchestrator.manifests.sources import Source
from orchestrator.model.hosts import host_allowed
from orchestrator.model.units import MAX_SIZE, parse_size

PLACEHOLDERS = ("id", "filename", "ext")
_DRIVE = re.compile(r"^[A-Za-z]:")


# A schema path: property names, and None for "every item of the list".
SchemaPath = tuple[str | None, ...]


@cache
def unbounded_numbers(kind: str) -> tuple[tuple[SchemaPath, bool], ...]:
    """The paths of ``kind``'s sizes (True) and integers without a maximum (False).

    Read from the schema, which has no way to say "fits in 64 bits" for a size that
    may be a string such as ``"9999999999TiB"``.
    """
    schema = load_schema(kind)
    found: list[tuple[SchemaPath, bool]] = []

    def walk(node: Any, path: SchemaPath) -> None:
        if not isinstance(node, dict) or len(path) > 16:
            return
        reference = node.get("$ref")
        if reference == "#/$defs/size":
            found.append((path, True))
            return
        if isinstance(reference, str) and reference.startswith("#/$defs/"):
            node = {**schema["$defs"][reference.removeprefix("#/$defs/")], **node}
        types = node.get("type")
        if "integer" in (types if isinstance(types, list) else [types]) \
                and "maximum" not in node:
            found.append((path, False))
        for name, child in (node.get("properties") or {}).items():
            walk(child, (*path, name))
        walk(node.get("items"), (*path, None))

    walk(schema, ())
    return tuple(found)


def _at(node: Any, path: SchemaPath, where: tuple[str | int, ...] = ()
        ) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    if not path:
        yield where, node
    elif path[0] is None:
        if isinstance(node, list):
            for index, item in enumerate(node):
                yield from _at(item, path[1:], (*where, index))
    elif isinstance(node, dict) and path[0] in node:
        yield from _at(node[path[0]], path[1:], (*where, path[0]))


def number_problem(value: Any, is_size: bool) -> str | None:
    """Why a schema-valid size or integer cannot be used, or None when it fits 64 bits."""
    if _fits(value):
        return None
    if isinstance(value, float) and value == 0 and math.copysign(1, value) < 0:
        return "-0.0 is a negative zero: write 0"
    if is_size:
        try:
            parse_size(value)
        except ValueError as error:
            return str(error)
    elif isinstance(value, int | float) and not isinstance(value, bool) and value > MAX_SIZE:
        return f"too large: at most {MAX_SIZE}"
    return None


def _values(node: Any, path: SchemaPath) -> list[Any]:
    """The values at ``path``, without their paths: one comprehension per step."""
    nodes = [node]
    for part in path:
        if part is None:
            nodes = [item for found in nodes if isinstance(found, list) for item in found]
        else:
            nodes = [found[part] for found in nodes if isinstance(found, dict) and part in found]
    return nodes


def _fits(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_SIZE or type(value) is str and len(
        value) <= 8  # no size string of 8 characters exceeds 8 EiB


def _all_fit(values: list[Any]) -> bool:
    """Whether every value obviously fits (:func:`_fits`): when all are plain integers,
    their least and greatest tell, in three passes of C (a million sizes in 0.05 s
    instead of 0.2 s a value at a time)."""
    if set(map(type, values)) <= {int}:
        return not values or (min(values) >= 0 and max(values) <= MAX_SIZE)
    return all(_fits(value) for value in values)


def check_numbers(source: Source) -> None:
    """Every size and unbounded integer fits in 64 bits, as the journal and files need.

    The values are first looked at without their paths (0.01 s on 100,000 assets),
    and walked with paths only when one of them does not obviously fit.
    """
    for path, is_size in unbounded_numbers(source.kind or ""):
        if _all_fit(_values(source.data, path)):
            continue
        for where, value in _at(source.data, path):
            problem = number_problem(value, is_size)
            if problem:
                source.report(where, f"{dotted(where)}: {problem}")


def check_app(app: Source) -> None:
    """The manifestURL host against the allow list, and consistent sizes.

    The allow-list entries themselves are the schema's to check (its pattern
    accepts a subset of what ``orchestrator.model.hosts.allow_entry_problem``
    does), so that an editor flags exactly what validate refuses.
    """
    entries = app.get("spec", "initialDownloadRestrictions", "domainAllowList") or []
    _check_url_host(app, ("spec", "manifestURL"), entries, "the catalog")
    if app.get("spec", "assetPacks") is not None:
        _check_url_host(app, ("spec", "assetPacks", "manifestURL"), entries,
                        "the pack catalog")
    spec = app.data["spec"]
    if "essentialMaxInstallSize" in spec and "maxInstallSize" in spec and parse_size(
            spec["essentialMaxInstallSize"]) > parse_size(spec["maxInstallSize"]):
        app.report(("spec", "essentialMaxInstallSize"), "spec.essentialMaxInstallSize: larger "
                   "than spec.maxInstallSize, which includes it")


def _check_url_host(app: Source, path: tuple[str, ...], entries: list[str], what: str) -> None:
    """A URL the app fetches before its first launch: one whose host the allow list has."""
    url, host = app.get(*path), None
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port
    except ValueError as error:
        # The schema's pattern lets through brackets and ports that the planner and the
        # engine cannot split: "http://[::1/c.json" names no host at all.
        app.report(path, f"{dotted(path)}: {describe(url)} is not a URL: {error}")
    if host and not host_allowed(host, entries):
        app.report(path, f"{dotted(path)}: host {host!r} is not in "
                   f"initialDownloadRestrictions.domainAllowList, so {what} cannot be "
                   "fetched before the first launch")


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
    """No two apps, extensions, asset packs or device profiles share an id (or name)."""
    seen: dict[tuple[str, str], Source] = {}
    for source in sources:
        if source.kind not in ("app", "extension", "device", "assetpack"):
            continue
        path = ("metadata", "name" if source.kind == "device" else "id")
        key = (source.kind, source.get(*path))
        first = seen.setdefault(key, source)
        if first is not source:
            line, column = first.locator.value(path) if first.locator else (1, 1)
            source.report(path, f"{'.'.join(path)}: duplicate {source.kind} "
                          f"{path[1]} {key[1]!r}, already used in {first.file}:{line}:{column}")


def check_pack(pack: Source) -> None:
    """Each of an AssetPack's selectors names a file or a directory, not both."""
    for index, selector in enumerate(pack.get("spec", "files") or []):
        path = ("spec", "files", index)
        if "file" in selector and "directory" in selector:
            pack.report(path, f"{dotted(path)}: give file or directory, not both")
        elif "file" not in selector and "directory" not in selector:
            pack.report(path, f"{dotted(path)}: needs file or directory")


def check_catalog(catalog: Source) -> None:
    """Unique asset ids, and urls that can be split (the schema's pattern allows ``[``)."""
    check_asset_ids(catalog)
    assets = catalog.get("assets") or []
    for index in _bracketed(list(map(_url, assets))):
        try:
            urlsplit(urljoin("https://host/", assets[index]["url"]))
        except ValueError as error:
            catalog.report(("assets", index, "url"), f"assets[{index}].url: "
                           f"{describe(assets[index]['url'])} is not a URL: {error}")


_url, _id = itemgetter("url"), itemgetter("id")  # of assets the schema has passed
BRACKET_CHUNK = 4096


def _bracketed(urls: list[str]) -> list[int]:
    """The indexes of the urls holding ``[`` or ``]``: the urls are looked at joined, a
    chunk at a time, and one by one only in a chunk that holds either (rare)."""
    found: list[int] = []
    for start in range(0, len(urls), BRACKET_CHUNK):
        chunk = urls[start:start + BRACKET_CHUNK]
        joined = "".join(chunk)
        if "[" in joined or "]" in joined:
            found += [start + i for i, url in enumerate(chunk) if "[" in url or "]" in url]
    return found


def check_asset_ids(catalog: Source) -> None:
    """Asset ids are unique within a catalog; one set() over the ids when they are."""
    assets = catalog.get("assets") or []
    ids = list(map(_id, assets))
    if len(set(ids)) == len(ids):
        return
    first: dict[str, int] = {}
    for index, asset_id in enumerate(ids):
        if first.setdefault(asset_id, index) != index:
            catalog.report(("assets", index, "id"), f"assets[{index}].id: duplicate asset id "
                           f"{asset_id!r}, already used by assets[{first[asset_id]}]")
