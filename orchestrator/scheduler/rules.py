"""The declarative extension: turn a catalog into downloads by the Extension's rules.

This is what a typical downloader extension does in code (download every asset
not already present, essential as the catalog says when the request is
``install`` or ``update``, with the catalog's priority), generalised by the
rules of an Extension manifest. Pure: what is already on disk comes in as a
mapping, not from the file system.
"""

from __future__ import annotations

import functools
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from urllib.parse import unquote, urlsplit

from orchestrator.bulk import without_collector
from orchestrator.model.catalog import Catalog, CatalogAsset
from orchestrator.model.download import Download
from orchestrator.model.enums import ContentRequest
from orchestrator.model.extension import EssentialMode, Extension, Rule

ESSENTIAL_REQUESTS = frozenset({ContentRequest.INSTALL, ContentRequest.UPDATE})


@dataclass(frozen=True)
class PresentFile:
    """A file already in the container at a download's destination."""

    size: int
    sha256: str | None = None


def matching_rule(rules: tuple[Rule, ...], asset: CatalogAsset) -> Rule | None:
    """The first rule whose ``match`` fits ``asset`` (id glob, optional essential flag)."""
    for rule in rules:
        if rule.match.id != "*" and not fnmatchcase(asset.id, rule.match.id):
            continue
        if rule.match.essential is not None and rule.match.essential != asset.essential:
            continue
        return rule
    return None


def url_file_name(asset: CatalogAsset) -> str:
    """The file name at the end of ``asset``'s URL path, or its id when the path has none."""
    url = asset.url
    if "?" in url or "#" in url or "%" in url:
        filename = posixpath.basename(unquote(urlsplit(url).path))
    else:
        filename = url[url.rfind("/") + 1:]
    return filename or asset.id


def render_destination(template: str, asset: CatalogAsset) -> str:
    """Fill ``{id}``, ``{filename}`` and ``{ext}`` of a destination template for ``asset``.

    ``{ext}`` keeps its dot (``.mp4``) so that ``{id}{ext}`` reads naturally, and is
    empty when the URL's file name has none.
    """
    if "{" not in template:
        return template
    filename = url_file_name(asset)
    dot = filename.rfind(".")
    ext = filename[dot:] if dot > 0 else ""
    return template.replace("{id}", asset.id).replace("{filename}", filename).replace("{ext}", ext)


def destination_renderer(template: str) -> Callable[[CatalogAsset], str]:
    """:func:`render_destination` of ``template``, with the template read once.

    A template without fields, or with one ``{filename}`` and no other field (as in
    ``sessions/{filename}``), skips the replacements; any other uses them all.
    """
    if "{" not in template:
        return lambda asset: template
    head, field, tail = template.partition("{filename}")
    if field and "{" not in head and "{" not in tail:
        def render(asset: CatalogAsset) -> str:
            filename = url_file_name(asset)
            if "{" in filename:  # replaced fields inside the file name: the general way
                return render_destination(template, asset)
            return head + filename + tail
        return render
    return functools.partial(render_destination, template)


def _is_present(asset: CatalogAsset, present: PresentFile | None) -> bool:
    """Present and unchanged: same size, and same sha256 when the catalog pins one."""
    if present is None or present.size != asset.size:
        return False
    return asset.sha256 is None or present.sha256 == asset.sha256


def _essential_for(rule: Rule, request: ContentRequest) -> bool | None:
    """Whether ``rule`` makes its downloads essential for ``request``; None: as the catalog
    says of each asset."""
    if request not in ESSENTIAL_REQUESTS or rule.essential is EssentialMode.NEVER:
        return False
    if rule.essential is EssentialMode.ALWAYS:
        return True
    return None


def _matches_every(rule: Rule) -> bool:
    return rule.match.id == "*" and rule.match.essential is None


@without_collector
def decide_downloads(
    extension: Extension,
    catalog: Catalog,
    request: ContentRequest,
    present: Mapping[str, PresentFile] | None = None,
) -> list[Download]:
    """The downloads a declarative extension answers with, in catalog order.

    ``present`` maps destinations (relative to the container) to what is on
    disk there; with ``skipPresent`` such assets are not downloaded again.
    """
    present = present or {}
    skip_present = extension.skip_present and bool(present)
    app_group, rules = extension.app_group, extension.rules
    # What each rule gives every asset it decides for, worked out once per rule.
    decided = {id(rule): (destination_renderer(rule.destination), _essential_for(rule, request),
                          rule.priority) for rule in rules}
    first = rules[0] if rules and _matches_every(rules[0]) else None  # decides for all
    downloads: list[Download] = []
    append = downloads.append
    for asset in catalog.assets:
        rule = first if first is not None else matching_rule(rules, asset)
        if rule is None or not rule.download:
            continue
        render, essential, priority = decided[id(rule)]
        destination = render(asset)
        if skip_present and _is_present(asset, present.get(destination)):
            continue
        append(Download(asset.id, asset.url, app_group,
                        asset.essential if essential is None else essential,
                        asset.size, asset.sha256,
                        asset.priority if priority is None else priority, destination))
    return downloads
