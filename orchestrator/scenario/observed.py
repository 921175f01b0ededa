"""What a scenario run has seen so far: read from the orchestrator's events.

Expectations about history (codes, events in order, periodic runs, bytes downloaded)
are answered from here; expectations about the present read the service's views.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from orchestrator.events import Event, EventKind

# Events the timeline shows between steps; the rest (progress, each start) only count.
NOTABLE = frozenset({
    EventKind.APP_LAUNCHABLE, EventKind.EXTENSION_REQUEST, EventKind.EXTENSION_TERMINATED,
    EventKind.EVENT_REFUSED, EventKind.PLAN_REJECTED, EventKind.REQUEST_WAITING,
    EventKind.DOWNLOAD_FAILED, EventKind.DOWNLOAD_REENQUEUED, EventKind.DOWNLOAD_DEFERRED,
    EventKind.ASSET_PURGED, EventKind.PACK_INSTALLED, EventKind.INSTALL_CANCELLED,
})


@dataclass
class Observed:
    """Counts and orders of the events of one run, per app."""

    count: int = 0  # every event, so that a quiet spell can be told from a busy one
    kinds: list[tuple[str | None, str]] = field(default_factory=list)
    codes: dict[str | None, set[int]] = field(default_factory=dict)
    periodic_runs: Counter[str | None] = field(default_factory=Counter)
    finished_bytes: Counter[str | None] = field(default_factory=Counter)

    def __call__(self, event: Event) -> None:
        self.count += 1
        kind = event.event
        if kind == EventKind.DOWNLOAD_PROGRESS:
            return
        self.kinds.append((event.app, str(kind)))
        code = event.data.get("code")
        if isinstance(code, int) and not isinstance(code, bool):
            self.saw_code(event.app, code)
        if kind == EventKind.EXTENSION_REQUEST and event.data.get("request") == "periodic":
            self.periodic_runs[event.app] += 1
        elif kind == EventKind.DOWNLOAD_FINISHED:
            self.finished_bytes[event.app] += int(event.data.get("bytes") or 0)

    def saw_code(self, app: str | None, code: int) -> None:
        self.codes.setdefault(app, set()).add(code)

    def codes_of(self, app: str | None) -> set[int]:
        """Codes seen for ``app`` (None: for any app, and those of no app)."""
        if app is None:
            return set().union(*self.codes.values()) if self.codes else set()
        return self.codes.get(app, set()) | self.codes.get(None, set())

    def kinds_of(self, app: str | None) -> list[str]:
        return [kind for owner, kind in self.kinds if app is None or owner in (app, None)]

    def periodic_of(self, app: str | None) -> int:
        return sum(self.periodic_runs.values()) if app is None else self.periodic_runs[app]

    def bytes_of(self, app: str | None) -> int:
        return sum(self.finished_bytes.values()) if app is None else self.finished_bytes[app]


def in_order(seen: list[str], wanted: tuple[str, ...]) -> int:
    """How many of ``wanted`` were seen in that order (others may come between)."""
    found = 0
    for kind in seen:
        if found < len(wanted) and kind == wanted[found]:
            found += 1
    return found
