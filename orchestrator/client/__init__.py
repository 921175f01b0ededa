"""The app side: what a real app, a process of its own, uses to talk to the daemon."""

from orchestrator.client.manager import DownloadManager

__all__ = ["DownloadManager"]
