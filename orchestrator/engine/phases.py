"""The states one download goes through in the engine and the moves between them, in one place.

::

    waiting ──► downloading ──► finished
       │  ▲          │
       │  └─ paused ◄┘
       └──────┴──────┴────────► failed

The states are :class:`~orchestrator.model.enums.DownloadState` members; the engine uses
all of them but ``CREATED`` (a download the engine knows of is at least waiting).
``waiting`` is for a connection slot of the host; ``paused`` keeps the ``.part`` and its
state until resumed (back to ``waiting``). A file already in place goes from ``waiting``
straight to ``finished``; a cancel ends any unfinished download as ``failed``.
"""

from __future__ import annotations

from orchestrator.errors import PhaseError
from orchestrator.model.enums import DownloadState

MOVES: dict[DownloadState, frozenset[DownloadState]] = {
    DownloadState.WAITING: frozenset({DownloadState.WAITING, DownloadState.DOWNLOADING,
                                      DownloadState.PAUSED, DownloadState.FINISHED,
                                      DownloadState.FAILED}),
    DownloadState.DOWNLOADING: frozenset({DownloadState.PAUSED, DownloadState.FINISHED,
                                          DownloadState.FAILED}),
    DownloadState.PAUSED: frozenset({DownloadState.WAITING, DownloadState.FAILED}),
    DownloadState.FINISHED: frozenset(),
    DownloadState.FAILED: frozenset(),
}


def check_move(current: DownloadState, new: DownloadState) -> DownloadState:
    """``new`` when the move from ``current`` is allowed; else PhaseError.

    A state the table does not hold (``CREATED``) has no moves in the engine.
    """
    if new not in MOVES.get(current, ()):
        raise PhaseError(f"a download cannot go from {current.label} to {new.label}")
    return new
