"""The framework's states, content requests and priorities, with their original numbers."""

from __future__ import annotations

from enum import IntEnum
from functools import cached_property


class DownloadState(IntEnum):
    """``BADownload.State``, plus ``PAUSED``: the one download state from engine to client.

    ``FAILED`` to ``FINISHED`` are the framework's numbers, stored as such in the journal.
    ``PAUSED`` is ours, not the framework's: a transfer stopped with its bytes kept (by
    request, or by the device's conditions). It is shown, never journaled: a paused
    download is journaled as waiting or downloading, and recovered from that.
    """

    FAILED = -1
    CREATED = 0
    WAITING = 1
    DOWNLOADING = 2
    FINISHED = 3
    PAUSED = 4

    # Cached on the member: asked for each progress report, they then cost what reading
    # an attribute does.
    @cached_property
    def label(self) -> str:
        """The lower-case name (``"paused"``) that progress output and the control API show."""
        return self.name.lower()

    @cached_property
    def ended(self) -> bool:
        """Finished or failed: no move leads out of it."""
        return self in (DownloadState.FINISHED, DownloadState.FAILED)

    @classmethod
    def from_label(cls, label: str) -> DownloadState:
        """The state a :attr:`label` names (``"downloading"``); ValueError for another text."""
        try:
            return _BY_LABEL[label.lower()]
        except KeyError:
            raise ValueError(f"{label!r} is not a download state") from None


_BY_LABEL = {state.label: state for state in DownloadState}


class ContentRequest(IntEnum):
    """``BAContentRequest``: the event that wakes an extension."""

    INSTALL = 1
    UPDATE = 2
    PERIODIC = 3


class Priority(IntEnum):
    """``BADownload.Priority``: 0..100; it orders one app's downloads only."""

    MIN = 0
    DEFAULT = 50
    MAX = 100
