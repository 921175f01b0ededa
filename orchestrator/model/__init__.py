"""Plain data of the Background Assets model; no I/O here."""

from orchestrator.model.enums import ContentRequest, DownloadState, Priority
from orchestrator.model.units import format_size, parse_size

__all__ = ["ContentRequest", "DownloadState", "Priority", "format_size", "parse_size"]
