"""The remote catalog at an app's ``manifestURL``: the assets the server offers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from orchestrator.model.download import clamp_priority
from orchestrator.model.enums import Priority
from orchestrator.model.units import parse_size


@dataclass(frozen=True)
class CatalogAsset:
    """One asset of a catalog; ``url`` is already absolute."""

    id: str
    url: str
    size: int
    sha256: str | None = None
    essential: bool = False
    priority: int = int(Priority.DEFAULT)
    title: str | None = None
    description: str | None = None

    @classmethod
    def from_document(cls, data: Mapping[str, Any], base_url: str | None = None) -> CatalogAsset:
        """Build from one validated catalog entry; a relative ``url`` is joined to ``base_url``."""
        url = str(data["url"])
        if base_url:
            url = urljoin(base_url, url)
        sha256 = data.get("sha256")
        return cls(
            id=str(data["id"]),
            url=url,
            size=parse_size(data["size"]),
            sha256=str(sha256).lower() if sha256 else None,
            essential=bool(data.get("essential", False)),
            priority=clamp_priority(data.get("priority", int(Priority.DEFAULT))),
            title=data.get("title"),
            description=data.get("description"),
        )


@dataclass(frozen=True)
class Catalog:
    """A catalog: its version and its assets in server order."""

    version: str
    assets: tuple[CatalogAsset, ...]
    url: str | None = None

    @property
    def total_size(self) -> int:
        """Bytes of every asset together."""
        return sum(asset.size for asset in self.assets)

    @classmethod
    def from_document(cls, data: Mapping[str, Any], base_url: str | None = None) -> Catalog:
        """Build from a validated catalog; ``base_url`` is where the catalog was fetched from."""
        return cls(
            version=str(data["version"]),
            assets=tuple(CatalogAsset.from_document(a, base_url) for a in data.get("assets", ())),
            url=base_url,
        )
