"""Retry decisions: which failures are transient, and how long to wait before the next try."""

from __future__ import annotations

import asyncio
import errno
import random

import aiohttp

from orchestrator.engine.failures import describe_failure
from orchestrator.engine.request import RetryPolicy
from orchestrator.errors import DiskFullError, DownloadError, ErrorCode

_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS,
                          errno.EIO, errno.EFBIG, errno.EISDIR, errno.ENOTDIR})


def backoff_delay(attempt: int, policy: RetryPolicy, retry_after: float | None = None,
                  rng: random.Random | None = None) -> float:
    """Seconds before retry number ``attempt`` (0-based): full jitter, or the server's Retry-After.

    Full jitter (a uniform draw up to the exponential cap) spreads clients apart after a
    shared outage; a Retry-After from a 429/503 is honoured as given, up to ``max_delay``.
    """
    if retry_after is not None:
        return min(max(retry_after, 0.0), policy.max_delay)
    cap = min(policy.max_delay, policy.base_delay * (2 ** attempt))
    return (rng or random).uniform(0.0, cap)


def should_retry(error: DownloadError, attempt: int, policy: RetryPolicy) -> bool:
    """Whether a failure on attempt ``attempt`` (0-based) gets another try."""
    return error.transient and attempt + 1 < policy.attempts


def classify_exception(exc: BaseException, url: str, *, foreground: bool) -> DownloadError:
    """Turn a client/OS exception into a DownloadError with its code and transience.

    A refused connection or failed DNS lookup means the network (or server) is down: a
    foreground download fails fast, a background one retries within its policy. The
    message is one sentence for people (see ``failures.describe_failure``).
    """
    if isinstance(exc, DownloadError):
        return exc
    if isinstance(exc, aiohttp.ClientConnectorError):
        return DownloadError(describe_failure(exc, url), ErrorCode.NETWORK_ERROR,
                             transient=not foreground, unreachable=True)
    if isinstance(exc, aiohttp.InvalidURL):
        return DownloadError(describe_failure(exc, url), ErrorCode.DOWNLOAD_INVALID)
    if isinstance(exc, OSError) and not isinstance(exc, aiohttp.ClientError) \
            and is_disk_errno(exc):
        return disk_error(exc)
    if isinstance(exc, asyncio.TimeoutError | TimeoutError | aiohttp.ClientError | OSError):
        return DownloadError(describe_failure(exc, url), ErrorCode.NETWORK_ERROR,
                             transient=True)
    raise exc


def disk_error(exc: OSError, path: object = None) -> DownloadError:
    """A DISK_ERROR naming the file, e.g. for ENOSPC or EACCES."""
    where = path or exc.filename or "the staging file"
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(f"cannot write {where}: the disk is full ({reason}); "
                             "free some space and the download can be retried",
                             ErrorCode.DISK_ERROR, transient=False)
    return DownloadError(f"cannot write {where}: {reason}", ErrorCode.DISK_ERROR,
                         transient=False)


def is_disk_errno(exc: OSError) -> bool:
    """Whether an OSError is about the local disk rather than the network."""
    return exc.errno in _DISK_ERRNOS
