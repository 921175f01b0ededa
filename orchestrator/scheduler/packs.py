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
from orchestrator.model.pack import (
    BuiltPack,
    DownloadPolicy,
    InstallationEvent,
    PackCatalog,
    PackFile,
)

PACK_PREFIX = "@pack:"
INCOMING = ".packs/incoming"
SLICE = "#bytes="
# A bundle more than this share of whose bytes is missing is fetched whole; otherwise each
# missing file is fetched alone, as its byte range of the bundle.
WHOLE_BUNDLE_SHARE = 0.5


def slice_url(url: str, offset: int, length: int) -> str:
    """The URL of bytes [offset, offset + length) of ``url``: a ``#bytes=first-last``
    fragment, which the journal keeps with the URL and HTTP never sends."""
    return f"{url}{SLICE}{offset}-{offset + length - 1}"


def split_slice(url: str) -> tuple[str, tuple[int, int] | None]:
    """``url`` without its ``#bytes=`` fragment, and the (offset, length) it names."""
    base, marker, span = url.partition(SLICE)
    if not marker:
        return url, None
    first, _, last = span.partition("-")
    try:
        start, end = int(first), int(last)
    except ValueError:
        return url, None
    if start < 0 or end < start:
        return url, None
    return base, (start, end - start + 1)


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
    """The downloads that bring the files of ``pack`` the store lacks.

    A file that is an object of its own is that object. Files in a bundle come with the
    whole bundle when more than half of its bytes are missing (a first install), else
    each alone as its byte range (an update that changed a few of them). ``essential``
    defaults to the pack's policy; ``scheduled`` download ids are left out. Sizes and
    sha256 are exact: they come from the pack catalog, as an essential download needs.
    """
    essential = pack.pack.policy is DownloadPolicy.ESSENTIAL if essential is None else essential
    missing: dict[str, list[PackFile]] = {}
    for entry in pack.files:
        if not stored(entry.sha256):
            missing.setdefault(entry.object, []).append(entry)
    skip = set(scheduled)
    downloads = []

    def add(download_id: str, url: str, size: int, sha256: str) -> None:
        if download_id in skip:
            return
        skip.add(download_id)
        downloads.append(Download(
            id=download_id, url=url, app_group=app_group, essential=essential, size=size,
            sha256=sha256, priority=100 if essential else 50,
            destination=f"{INCOMING}/{sha256}"))

    for stored_object in pack.objects:
        files = missing.get(stored_object.url)
        if not files:
            continue
        bundled = files[0].offset is not None
        if not bundled or sum(f.size for f in files) > WHOLE_BUNDLE_SHARE * stored_object.size:
            add(pack_download_id(pack.pack.id, stored_object.sha256), stored_object.url,
                stored_object.size, stored_object.sha256)
            continue
        for entry in files:
            add(pack_download_id(pack.pack.id, entry.sha256),
                slice_url(stored_object.url, entry.offset or 0, entry.size), entry.size,
                entry.sha256)
    return downloads
