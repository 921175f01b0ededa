"""The download engine: resumable, verified, segmented HTTP downloads.

Bytes land in ``<destination>.part``; a file at its final path is always complete and
verified. See :class:`Engine` for the entry point.
"""

from orchestrator.engine.engine import DownloadHandle, Engine
from orchestrator.engine.request import (
    CredentialProvider,
    DownloadRequest,
    DownloadResult,
    Progress,
    RetryPolicy,
)
from orchestrator.engine.state import MemoryStore, SidecarStore, StateStore

__all__ = [
    "CredentialProvider",
    "DownloadHandle",
    "DownloadRequest",
    "DownloadResult",
    "Engine",
    "MemoryStore",
    "Progress",
    "RetryPolicy",
    "SidecarStore",
    "StateStore",
]
