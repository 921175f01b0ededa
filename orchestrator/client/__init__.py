"""The app side: what a real app, a process of its own, uses to talk to the daemon.

:class:`DownloadManager` is async; :class:`BlockingDownloadManager` offers the same
calls to an app without an event loop.
"""

from orchestrator.client.blocking import BlockingDownloadManager
from orchestrator.client.manager import DownloadManager
from orchestrator.errors import BackgroundAssetsError, ErrorCode
from orchestrator.model.auth import AuthScheme, Challenge, ChallengeDisposition, Credential

__all__ = ["AuthScheme", "BackgroundAssetsError", "BlockingDownloadManager", "Challenge",
           "ChallengeDisposition", "Credential", "DownloadManager", "ErrorCode"]
