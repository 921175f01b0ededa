"""Which downloads the table shows, in which order: pure functions over :mod:`tui.state` rows.

DataTable needs about a second to paint 10,000 rows and removes rows in
O(n) (DESIGN section 5), so the table holds at most ``limit`` rows: what is
moving, then what waits (essential first, by priority), then what ended most
recently. The chosen column then orders those rows.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from typing import Any

from tui.state import STATE_RANK, WAITING, DownloadRow, LiveState

ROW_LIMIT = 200
COLUMNS = ("id", "app", "essential", "priority", "state", "progress", "speed", "eta", "error")


def relevance(row: DownloadRow) -> tuple[int, int, int]:
    """Smaller is more relevant: moving, paused, waiting (essential, priority), recent ends."""
    rank = STATE_RANK[row.state]
    if row.state.ended:
        return (3, 0, -row.changed)
    if row.state == WAITING:
        return (rank, not row.essential, -row.priority)
    return (rank, not row.essential, -row.changed)


SORT_KEYS: dict[str, Callable[[DownloadRow], Any]] = {
    "id": lambda r: r.id,
    "app": lambda r: (r.app, r.id),
    "essential": lambda r: (not r.essential, r.id),
    "priority": lambda r: (-r.priority, r.id),
    "state": lambda r: (STATE_RANK[r.state], r.id),
    "progress": lambda r: (-r.fraction, r.id),
    "speed": lambda r: (-r.speed, r.id),
    "eta": lambda r: (r.eta is None, r.eta or 0.0, r.id),
    "error": lambda r: (r.error is None, r.error or "", r.id),
}


def matches(row: DownloadRow, words: list[str]) -> bool:
    """Every word appears in the row's id, app, state or error (case-insensitive)."""
    text = f"{row.id} {row.app} {row.state.label} {row.error or ''}".lower()
    if row.essential:
        text += " essential"
    return all(word in text for word in words)


def visible_rows(rows: Iterable[DownloadRow], text: str = "", sort: str | None = None,
                 reverse: bool = False, limit: int = ROW_LIMIT) -> tuple[list[DownloadRow], int]:
    """The rows to show and how many matched the filter in all."""
    words = text.lower().split()
    chosen = [row for row in rows if matches(row, words)] if words else list(rows)
    matched = len(chosen)
    shown = heapq.nsmallest(limit, chosen, key=relevance)
    if sort is not None:
        shown.sort(key=SORT_KEYS[sort], reverse=reverse)
    elif reverse:
        shown.reverse()
    return shown, matched


def shown_rows(state: LiveState, text: str = "", sort: str | None = None, reverse: bool = False,
               limit: int = ROW_LIMIT) -> tuple[list[DownloadRow], int]:
    """:func:`visible_rows` of all the state's downloads; without a filter it ranks only
    the rows that can be shown (:meth:`LiveState.relevant`), not 10,000 ended ones."""
    if text.split():
        return visible_rows(state.downloads.values(), text, sort, reverse, limit)
    shown, _ = visible_rows(state.relevant(limit), "", sort, reverse, limit)
    return shown, len(state.downloads)
