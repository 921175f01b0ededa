"""The framework's states, content requests and priorities, with their original numbers."""

from __future__ import annotations

from enum import IntEnum


class DownloadState(IntEnum):
    """``BADownload.State``."""

    FAILED = -1
    CREATED = 0
    WAITING = 1
    DOWNLOADING = 2
    FINISHED = 3


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
