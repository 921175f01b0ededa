"""An app as its manifest declares it: what Info.plist says in the original framework."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from orchestrator.model.units import parse_size


@dataclass(frozen=True)
class InitialDownloadRestrictions:
    """Limits that hold only until the app's first launch.

    ``download_allowance`` caps non-essential bytes (the catalog itself counts
    against it), ``essential_download_allowance`` caps essential bytes and
    ``domain_allow_list`` caps hosts (``*.`` entries are wildcards).
    """

    download_allowance: int
    essential_download_allowance: int
    domain_allow_list: tuple[str, ...] = ()

    @classmethod
    def from_document(cls, data: Mapping[str, Any]) -> InitialDownloadRestrictions:
        """Build from ``spec.initialDownloadRestrictions`` of a validated App document."""
        return cls(
            download_allowance=parse_size(data.get("downloadAllowance", 0)),
            essential_download_allowance=parse_size(data.get("essentialDownloadAllowance", 0)),
            domain_allow_list=tuple(str(host) for host in data.get("domainAllowList", ())),
        )


@dataclass(frozen=True)
class NetworkPolicy:
    """Whether background downloads may use a metered network."""

    allow_metered: bool = True


@dataclass(frozen=True)
class App:
    """One app: identity, app group, catalog location and size limits.

    ``pack_catalog_url`` is where its managed asset packs are listed, when it has any.

    ``extension`` is the path of the extension manifest, resolved against the
    directory of the app manifest when ``base_path`` was given.
    """

    id: str
    team: str
    version: str
    app_group: str
    manifest_url: str
    size: int
    max_install_size: int
    essential_max_install_size: int
    restrictions: InitialDownloadRestrictions
    extension: str | None = None
    name: str | None = None
    network_policy: NetworkPolicy = field(default_factory=NetworkPolicy)
    pack_catalog_url: str | None = None

    @property
    def display_name(self) -> str:
        """The name to show people: ``metadata.name`` or the id."""
        return self.name or self.id

    @classmethod
    def from_document(cls, data: Mapping[str, Any], base_path: str | None = None) -> App:
        """Build from an already schema-validated App document.

        ``base_path`` is the directory of the manifest file; ``spec.extension``
        is joined to it so callers can open the extension manifest directly.
        """
        metadata, spec = data["metadata"], data["spec"]
        extension = spec.get("extension")
        if extension is not None and base_path is not None:
            extension = str(PurePosixPath(base_path) / extension)
        policy = spec.get("networkPolicy") or {}
        return cls(
            id=str(metadata["id"]),
            team=str(metadata["team"]),
            name=metadata.get("name"),
            version=str(spec["version"]),
            app_group=str(spec["appGroup"]),
            manifest_url=str(spec["manifestURL"]),
            size=parse_size(spec.get("size", 0)),
            max_install_size=parse_size(spec.get("maxInstallSize", 0)),
            essential_max_install_size=parse_size(spec.get("essentialMaxInstallSize", 0)),
            restrictions=InitialDownloadRestrictions.from_document(
                spec.get("initialDownloadRestrictions") or {}
            ),
            extension=extension,
            network_policy=NetworkPolicy(allow_metered=bool(policy.get("allowMetered", True))),
            pack_catalog_url=(spec.get("assetPacks") or {}).get("manifestURL"),
        )
