"""Managed asset packs as their manifests declare them, and as a pack catalog lists them.

An :class:`AssetPack` (``kind: AssetPack``) says which files of a source folder the pack
holds and when it is downloaded. ``bgassets pack build`` turns packs and their files into
a :class:`PackCatalog`: per pack its version, sizes and files, each file stored either
as a content-addressed object of its own or as a slice of a bundle (many small files
in one object, so that a pack of thousands of files costs few requests).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

CATALOG_FORMAT = 1


class DownloadPolicy(StrEnum):
    """When a pack is downloaded: before launch, right after, or when the app asks."""

    ESSENTIAL = "essential"
    PREFETCH = "prefetch"
    ON_DEMAND = "onDemand"


class InstallationEvent(StrEnum):
    """The installation events an essential or prefetch pack is downloaded on."""

    FIRST_INSTALLATION = "firstInstallation"
    SUBSEQUENT_UPDATE = "subsequentUpdate"


@dataclass(frozen=True)
class Selector:
    """``file:`` one path, or ``directory:`` every file below it (narrowed by globs).

    ``where`` is the selector's index in ``spec.files``, for located messages.
    """

    file: str | None = None
    directory: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    where: int = 0

    @classmethod
    def from_document(cls, data: Mapping[str, Any], where: int) -> Selector:
        return cls(file=data.get("file"), directory=data.get("directory"),
                   include=tuple(data.get("include") or ()),
                   exclude=tuple(data.get("exclude") or ()), where=where)


@dataclass(frozen=True)
class AssetPack:
    """One pack manifest: its id, policy (with the events it applies to) and selectors."""

    id: str
    policy: DownloadPolicy
    events: frozenset[InstallationEvent] = frozenset()
    files: tuple[Selector, ...] = ()
    platforms: tuple[str, ...] = ()
    description: str = ""

    @classmethod
    def from_document(cls, data: Mapping[str, Any]) -> AssetPack:
        """Build from a schema-validated AssetPack document."""
        metadata, spec = data["metadata"], data["spec"]
        policy_data: Mapping[str, Any] = spec["downloadPolicy"]
        name, settings = next(iter(policy_data.items()))
        events = frozenset(InstallationEvent(event)
                           for event in (settings or {}).get("installationEventTypes", ()))
        return cls(id=str(metadata["id"]), policy=DownloadPolicy(name), events=events,
                   files=tuple(Selector.from_document(item, index)
                               for index, item in enumerate(spec["files"])),
                   platforms=tuple(spec.get("platforms") or ()),
                   description=str(metadata.get("description", "")))

    def applies_to(self, event: InstallationEvent) -> bool:
        """Whether an install (or update) of this kind downloads the pack by itself."""
        return self.policy is not DownloadPolicy.ON_DEMAND and event in self.events


@dataclass(frozen=True)
class PackFile:
    """One file of a built pack: where it goes, what it is, and where its bytes are.

    ``object`` is the URL (relative to the pack catalog) of the object holding it; a
    file in a bundle is the ``size`` bytes at ``offset`` of that object.
    """

    path: str
    size: int
    sha256: str
    object: str
    offset: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "size": self.size, "sha256": self.sha256,
                                "object": self.object}
        if self.offset is not None:
            data["offset"] = self.offset
        return data


@dataclass(frozen=True)
class PackObject:
    """One object a host serves: a file's bytes, or a bundle of small files."""

    url: str
    size: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class BuiltPack:
    """A pack as the catalog lists it. ``version`` is derived from its content: the same
    files give the same version, any change gives another."""

    pack: AssetPack
    version: str
    files: tuple[PackFile, ...]
    objects: tuple[PackObject, ...]

    @property
    def installed_size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def download_size(self) -> int:
        return sum(o.size for o in self.objects)

    def to_json(self) -> dict[str, Any]:
        pack = self.pack
        policy: dict[str, Any] = {} if pack.policy is DownloadPolicy.ON_DEMAND else {
            "installationEventTypes": sorted(event.value for event in pack.events)}
        data: dict[str, Any] = {
            "id": pack.id, "version": self.version, "downloadPolicy": {pack.policy.value: policy},
            "downloadSize": self.download_size, "installedSize": self.installed_size,
            "objects": [o.to_json() for o in self.objects],
            "files": [f.to_json() for f in self.files]}
        if pack.platforms:
            data["platforms"] = list(pack.platforms)
        if pack.description:
            data["description"] = pack.description
        return data


@dataclass(frozen=True)
class PackCatalog:
    """What ``pack build`` writes as ``packs.json``: every pack of one build."""

    packs: tuple[BuiltPack, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {"format": CATALOG_FORMAT, "packs": [pack.to_json() for pack in self.packs]}
