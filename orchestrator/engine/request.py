"""The engine's value types: what to download, how it goes, how it ended."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import DownloadError
from orchestrator.model.auth import Challenge, ChallengeAnswer
from orchestrator.model.enums import DownloadState

CredentialProvider = Callable[[Challenge], Awaitable[ChallengeAnswer]]
"""Answers a challenge: a Credential, None (nobody answers) or CANCEL; asked once per
protection space (the download's ``auth_scope``, origin, scheme, realm, proxy)."""


@dataclass(frozen=True)
class DownloadRequest:
    """One file to fetch; ``size`` and ``sha256`` pinned when known (the TUF defence).

    ``max_size`` bounds a file of unknown size (a catalog): a larger declared length fails
    at once, and a body that keeps coming is cut off at ``max_size`` bytes.
    ``auth_scope`` (an app id) keeps the credentials of one scope from another's requests.

    ``byte_range`` is ``(offset, length)``: only bytes [offset, offset + length) of the
    remote resource are fetched (one file of a bundle), with ``Range`` requests that must
    be answered by a 206 for exactly those bytes. The destination holds exactly them;
    ``size`` (when given, it must equal ``length``) and ``sha256`` are those of the slice.
    """

    url: str
    destination: Path
    size: int | None = None
    sha256: str | None = None
    priority: int = 50
    foreground: bool = False
    connections: int | None = None
    allowed_hosts: tuple[str, ...] | None = None
    key: str | None = None
    staging: Path | None = None
    max_size: int | None = None
    auth_scope: str | None = None
    byte_range: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.byte_range is not None:
            offset, length = self.byte_range
            if not all(type(value) is int and value >= 0 for value in (offset, length)):
                raise ValueError(f"byte_range {self.byte_range!r} must be (offset, length), "
                                 "two integers of at least 0")

    @property
    def state_key(self) -> str:
        """The key under which the state store keeps this download."""
        return self.key if self.key is not None else str(self.destination)

    @property
    def staging_path(self) -> Path:
        """The ``.part`` file: ``staging`` when given, else next to the destination.

        A given ``staging`` must be on the destination's file system (the rename that
        publishes the file is atomic only there).
        """
        if self.staging is not None:
            return self.staging
        return self.destination.with_name(self.destination.name + ".part")


@dataclass(frozen=True)
class Progress:
    """A throttled snapshot of one download, with an exact byte count."""

    key: str
    url: str
    bytes: int
    total: int | None
    speed: float
    connections: int
    state: DownloadState


@dataclass(frozen=True)
class DownloadResult:
    """How a download ended; ``error`` is None exactly when a verified file is in place."""

    key: str
    url: str
    path: Path | None
    size: int
    sha256: str | None
    error: DownloadError | None
    bytes_transferred: int
    resumed_from: int

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class RetryPolicy:
    """Transient failures are retried ``attempts`` times, backing off with full jitter."""

    attempts: int = 6
    base_delay: float = 0.25
    max_delay: float = 30.0
