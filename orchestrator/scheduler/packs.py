"""Which managed asset packs an install or update brings, and the downloads they need.

Pure decisions: the pack catalog, the event, the extension's answer per pack and what
the app's pack store already holds go in; packs and downloads come out. A pack's
downloads are its objects that hold a file the store lacks: an update fetches what
changed, and a pack whose files are all stored already needs none.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable

from orchestrator.model.download import Download
from orchestrator.model.enums import ContentRequest
from orchestrator.model.pack import BuiltPack, DownloadPolicy, InstallationEvent, PackCatalog

PACK_PREFIX = "@pack:"
INCOMING = ".packs/incoming"


def installation_event(request: ContentRequest) -> InstallationEvent | None:
    """The installation event of a content request; periodic runs bring no packs."""
    return {ContentRequest.INSTALL: InstallationEvent.FIRST_INSTALLATION,
            ContentRequest.UPDATE: InstallationEvent.SUBSEQUENT_UPDATE}.get(request)


def this_platform() -> str:
    return {"darwin": "macos", "win32": "windows"}.get(sys.platform, "linux")


def for_platform(pack: BuiltPack, platform: str) -> bool:
    return not pack.pack.platforms or platform in pack.pack.platforms


def packs_for_event(catalog: PackCatalog, event: InstallationEvent,
                    should_download: Callable[[BuiltPack], bool],
                    platform: str) -> list[BuiltPack]:
    """Essential and prefetch packs of ``event`` for ``platform`` that the extension
    wants, in catalog order."""
    return [pack for pack in catalog.packs
            if pack.pack.applies_to(event) and for_platform(pack, platform)
            and should_download(pack)]


def pack_download_id(pack_id: str, object_sha256: str) -> str:
    return f"{PACK_PREFIX}{pack_id}:{object_sha256[:16]}"


def pack_of(download_id: str) -> str | None:
    """The pack a pack download belongs to, or None for any other download."""
    if not download_id.startswith(PACK_PREFIX):
        return None
    return download_id[len(PACK_PREFIX):].rsplit(":", 1)[0]


def missing_files(pack: BuiltPack, stored: Callable[[str], bool]) -> list[str]:
    """The sha256 of the pack's files the store lacks."""
    return sorted({f.sha256 for f in pack.files if not stored(f.sha256)})


def pack_downloads(pack: BuiltPack, app_group: str, stored: Callable[[str], bool], *,
                   essential: bool | None = None,
                   scheduled: Iterable[str] = ()) -> list[Download]:
    """The downloads of the objects holding the files of ``pack`` the store lacks.

    ``essential`` defaults to the pack's policy; ``scheduled`` download ids are left
    out (an object two packs share is fetched once). Sizes and sha256 are exact: they
    come from the pack catalog, as an essential download needs.
    """
    wanted = {f.object for f in pack.files if not stored(f.sha256)}
    essential = pack.pack.policy is DownloadPolicy.ESSENTIAL if essential is None else essential
    skip = set(scheduled)
    downloads = []
    for stored_object in pack.objects:
        if stored_object.url not in wanted:
            continue
        download_id = pack_download_id(pack.pack.id, stored_object.sha256)
        if download_id in skip:
            continue
        downloads.append(Download(
            id=download_id, url=stored_object.url, app_group=app_group, essential=essential,
            size=stored_object.size, sha256=stored_object.sha256,
            priority=100 if essential else 50,
            destination=f"{INCOMING}/{stored_object.sha256}"))
    return downloads
