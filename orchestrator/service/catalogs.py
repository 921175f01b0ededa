"""Fetching an app's catalog at ``manifestURL`` before its extension runs."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path

from orchestrator.engine import DownloadRequest, Engine
from orchestrator.errors import BackgroundAssetsError, DownloadError, ErrorCode
from orchestrator.manifests import load_catalog
from orchestrator.model.app import App
from orchestrator.model.catalog import Catalog
from orchestrator.service.containers import Layout

CATALOG_ID = "@catalog"


@dataclass(frozen=True)
class FetchedCatalog:
    """The parsed catalog, its bytes on the wire and the local read-only copy."""

    catalog: Catalog
    size: int
    path: Path


async def fetch_catalog(engine: Engine, layout: Layout, app: App, *, launched: bool,
                        allowance_remaining: int | None) -> FetchedCatalog:
    """Download and parse the catalog; its bytes count against ``downloadAllowance``.

    Raises ``BackgroundAssetsError`` with the framework's code: 202 for a host
    outside the allow list, 203 when the catalog alone exceeds the allowance,
    the engine's code for a failed transfer, 1001 for an invalid catalog. Cancelling
    the caller stops the transfer.
    """
    destination = layout.ephemeral_path(app.app_group, CATALOG_ID, app.manifest_url)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        destination.unlink()
    allowed = None if launched else app.restrictions.domain_allow_list
    request = DownloadRequest(url=app.manifest_url, destination=destination, foreground=True,
                              connections=1, allowed_hosts=allowed,
                              key=f"{app.app_group}/{CATALOG_ID}")
    handle = engine.start(request)
    try:
        result = await handle.wait()
    except asyncio.CancelledError:
        handle.cancel()  # the wait is shielded: stop the transfer itself
        raise
    if result.error is not None:
        raise result.error
    if allowance_remaining is not None and result.size > allowance_remaining:
        destination.unlink(missing_ok=True)
        raise DownloadError(
            f"the catalog ({result.size} bytes) is out of download allowance "
            f"({allowance_remaining} bytes left before the first launch)",
            ErrorCode.SESSION_DOWNLOAD_DISALLOWED_BY_ALLOWANCE)
    try:
        catalog = load_catalog(destination.read_bytes(), app.manifest_url, app.manifest_url)
    except OSError as error:
        raise BackgroundAssetsError(f"{destination}: cannot read the catalog: {error}",
                                    ErrorCode.DISK_ERROR) from error
    return FetchedCatalog(catalog, result.size, destination)
