"""bgassets: Apple's Background Assets model for any machine.

The public surface is re-exported here; the modules behind it are private to
the package and may move.
"""

from orchestrator.errors import BackgroundAssetsError, DownloadError, ErrorCode, ManifestError
from orchestrator.model import ContentRequest, DownloadState, Priority, format_size, parse_size

__all__ = [
    "BackgroundAssetsError",
    "ContentRequest",
    "DownloadError",
    "DownloadState",
    "ErrorCode",
    "ManifestError",
    "Priority",
    "format_size",
    "parse_size",
]
