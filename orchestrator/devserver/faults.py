"""Faults the development server can inject, so clients can be tested against bad servers.

A fault is written ``NAME`` (once per path), ``NAME:once`` (the same),
``NAME:Nx`` (the first N requests of each path, such as ``wrong-length:2x``) or
``NAME:SHARE`` with a share between 0 and 1 (fires on that share of the
matching requests), and may end in ``@GLOB`` to match only the paths that
glob matches (``500:1@/sessions/*.mp4``: every request of those files, and
none of the catalog's). Once per path is the default so that a good client,
which retries, still finishes. Whether a share fires is decided by a hash of
the seed, the fault, the path and how many matching requests that path has
seen, so the outcome does not depend on how requests from several
connections interleave.
"""

from __future__ import annotations

import fnmatch
import hashlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from orchestrator.errors import UsageError

FAULT_DESCRIPTIONS: dict[str, str] = {
    "reset": "send half of the body, then reset the connection (TCP RST)",
    "500": "answer 500 Internal Server Error",
    "503": "answer 503 Service Unavailable with Retry-After: 1",
    "truncate": "declare the full Content-Length, send half of the body, then close",
    "ignore-range": "answer a range request with 200 and the whole file",
    "etag-change": "change the path's ETag and Last-Modified from this request on "
                   "(the bytes stay the same): resuming clients must start over; never "
                   "on a path's first request, which has nothing to differ from",
    "slow": "send this response at 256 KiB/s",
    "endless": "send the file, then more bytes forever (chunked, no Content-Length) "
               "until the client closes",
    "redirect-offsite": "302 to the same path on another name of this server "
                        "(localhost when bound to 127.0.0.1, else 127.0.0.1)",
    "wrong-length": "serve the file one byte shorter, as if it had changed size",
}
FAULT_NAMES: tuple[str, ...] = tuple(FAULT_DESCRIPTIONS)

# Faults that only make sense for a request carrying a Range header.
RANGE_ONLY_FAULTS = frozenset({"ignore-range"})
# Faults that only make sense once the client may have seen the path before.
LATER_REQUEST_FAULTS = frozenset({"etag-change"})


@dataclass(frozen=True)
class Fault:
    """One fault and how often it fires: on ``share`` of the requests, or (``share``
    None) on the first ``times`` requests of each path."""

    name: str
    share: float | None = None
    paths: str | None = None  # a glob the request's path must match
    times: int = 1

    def __str__(self) -> str:
        text = self.name if self.share is None and self.times == 1 else \
            f"{self.name}:{self.times}x" if self.share is None else f"{self.name}:{self.share:g}"
        return text if self.paths is None else f"{text}@{self.paths}"

    def applies_to(self, path: str) -> bool:
        return self.paths is None or fnmatch.fnmatchcase(path, self.paths)


def parse_fault(text: str | Fault) -> Fault:
    """Parse ``NAME``, ``NAME:once`` or ``NAME:SHARE``, each with an optional ``@GLOB``;
    raise UsageError naming what is wrong."""
    if isinstance(text, Fault):
        return _checked(text)
    spec, at, glob = str(text).strip().partition("@")
    if at and not glob.startswith("/"):
        raise UsageError(f"fault {text!r}: the part after '@' is a path glob starting with "
                         "'/', such as /sessions/*.mp4")
    paths = glob if at else None
    name, _, suffix = spec.partition(":")
    if suffix in ("", "once"):
        return _checked(Fault(name, paths=paths))
    if suffix.endswith("x") and suffix[:-1].isdigit() and int(suffix[:-1]) > 0:
        return _checked(Fault(name, paths=paths, times=int(suffix[:-1])))
    try:
        share = float(suffix)
    except ValueError:
        share = -1.0
    if not 0.0 <= share <= 1.0:
        raise UsageError(f"fault {text!r}: the part after ':' must be 'once', a count "
                         "such as 2x, or a share between 0 and 1, such as 0.3")
    return _checked(Fault(name, share, paths))


def _checked(fault: Fault) -> Fault:
    if fault.name not in FAULT_DESCRIPTIONS:
        raise UsageError(f"unknown fault {fault.name!r}: choose from {', '.join(FAULT_NAMES)}")
    return fault


def _draw(seed: int, fault: Fault, path: str, index: int) -> float:
    """A deterministic number in [0, 1) for the index-th matching request of path."""
    digest = hashlib.blake2b(f"{seed}\0{fault.name}\0{path}\0{index}".encode(),
                             digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class FaultPicker:
    """Decides which fault, if any, a request gets; thread-safe so tests may swap faults."""

    def __init__(self, faults: Iterable[str | Fault] = (), seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._faults: tuple[Fault, ...] = ()
        self._seen: dict[tuple[str, str], int] = {}
        self.set_faults(faults)

    @property
    def faults(self) -> tuple[Fault, ...]:
        return self._faults

    def set_faults(self, faults: Iterable[str | Fault]) -> None:
        """Replace the faults; once-per-path memory starts afresh."""
        parsed = tuple(parse_fault(fault) for fault in faults)
        with self._lock:
            self._faults = parsed
            self._seen.clear()

    def pick(self, path: str, *, is_range: bool, seen_before: bool = True) -> str | None:
        """The name of the first fault that fires for this GET of path, or None.

        Faults are tried in the order given; only the one that fires counts the
        request as seen, so with several once-faults a path meets each in turn.
        """
        with self._lock:
            for fault in self._faults:
                if (fault.name in RANGE_ONLY_FAULTS and not is_range) or \
                        (fault.name in LATER_REQUEST_FAULTS and not seen_before) or \
                        not fault.applies_to(path):
                    continue
                key = (str(fault), path)
                index = self._seen.get(key, 0)
                if fault.share is None:
                    fires = index < fault.times
                    if fires:
                        self._seen[key] = index + 1
                else:
                    self._seen[key] = index + 1
                    fires = _draw(self._seed, fault, path, index) < fault.share
                if fires:
                    return fault.name
        return None
