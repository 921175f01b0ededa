"""The crash-safe journal (SQLite, WAL) of apps, downloads and runtime."""

from orchestrator.journal.journal import (
    JOURNAL_NAME,
    AppRecord,
    DownloadRecord,
    Journal,
    Transition,
)

__all__ = ["JOURNAL_NAME", "AppRecord", "DownloadRecord", "Journal", "Transition"]
