"""Which downloads run now: essential first, then by priority, under caps and conditions.

Priority orders one app's downloads only (as in the framework), so across apps
the queue interleaves by each download's rank within its own app. An app's
non-essential downloads wait until none of its essential ones is pending.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Candidate:
    """A scheduled download as the queue sees it; ``order`` is when it was scheduled."""

    key: str
    app_id: str
    host: str
    essential: bool = False
    priority: int = 50
    foreground: bool = False
    order: int = 0


@dataclass(frozen=True)
class Conditions:
    """Device conditions that pause downloads; ``allow_metered`` is each app's network policy."""

    online: bool = True
    metered: bool = False
    low_power_mode: bool = False
    allow_metered: Mapping[str, bool] = field(default_factory=dict)


def pause_reason(candidate: Candidate, conditions: Conditions) -> str | None:
    """Why ``candidate`` may not transfer now, or None.

    Foreground and essential downloads run whatever the battery or network
    cost; background ones wait for a network the app's policy accepts and for
    low power mode to end.
    """
    if not conditions.online:
        return "offline"
    if candidate.foreground or candidate.essential:
        return None
    if conditions.low_power_mode:
        return "low power mode"
    if conditions.metered and not conditions.allow_metered.get(candidate.app_id, True):
        return "metered network"
    return None


def _ranks(candidates: Sequence[Candidate]) -> dict[str, int]:
    """Each download's position among its own app's downloads, best first."""
    by_app: dict[str, list[Candidate]] = defaultdict(list)
    for candidate in candidates:
        by_app[candidate.app_id].append(candidate)
    ranks: dict[str, int] = {}
    for group in by_app.values():
        group.sort(key=lambda c: (not c.foreground, not c.essential, -c.priority, c.order))
        ranks.update({c.key: rank for rank, c in enumerate(group)})
    return ranks


def downloads_to_start(
    waiting: Sequence[Candidate],
    running: Sequence[Candidate],
    conditions: Conditions,
    *,
    max_active: int = 8,
    max_per_host: int = 6,
    holding: frozenset[str] = frozenset(),
) -> list[Candidate]:
    """The waiting downloads to start now, in the order to start them.

    ``holding`` names apps with essential downloads that are neither waiting nor running
    but not ended either (being handed over): their other downloads wait too.
    """
    pending_essential = {c.app_id for c in (*waiting, *running) if c.essential} | holding
    ranks = _ranks(waiting)
    ordered = sorted(
        waiting,
        key=lambda c: (not c.foreground, not c.essential, ranks[c.key], c.order),
    )
    per_host = Counter(c.host for c in running)
    active = len(running)
    chosen: list[Candidate] = []
    for candidate in ordered:
        if active >= max_active and not candidate.foreground:
            break
        if pause_reason(candidate, conditions) is not None:
            continue
        waits_for_essential = candidate.app_id in pending_essential
        if waits_for_essential and not (candidate.essential or candidate.foreground):
            continue
        if per_host[candidate.host] >= max_per_host and not candidate.foreground:
            continue
        chosen.append(candidate)
        per_host[candidate.host] += 1
        active += 1
    return chosen


def downloads_to_pause(running: Sequence[Candidate], conditions: Conditions) -> list[Candidate]:
    """Running downloads that the current conditions no longer allow."""
    return [c for c in running if pause_reason(c, conditions) is not None]
