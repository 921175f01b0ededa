"""The remote catalog at an app's ``manifestURL``: the assets the server offers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from orchestrator.model.download import clamp_priority
from orchestrator.model.enums import Priority
from orchestrator.model.units import parse_size

# Relative URLs such as "sessions/a.mp4" are joined by concatenation, which is what urljoin
# would do, at a fraction of its cost (100,000-asset catalogs; see benchmarks/plan.py).
# "Simple": plain ASCII path segments, none empty or starting with a dot, no query or
# fragment; anything else goes through urljoin. Simple absolute URLs stay as they are.
_SEGMENT = r"[A-Za-z0-9\-_~!$&'()*+,=@%][A-Za-z0-9\-_~!$&'()*+,=@%.]*"
_simple_relative = re.compile(f"{_SEGMENT}(?:/{_SEGMENT})*").fullmatch
_simple_absolute = re.compile(r"https?://[A-Za-z0-9.\-]+(?::[0-9]+)?"
                              r"(?:/[A-Za-z0-9\-_~!$&'()*+,=@%./]*)?").fullmatch


def _base_prefix(base_url: str | None) -> str | None:
    """``base_url`` up to its last slash, the part a simple relative URL is appended to."""
    if not base_url or "?" in base_url or "#" in base_url \
            or not base_url.startswith(("http://", "https://")):
        return None
    if base_url.find("/", base_url.find("://") + 3) < 0:
        return base_url + "/"  # no path at all: relative URLs start at the root
    return base_url[: base_url.rfind("/") + 1]


def join_url(base_url: str | None, url: str, prefix: str | None = None) -> str:
    """``url`` made absolute against ``base_url`` (as ``urllib.parse.urljoin`` does)."""
    if not base_url:
        return url
    if prefix is not None and _simple_relative(url):
        return prefix + url
    if _simple_absolute(url):
        return url
    return urljoin(base_url, url)


@dataclass(slots=True)
class CatalogAsset:
    """One asset of a catalog; ``url`` is already absolute.

    Not frozen, only by convention read-only: a frozen dataclass costs a third of
    the time of loading a 100,000-asset catalog.
    """

    id: str
    url: str
    size: int
    sha256: str | None = None
    essential: bool = False
    priority: int = int(Priority.DEFAULT)
    title: str | None = None
    description: str | None = None

    @classmethod
    def from_document(cls, data: Mapping[str, Any], base_url: str | None = None,
                      prefix: str | None = None) -> CatalogAsset:
        """Build from one validated catalog entry; a relative ``url`` is joined to ``base_url``.

        ``prefix`` is ``base_url`` up to its last slash, when the caller has it at hand.
        """
        url = join_url(base_url, str(data["url"]), prefix)
        sha256 = data.get("sha256")
        size = data["size"]
        priority = data.get("priority", 50)
        # Positional, with the common types taken as they are: this runs per asset.
        return cls(
            str(data["id"]),
            url,
            size if type(size) is int and size >= 0 else parse_size(size),
            sha256.lower() if type(sha256) is str else (str(sha256).lower() if sha256 else None),
            data.get("essential", False) is True,
            priority if type(priority) is int and 0 <= priority <= 100
            else clamp_priority(priority),
            data.get("title"),
            data.get("description"),
        )


@dataclass(frozen=True)
class Catalog:
    """A catalog: its version and its assets in server order."""

    version: str
    assets: tuple[CatalogAsset, ...]
    url: str | None = None

    @classmethod
    def from_document(cls, data: Mapping[str, Any], base_url: str | None = None, *,
                      consume: bool = False) -> Catalog:
        """Build from a validated catalog; ``base_url`` is where the catalog was fetched from.

        With ``consume`` the entries are taken out of ``data``'s asset list as they are
        read, so that the parsed document and the catalog are never both held in full
        (560 and 330 bytes an asset; for a caller that drops the document anyway).
        """
        prefix = _base_prefix(base_url)
        entries = data.get("assets", ())
        build = CatalogAsset.from_document
        if consume and type(entries) is list:
            entries.reverse()
            take = entries.pop
            assets = tuple([build(take(), base_url, prefix) for _ in range(len(entries))])
        else:
            assets = tuple([build(a, base_url, prefix) for a in entries])
        return cls(version=str(data["version"]), assets=assets, url=base_url)
