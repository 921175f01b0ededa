"""An app connected to the daemon: its delegate's callbacks, sent down its connection.

``GET /v1/apps/{app}/connect`` launches the app with a :class:`RemoteDelegate` and
streams its callbacks as NDJSON lines (``{"callback": "began" | "paused" |
"progress" | "finished" | "failed", "download": {...}, ...}``) until the app leaves.
A ``finished`` line carries a ``token`` and the ephemeral ``path``; the app moves
the file, then ``POST /v1/apps/{app}/answers`` (``{"tokens": [...]}``, several at
once) says it returned. When the
connection ends first, every ``finished`` still unanswered goes to the extension
instead (the handover reads False), so a file is neither lost nor given twice.
A ``challenge`` line carries a ``token`` and the challenge (no secret); the app
answers with ``POST /v1/apps/{app}/challenges``: a credential, cancel, or nothing
(default handling: the extension answers), which is also what leaving means.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any, TypeVar

from orchestrator.errors import BackgroundAssetsError, ErrorCode
from orchestrator.events import Event, EventKind
from orchestrator.model.auth import Challenge, ChallengeAnswer
from orchestrator.model.download import Download
from orchestrator.model.enums import DownloadState
from orchestrator.service.views import of_download, to_json

T = TypeVar("T")

# The download events an app's delegate hears of, and the callback each becomes.
CALLBACKS = {EventKind.DOWNLOAD_STARTED: "began", EventKind.DOWNLOAD_RESUMED: "began",
             EventKind.DOWNLOAD_PAUSED: "paused", EventKind.DOWNLOAD_PROGRESS: "progress"}
STATES = {"began": DownloadState.DOWNLOADING, "paused": DownloadState.PAUSED,
          "progress": DownloadState.DOWNLOADING}


class RemoteDelegate:
    """The delegate of one connected app: callbacks become lines on :attr:`lines`."""

    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        self.lines: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._answers: dict[str, asyncio.Future[bool]] = {}
        self._challenges: dict[str, asyncio.Future[ChallengeAnswer]] = {}
        self._tokens = itertools.count(1)
        self.closed = False

    # What the handover calls ----------------------------------------------------------

    async def finished(self, download: Download, path: Path) -> bool:
        """Send the file to the app; True once it returned, False if it left first."""
        if self.closed:
            return False
        return await self._ask(self._answers, {
            "callback": "finished", "path": str(path),
            "download": self._view(download, DownloadState.FINISHED, download.size or 0)})

    async def challenge(self, download: Download, challenge: Challenge) -> ChallengeAnswer:
        """Ask the app for credentials; None (default handling) if it leaves first."""
        if self.closed:
            return None
        return await self._ask(self._challenges, {
            "callback": "challenge", "challenge": challenge.to_json(),
            "download": self._view(download, DownloadState.DOWNLOADING, 0)})

    async def _ask(self, waiting: dict[str, asyncio.Future[T]], line: dict[str, Any]) -> T:
        """Send ``line`` with a new token; the app's answer to it (``close`` gives the
        answer of an app that left)."""
        token = str(next(self._tokens))
        answer: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        waiting[token] = answer
        self.lines.put_nowait({**line, "token": token})
        try:
            return await answer
        finally:
            waiting.pop(token, None)

    def failed(self, download: Download, error: BackgroundAssetsError) -> None:
        if not self.closed:
            self.lines.put_nowait({"callback": "failed", **error.as_dict(),
                                   "download": self._view(download, DownloadState.FAILED, 0)})

    # What the connection does ---------------------------------------------------------

    def heard(self, event: Event) -> None:
        """Pass a download event of this app on as its callback."""
        callback = CALLBACKS.get(event.event)
        if callback is None or event.app != self.app_id or self.closed:
            return
        data = event.data
        line: dict[str, Any] = {"callback": callback, "download": {
            "app": self.app_id, "download": data["download"], "state": STATES[callback].label,
            "essential": data["essential"], "bytes": data["bytes"], "total": data["total"]}}
        if callback == "progress":
            line.update(written=data["bytes"], expected=data["total"])
        self.lines.put_nowait(line)

    def answered(self, token: str, taken: bool = True) -> None:
        """The app returned from ``finished`` for ``token``; ``taken`` False: it has no
        delegate to take the file, which goes to the extension."""
        _settle(self._answers, token, "finished", taken)

    def challenged(self, token: str, answer: ChallengeAnswer) -> None:
        """The app's answer to the ``challenge`` callback ``token``."""
        _settle(self._challenges, token, "challenge", answer)

    def close(self) -> None:
        """The app left: what it did not answer goes to the extension."""
        self.closed = True
        for answer in self._answers.values():
            if not answer.done():
                answer.set_result(False)
        for challenge in self._challenges.values():
            if not challenge.done():
                challenge.set_result(None)
        self.lines.put_nowait(None)

    def _view(self, download: Download, state: DownloadState, done: int) -> dict[str, Any]:
        return to_json(of_download(self.app_id, download, state, done))


def _settle(waiting: dict[str, asyncio.Future[T]], token: str, callback: str,
            answer: T) -> None:
    """Give the ``callback`` that sent ``token`` its answer (:meth:`RemoteDelegate._ask`
    waits for it); 1073 for a token nothing waits on."""
    future = waiting.get(token)
    if future is None:
        raise BackgroundAssetsError(f"no {callback} callback {token!r} waits for an answer",
                                    ErrorCode.REQUEST_INVALID)
    if not future.done():
        future.set_result(answer)
