"""The phases of one download and the moves between them, in one place.

::

    waiting ──► downloading ──► finished
       │  ▲          │
       │  └─ paused ◄┘
       └──────┴──────┴────────► failed

``waiting`` is for a connection slot of the host; ``paused`` keeps the ``.part`` and its
state until resumed (back to ``waiting``). A file already in place goes from ``waiting``
straight to ``finished``; a cancel ends any unfinished download as ``failed``.
"""

from __future__ import annotations

from enum import StrEnum

from orchestrator.errors import PhaseError


class Phase(StrEnum):
    """Where a download stands; the values are what progress and the control API show."""

    WAITING = "waiting"
    DOWNLOADING = "downloading"
    PAUSED = "paused"
    FINISHED = "finished"
    FAILED = "failed"

    @property
    def ended(self) -> bool:
        return self in (Phase.FINISHED, Phase.FAILED)


MOVES: dict[Phase, frozenset[Phase]] = {
    Phase.WAITING: frozenset({Phase.WAITING, Phase.DOWNLOADING, Phase.PAUSED, Phase.FINISHED,
                              Phase.FAILED}),
    Phase.DOWNLOADING: frozenset({Phase.PAUSED, Phase.FINISHED, Phase.FAILED}),
    Phase.PAUSED: frozenset({Phase.WAITING, Phase.FAILED}),
    Phase.FINISHED: frozenset(),
    Phase.FAILED: frozenset(),
}


def check_move(current: Phase, new: Phase) -> Phase:
    """``new`` when the move from ``current`` is allowed; else PhaseError."""
    if new not in MOVES[current]:
        raise PhaseError(f"a download cannot go from {current} to {new}")
    return new
