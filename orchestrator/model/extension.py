"""A downloader extension as its manifest declares it: rules, failure policy, limits."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from orchestrator.model.auth import CredentialSource
from orchestrator.model.units import parse_size

DEFAULT_MEMORY_LIMIT = 64 * 2**20
DEFAULT_RETRIES = 3


class EssentialMode(StrEnum):
    """How a rule decides the essential flag: copy the catalog's, or force it."""

    CATALOG = "catalog"
    ALWAYS = "always"
    NEVER = "never"


class EssentialFailure(StrEnum):
    """What to do when an essential download fails."""

    REENQUEUE_NONESSENTIAL = "reenqueue-nonessential"
    FAIL = "fail"


@dataclass(frozen=True)
class RuleMatch:
    """Which catalog assets a rule applies to: an id glob and optionally the essential flag."""

    id: str = "*"
    essential: bool | None = None


@dataclass(frozen=True)
class Rule:
    """One declarative rule; the first rule whose ``match`` fits an asset decides for it.

    ``priority`` is ``None`` to keep the catalog's priority.
    """

    match: RuleMatch = field(default_factory=RuleMatch)
    download: bool = True
    essential: EssentialMode = EssentialMode.CATALOG
    priority: int | None = None
    destination: str = "{filename}"

    @classmethod
    def from_document(cls, data: Mapping[str, Any]) -> Rule:
        """Build from one entry of ``spec.rules``, applying the pinned defaults."""
        match = data.get("match") or {}
        priority = data.get("priority", "catalog")
        return cls(
            match=RuleMatch(id=str(match.get("id", "*")), essential=match.get("essential")),
            download=bool(data.get("download", True)),
            essential=EssentialMode(data.get("essential", "catalog")),
            priority=None if priority == "catalog" else int(priority),
            destination=str(data.get("destination", "{filename}")),
        )


@dataclass(frozen=True)
class FailurePolicy:
    """``spec.onFailure``: re-enqueue failed essential downloads, retry the others."""

    essential: EssentialFailure = EssentialFailure.REENQUEUE_NONESSENTIAL
    retries: int = DEFAULT_RETRIES


@dataclass(frozen=True)
class PackRule:
    """One entry of ``spec.packs``: packs whose id matches ``id`` (a glob) are downloaded
    or not; the first matching rule decides."""

    id: str
    download: bool = True


# Without rules the extension downloads every asset, as the catalog says.
DEFAULT_RULES = (Rule(),)


@dataclass(frozen=True)
class Extension:
    """The downloader extension of one app.

    ``handler`` (``module:Class``) replaces the declarative rules with user code.
    ``credentials`` answer authentication challenges before the handler is asked.
    """

    id: str
    app: str
    team: str
    app_group: str
    rules: tuple[Rule, ...] = DEFAULT_RULES
    on_failure: FailurePolicy = field(default_factory=FailurePolicy)
    handler: str | None = None
    skip_present: bool = True
    memory_limit: int = DEFAULT_MEMORY_LIMIT
    credentials: tuple[CredentialSource, ...] = ()
    pack_rules: tuple[PackRule, ...] = ()

    @classmethod
    def from_document(cls, data: Mapping[str, Any], base_path: str | None = None) -> Extension:
        """Build from an already schema-validated Extension document.

        ``base_path`` is the manifest's folder: credential files are relative to it.
        """
        metadata, spec = data["metadata"], data["spec"]
        rules = tuple(Rule.from_document(rule) for rule in spec.get("rules") or ())
        failure = spec.get("onFailure") or {}
        limits = spec.get("limits") or {}
        return cls(
            id=str(metadata["id"]),
            app=str(metadata["app"]),
            team=str(metadata["team"]),
            app_group=str(spec["appGroup"]),
            rules=rules or DEFAULT_RULES,
            on_failure=FailurePolicy(
                essential=EssentialFailure(failure.get("essential", "reenqueue-nonessential")),
                retries=int(failure.get("retries", DEFAULT_RETRIES)),
            ),
            handler=spec.get("handler"),
            skip_present=bool(spec.get("skipPresent", True)),
            memory_limit=parse_size(limits.get("memory", DEFAULT_MEMORY_LIMIT)),
            credentials=tuple(CredentialSource.from_document(entry, base_path)
                              for entry in spec.get("credentials") or ()),
            pack_rules=tuple(PackRule(str(rule["id"]), bool(rule.get("download", True)))
                             for rule in spec.get("packs") or ()),
        )

    def should_download(self, pack_id: str) -> bool:
        """``shouldDownload`` by the declarative ``spec.packs`` rules (default: yes)."""
        for rule in self.pack_rules:
            if fnmatch.fnmatchcase(pack_id, rule.id):
                return rule.download
        return True
