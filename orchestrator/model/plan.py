"""The answer of the plan checks: what will be downloaded, what was refused and why."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.errors import ErrorCode
from orchestrator.model.download import Download
from orchestrator.model.enums import ContentRequest


@dataclass(frozen=True, init=False, slots=True)
class Rejection:
    """A refused download (or, with ``download_id`` None, a refused event) with its code."""

    code: ErrorCode
    reason: str
    download_id: str | None = None

    def __init__(self, code: ErrorCode, reason: str, download_id: str | None = None) -> None:
        # Each field stored by its slot's own setter instead of a frozen dataclass's
        # object.__setattr__ per field, and no __dict__ (56 bytes instead of 240): a
        # plan can refuse nearly every asset of a 1,000,000-asset catalog.
        set_code, set_reason, set_download_id = _REJECTION_SETTERS
        set_code(self, code)
        set_reason(self, reason)
        set_download_id(self, download_id)

    def as_dict(self) -> dict[str, object]:
        """The JSON form used by ``plan --json`` and events."""
        return {"download": self.download_id, "code": int(self.code),
                "name": self.code.title, "reason": self.reason}


_REJECTION_SETTERS = tuple(getattr(Rejection, name).__set__
                           for name in ("code", "reason", "download_id"))


@dataclass(frozen=True)
class AllowanceUsage:
    """Bytes counted against each initial allowance; ``restricted`` is False after first launch.

    ``download_bytes`` includes the catalog's own bytes.
    """

    restricted: bool
    download_allowance: int
    download_bytes: int
    essential_download_allowance: int
    essential_bytes: int

    @property
    def download_remaining(self) -> int | None:
        """What remains of ``downloadAllowance``, or None once unrestricted."""
        if not self.restricted:
            return None
        return max(0, self.download_allowance - self.download_bytes)

    @property
    def essential_remaining(self) -> int | None:
        """What remains of ``essentialDownloadAllowance``, or None once unrestricted."""
        if not self.restricted:
            return None
        return max(0, self.essential_download_allowance - self.essential_bytes)


@dataclass(frozen=True)
class StorageUsage:
    """The plan's bytes against the disk: ``available`` above the reserve and
    ``purgeable`` (what purging could add) when it was planned; ``bytes`` of the accepted
    downloads that fit, ``waiting`` of those that would wait for space."""

    available: int
    reserve: int
    purgeable: int
    bytes: int
    waiting: int

    @property
    def fits(self) -> bool:
        """Whether every accepted download fits now (none would wait for space)."""
        return self.waiting == 0


@dataclass(frozen=True)
class Plan:
    """Accepted downloads in the order they should start, and every rejection.

    ``extension_runs`` is False when the event itself was refused (low power,
    background refresh off, in-app content off before first launch); the
    refusal is then the first rejection and has no ``download_id``. ``storage`` is
    None when the plan was made without the disk's numbers.
    """

    request: ContentRequest
    accepted: tuple[Download, ...]
    rejections: tuple[Rejection, ...]
    allowances: AllowanceUsage
    extension_runs: bool = True
    storage: StorageUsage | None = None

    @property
    def essential(self) -> tuple[Download, ...]:
        """Accepted essential downloads."""
        return tuple(d for d in self.accepted if d.essential)


@dataclass(frozen=True)
class AppExtensionInfo:
    """What an extension is told about the restricted allowances (``BAAppExtensionInfo``).

    Both are None once the app has launched: downloads are then unrestricted.
    """

    restricted_download_size_remaining: int | None
    restricted_essential_download_size_remaining: int | None
