"""Typed calls to a handler's entry points, and strict parsing of its answers.

The parent trusts nothing a handler answers: every download is checked
field by field, so a handler written in any language gets a message naming
the entry and the field (``downloads[3].priority is 150, not 0..100``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from orchestrator.errors import BackgroundAssetsError, HandlerAnswerError
from orchestrator.model.auth import Challenge, ChallengeAnswer, ChallengeDisposition, Credential
from orchestrator.model.download import Download
from orchestrator.model.enums import ContentRequest, Priority
from orchestrator.model.pack import AssetPack
from orchestrator.model.plan import AppExtensionInfo
from orchestrator.scheduler.checks import destination_problem
from orchestrator.service.handler_child import encode_download, encode_pack

FIELDS = frozenset({"id", "url", "appGroup", "essential", "size", "sha256", "priority",
                    "destination"})
SHA256 = re.compile(r"[0-9a-f]{64}")


def _absolute(path: Path) -> str:
    """``path`` as the handler must see it: the handler runs in its own folder."""
    return str(Path(path).absolute())


def downloads_call(request: ContentRequest, catalog_path: Path, info: AppExtensionInfo,
                   app_group: str, container: Path, *,
                   catalog_url: str | None = None) -> dict[str, Any]:
    """The call of ``downloads(for:manifestURL:extensionInfo:)``."""
    return {"entry": "downloads", "request": request.name.lower(),
            "manifestPath": _absolute(catalog_path), "catalogURL": catalog_url,
            "info": {"restrictedDownloadSizeRemaining": info.restricted_download_size_remaining,
                     "restrictedEssentialDownloadSizeRemaining":
                         info.restricted_essential_download_size_remaining},
            "appGroup": app_group, "container": _absolute(container)}


def finished_call(download: Download, path: Path, container: Path) -> dict[str, Any]:
    """The call of ``backgroundDownload(_:finishedWithFileURL:)``: move ``path`` or lose it."""
    return {"entry": "finished", "download": encode_download(download), "path": _absolute(path),
            "appGroup": download.app_group, "container": _absolute(container)}


def failed_call(download: Download, error: BackgroundAssetsError,
                container: Path | None = None) -> dict[str, Any]:
    """The call of ``backgroundDownload(_:failedWithError:)``; it answers downloads to retry."""
    return {"entry": "failed", "download": encode_download(download),
            "error": {"code": int(error.code), "name": error.code.title,
                      "message": error.message},
            "appGroup": download.app_group,
            "container": _absolute(container) if container is not None else None}


def should_download_call(packs: list[AssetPack], app_group: str,
                         container: Path | None = None) -> dict[str, Any]:
    """The calls of ``shouldDownload(_:)``, one per pack, in one process."""
    return {"entry": "shouldDownload", "packs": [encode_pack(pack) for pack in packs],
            "appGroup": app_group,
            "container": _absolute(container) if container is not None else None}


def parse_decisions(answer: Mapping[str, Any] | None, count: int) -> list[bool]:
    """A handler's ``shouldDownload`` answers: one boolean per pack asked about."""
    decisions = (answer or {}).get("decisions")
    if not isinstance(decisions, list) or len(decisions) != count \
            or not all(isinstance(d, bool) for d in decisions):
        raise _fail("shouldDownload", f"expected {count} booleans, one per pack")
    return decisions


def challenge_call(download: Download, challenge: Challenge,
                   container: Path | None = None) -> dict[str, Any]:
    """The call of ``backgroundDownload(_:didReceive:)``: the answer is a credential."""
    return {"entry": "challenge", "download": encode_download(download),
            "challenge": challenge.to_json(), "appGroup": download.app_group,
            "container": _absolute(container) if container is not None else None}


def parse_challenge_answer(answer: Mapping[str, Any] | None) -> ChallengeAnswer:
    """A handler's ``challenge`` answer: a credential, cancel, or None (default handling)."""
    if not answer:
        return None
    if answer.get("disposition") == ChallengeDisposition.CANCEL.value:
        return ChallengeDisposition.CANCEL
    credential = answer.get("credential")
    if credential is None:
        return None
    parsed = Credential.from_json(credential)
    if parsed is None:
        raise _fail("challenge", "the credential has neither user and password nor a token")
    return parsed


def parse_downloads(answer: Mapping[str, Any] | None, app_group: str) -> list[Download]:
    """The downloads of an ``ok`` answer, each validated; raises :class:`HandlerAnswerError`."""
    if answer is None:
        return []
    items = answer.get("downloads", [])
    if not isinstance(items, list):
        raise HandlerAnswerError(f"bad answer: downloads is {type(items).__name__}, not a list")
    return [_download(item, f"downloads[{index}]", app_group)
            for index, item in enumerate(items)]


def _fail(where: str, problem: str) -> HandlerAnswerError:
    return HandlerAnswerError(f"bad answer: {where}{problem}")


def _download(item: Any, where: str, app_group: str) -> Download:
    if not isinstance(item, dict):
        raise _fail(where, f" is {type(item).__name__}, not an object")
    unknown = sorted(set(item) - FIELDS)
    if unknown:
        known = ", ".join(sorted(FIELDS))
        raise _fail(where, f" has unknown field {unknown[0]!r} (known: {known})")
    identifier, url = item.get("id"), item.get("url")
    if not isinstance(identifier, str) or not identifier:
        raise _fail(where, ".id must be a non-empty string")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        raise _fail(where, f".url {url!r} is not an http(s) url")
    if not urlsplit(url).hostname:
        raise _fail(where, f".url {url!r} has no host")
    if item.get("appGroup", app_group) != app_group:
        raise _fail(where, f".appGroup {item['appGroup']!r} is not this app's ({app_group})")
    return Download(id=identifier, url=url, app_group=app_group,
                    essential=_essential(item, where), size=_size(item, where),
                    sha256=_sha256(item, where), priority=_priority(item, where),
                    destination=_destination(item, where, url))


def _essential(item: Mapping[str, Any], where: str) -> bool:
    essential = item.get("essential", False)
    if not isinstance(essential, bool):
        raise _fail(where, f".essential is {essential!r}, not true or false")
    return essential


def _size(item: Mapping[str, Any], where: str) -> int | None:
    size = item.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise _fail(where, f".size is {size!r}, not a byte count or null")
    return size


def _sha256(item: Mapping[str, Any], where: str) -> str | None:
    digest = item.get("sha256")
    if digest is None:
        return None
    if not isinstance(digest, str) or not SHA256.fullmatch(digest.lower()):
        raise _fail(where, f".sha256 {digest!r} is not 64 hex digits")
    return digest.lower()


def _priority(item: Mapping[str, Any], where: str) -> int:
    priority = item.get("priority", int(Priority.DEFAULT))
    if (isinstance(priority, bool) or not isinstance(priority, int)
            or not Priority.MIN <= priority <= Priority.MAX):
        raise _fail(where, f".priority is {priority!r}, not an integer 0..100")
    return priority


def _destination(item: Mapping[str, Any], where: str, url: str) -> str:
    destination = item.get("destination")
    if destination is None or destination == "":
        destination = PurePosixPath(unquote(urlsplit(url).path)).name or str(item["id"])
    if not isinstance(destination, str):
        raise _fail(where, f".destination is {destination!r}, not a path")
    problem = destination_problem(destination)
    if problem:
        raise _fail(where, f".destination: {problem}")
    return destination
