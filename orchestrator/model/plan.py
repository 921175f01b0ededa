"""The answer of the plan checks: what will be downloaded, what was refused and why."""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

from orchestrator.errors import ErrorCode
from orchestrator.model.download import Download
from orchestrator.model.enums import ContentRequest


class Rejection:
    """A refused download (or, with ``download_id`` None, a refused event) with its code.

    Immutable, compared and hashed by code, reason and download id. A refusal for lack
    of allowance is built by :meth:`short_of`, which keeps the two byte counts and
    formats the reason only when it is read: a plan may refuse nearly every asset of a
    large catalog, and formatted reasons were 145 of the 201 bytes each such refusal
    took (a 1,000,000-asset plan).
    """

    __slots__ = ("code", "download_id", "_reason", "_needed", "_left")
    code: ErrorCode
    download_id: str | None
    _reason: str
    _needed: int | None
    _left: int

    def __init__(self, code: ErrorCode, reason: str, download_id: str | None = None) -> None:
        # Each slot stored by its own setter (the class refuses attribute assignment),
        # half the time of object.__setattr__ per field.
        set_code, set_download_id, set_reason, set_needed, set_left = _REJECTION_SETTERS
        set_code(self, code)
        set_download_id(self, download_id)
        set_reason(self, reason)
        set_needed(self, None)
        set_left(self, 0)

    @classmethod
    def short_of(cls, code: ErrorCode, download_id: str, needed: int, left: int,
                 rest: str) -> Rejection:
        """A refusal whose reason is ``needs <needed> bytes but only <left><rest>``."""
        rejection = cls.__new__(cls)
        set_code, set_download_id, set_reason, set_needed, set_left = _REJECTION_SETTERS
        set_code(rejection, code)
        set_download_id(rejection, download_id)
        set_reason(rejection, rest)
        set_needed(rejection, needed)
        set_left(rejection, left)
        return rejection

    @property
    def reason(self) -> str:
        """Why, for people."""
        if self._needed is None:
            return self._reason
        return f"needs {self._needed} bytes but only {self._left}{self._reason}"

    def _key(self) -> tuple[ErrorCode, str, str | None]:
        return self.code, self.reason, self.download_id

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Rejection:
            return NotImplemented
        assert isinstance(other, Rejection)
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"Rejection(code={self.code!r}, reason={self.reason!r}, "
                f"download_id={self.download_id!r})")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Rejection is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Rejection is immutable: cannot delete {name!r}")

    def __reduce__(self) -> tuple[type[Rejection], tuple[ErrorCode, str, str | None]]:
        return Rejection, self._key()

    def as_dict(self) -> dict[str, object]:
        """The JSON form used by ``plan --json`` and events."""
        return {"download": self.download_id, "code": int(self.code),
                "name": self.code.title, "reason": self.reason}


_REJECTION_SETTERS = tuple(getattr(Rejection, name).__set__
                           for name in ("code", "download_id", "_reason", "_needed", "_left"))


class Rejections(Sequence[Rejection]):
    """A plan's rejections in the order the checks made them, kept compact.

    Refusals for lack of allowance (nearly all of a large catalog's when the allowance is
    small) all share one code and reason tail; each is kept as its download id and two
    byte counts in machine arrays, 24 bytes instead of a :class:`Rejection`'s 88, and
    built when read. Any other rejection is kept as it is. Equal to any tuple or
    Rejections holding equal rejections in the same order.

    ``entries`` holds a Rejection, or for a refusal built by :meth:`Rejection.short_of`
    its download id; ``needed`` and ``left`` hold that refusal's byte counts at the same
    index (anything for a Rejection); ``code`` and ``rest`` are the refusals' code and
    reason tail. Read-only once made: the checks hand their lists over.
    """

    __slots__ = ("_entries", "_needed", "_left", "_code", "_rest")

    def __init__(self, entries: list[Rejection | str], needed: array[int], left: array[int],
                 code: ErrorCode, rest: str) -> None:
        self._entries, self._needed, self._left = entries, needed, left
        self._code, self._rest = code, rest

    def _at(self, index: int) -> Rejection:
        entry = self._entries[index]
        if type(entry) is str:
            return Rejection.short_of(self._code, entry, self._needed[index], self._left[index],
                                      self._rest)
        assert isinstance(entry, Rejection)
        return entry

    @overload
    def __getitem__(self, index: int) -> Rejection: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Rejection, ...]: ...

    def __getitem__(self, index: int | slice) -> Rejection | tuple[Rejection, ...]:
        if isinstance(index, slice):
            return tuple(self._at(i) for i in range(*index.indices(len(self._entries))))
        return self._at(index)  # the list and arrays take a negative index alike

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Rejection]:
        return map(self._at, range(len(self._entries)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, (tuple, Rejections)):
            return NotImplemented
        return len(self) == len(other) and all(
            mine == theirs for mine, theirs in zip(self, other, strict=True))

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"Rejections({tuple(self)!r})"


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
    refusal is then the first rejection and has no ``download_id``. ``rejections`` is
    read as a sequence (the checks give a compact :class:`Rejections`). ``storage`` is
    None when the plan was made without the disk's numbers.
    """

    request: ContentRequest
    accepted: tuple[Download, ...]
    rejections: Sequence[Rejection]
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
