"""bgassets: Apple's Background Assets model for any machine.

The public surface is re-exported here; the modules behind it are private to
the package and may move.
"""

from orchestrator.errors import (
    BackgroundAssetsError,
    BadAnswer,
    BodyTooLarge,
    DaemonUnavailable,
    DiskFullError,
    DownloadError,
    EndlessBody,
    ErrorCode,
    HandlerAnswerError,
    JournalError,
    LocatedError,
    LockTimeout,
    ManifestError,
    PhaseError,
    StateDirBusy,
    StateDirUnusable,
    UntrustedSocket,
    UsageError,
)
from orchestrator.model import ContentRequest, DownloadState, Priority, format_size, parse_size

__all__ = [
    "BackgroundAssetsError",
    "BadAnswer",
    "BodyTooLarge",
    "ContentRequest",
    "DaemonUnavailable",
    "DiskFullError",
    "DownloadError",
    "DownloadState",
    "EndlessBody",
    "ErrorCode",
    "HandlerAnswerError",
    "JournalError",
    "LocatedError",
    "LockTimeout",
    "ManifestError",
    "PhaseError",
    "Priority",
    "StateDirBusy",
    "StateDirUnusable",
    "UntrustedSocket",
    "UsageError",
    "format_size",
    "parse_size",
]
