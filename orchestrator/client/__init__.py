"""The app side: what a real app, a process of its own, uses to talk to the daemon.

:class:`DownloadManager` is async; :class:`BlockingDownloadManager` offers the same
calls to an app without an event loop. :class:`AssetPackManager` manages the app's
asset packs and reads their files.
"""

from orchestrator.client.blocking import BlockingDownloadManager
from orchestrator.client.manager import DownloadManager
from orchestrator.client.packs import AssetPackManager, PackUpdate, PackUpdateKind
from orchestrator.errors import BackgroundAssetsError, ErrorCode
from orchestrator.model.auth import AuthScheme, Challenge, ChallengeDisposition, Credential
from orchestrator.service.views import PackStatus, PackView

__all__ = ["AssetPackManager", "AuthScheme", "BackgroundAssetsError",
           "BlockingDownloadManager", "Challenge", "ChallengeDisposition", "Credential",
           "DownloadManager", "ErrorCode", "PackStatus", "PackUpdate", "PackUpdateKind",
           "PackView"]
