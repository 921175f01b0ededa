"""Fetching an app's catalog at ``manifestURL`` before its extension runs."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path

from orchestrator.engine import DownloadHandle, DownloadRequest, DownloadResult, Engine
from orchestrator.errors import BackgroundAssetsError, BodyTooLarge, DownloadError, ErrorCode
from orchestrator.manifests import load_catalog
from orchestrator.model.app import App
from orchestrator.model.catalog import Catalog
from orchestrator.model.enums import DownloadState
from orchestrator.storage.containers import Layout

CATALOG_ID = "@catalog"
MAX_CATALOG_SIZE = 64 << 20
CATALOG_DEADLINE = 120.0
MIN_CATALOG_RATE = 1024.0
RATE_WINDOW = 10.0


@dataclass(frozen=True)
class CatalogLimits:
    """How much and how long a catalog fetch may take before it is given up.

    Past its first ``window`` seconds, a fetch averaging under ``min_rate`` bytes per
    second over the last ``window`` seconds is given up too: a server that drips a byte
    a second would otherwise hold the content request until the deadline.
    """

    max_size: int = MAX_CATALOG_SIZE
    deadline: float = CATALOG_DEADLINE
    min_rate: float = MIN_CATALOG_RATE

    @property
    def window(self) -> float:
        """The rate is averaged over this long (shorter for a short deadline)."""
        return min(RATE_WINDOW, self.deadline / 4)


@dataclass(frozen=True)
class FetchedCatalog:
    """The parsed catalog, its bytes on the wire and the local read-only copy."""

    catalog: Catalog
    size: int
    path: Path


async def fetch_catalog(engine: Engine, layout: Layout, app: App, *, launched: bool,
                        allowance_remaining: int | None,
                        limits: CatalogLimits = CatalogLimits()) -> FetchedCatalog:
    """Download and parse the catalog; its bytes count against ``downloadAllowance``.

    Raises ``BackgroundAssetsError`` with the framework's code: 202 for a host
    outside the allow list, 203 when the catalog alone exceeds the allowance,
    the engine's code for a failed transfer, 1014 for a catalog over
    ``limits.max_size``, 1021 past the deadline or under the minimum rate, 1001 for an
    invalid catalog. Cancelling the caller stops the transfer.
    """
    destination = layout.ephemeral_path(app.app_group, CATALOG_ID, app.manifest_url)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        destination.unlink()
    allowed = None if launched else app.restrictions.domain_allow_list
    request = DownloadRequest(url=app.manifest_url, destination=destination, foreground=True,
                              connections=1, allowed_hosts=allowed,
                              key=f"{app.app_group}/{CATALOG_ID}", auth_scope=app.id)
    result = await fetch_within(engine, request, limits, allowance_remaining)
    try:
        catalog = load_catalog(destination.read_bytes(), app.manifest_url, app.manifest_url)
    except OSError as error:
        raise BackgroundAssetsError(f"{destination}: cannot read the catalog: {error}",
                                    ErrorCode.DISK_ERROR) from error
    return FetchedCatalog(catalog, result.size, destination)


async def fetch_within(engine: Engine, request: DownloadRequest, limits: CatalogLimits,
                       allowance_remaining: int | None) -> DownloadResult:
    """Fetch ``request`` (a catalog, of unknown size) within ``limits`` and what is left of
    ``downloadAllowance`` (None once launched); raise its error, with 203 when the body is
    larger than that allowance. Cancelling the caller stops the transfer."""
    by_allowance = allowance_remaining is not None and allowance_remaining < limits.max_size
    cap = min(limits.max_size, allowance_remaining) if allowance_remaining is not None \
        else limits.max_size
    handle = engine.start(replace(request, max_size=cap))
    try:
        result = await _watched(handle, request.url, limits)
    except asyncio.CancelledError:
        handle.cancel()  # the wait is shielded: stop the transfer itself
        raise
    if isinstance(result.error, BodyTooLarge) and by_allowance:
        raise DownloadError(
            f"the catalog at {request.url} is larger than the download allowance "
            f"({allowance_remaining} bytes left before the first launch); it was not "
            "downloaded further", ErrorCode.SESSION_DOWNLOAD_DISALLOWED_BY_ALLOWANCE)
    if result.error is not None:
        raise result.error
    return result


async def _watched(handle: DownloadHandle, url: str, limits: CatalogLimits) -> DownloadResult:
    """The handle's result, unless the deadline passes or the rate stays under the minimum;
    then the transfer is cancelled (its partial file removed) and 1021 raised."""
    started = time.monotonic()
    samples: deque[tuple[float, int]] = deque([(started, 0)])
    waiter = asyncio.ensure_future(handle.wait())
    try:
        while True:
            done, _ = await asyncio.wait([waiter], timeout=min(1.0, limits.window / 4))
            if done:
                return waiter.result()
            now, received = time.monotonic(), handle.progress.bytes
            if handle.state is not DownloadState.DOWNLOADING:  # waiting for a slot of its host
                samples.clear()
            samples.append((now, received))
            while len(samples) > 1 and samples[1][0] <= now - limits.window:
                samples.popleft()
            reason = _give_up_reason(now - started, samples, limits)
            if reason is not None:
                handle.cancel()
                await asyncio.wait([waiter])
                raise DownloadError(f"the catalog at {url} {reason}; given up",
                                    ErrorCode.NETWORK_ERROR)
    finally:
        waiter.cancel()


def _give_up_reason(elapsed: float, samples: deque[tuple[float, int]],
                    limits: CatalogLimits) -> str | None:
    """Why a fetch running for ``elapsed`` seconds should stop, or None to go on."""
    if elapsed >= limits.deadline:
        return f"took longer than {limits.deadline:g} s"
    (first_time, first_bytes), (last_time, last_bytes) = samples[0], samples[-1]
    span = last_time - first_time
    if elapsed < limits.window or span < limits.window * 0.75:
        return None
    rate = (last_bytes - first_bytes) / span
    if rate < limits.min_rate:
        return (f"came at {rate:.0f} bytes/s over the last {span:.0f} s, under the "
                f"minimum of {limits.min_rate:.0f} bytes/s")
    return None
