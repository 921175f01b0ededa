"""Who answers an authentication challenge: the running app's delegate, else the extension.

The engine asks once per protection space of an app (its cache keeps the answer for
the run and sends it to that origin only). The order follows the framework: a
connected app's delegate with a ``challenge`` callback first; when it leaves the
challenge to default handling (None), the Extension's ``spec.credentials``; then its
handler's ``challenge`` entry point. What nobody answers fails the download with 1025.
"""

from __future__ import annotations

import inspect
import logging

from orchestrator.errors import CredentialUnavailable, DownloadError, ErrorCode
from orchestrator.model.auth import Challenge, ChallengeAnswer, ChallengeDisposition
from orchestrator.model.download import Download
from orchestrator.service.apps import LoadedApp
from orchestrator.service.catalogs import CATALOG_ID
from orchestrator.service.context import ServiceContext
from orchestrator.service.credentials import answer_from_manifest
from orchestrator.service.runtime import ExtensionRuntime

log = logging.getLogger("bgassets.challenges")


class Challenges:
    """The engine's credential provider for every app of one orchestrator."""

    def __init__(self, ctx: ServiceContext, runtime: ExtensionRuntime) -> None:
        self.ctx = ctx
        self.runtime = runtime

    async def answer(self, challenge: Challenge) -> ChallengeAnswer:
        loaded = self.ctx.apps.get(challenge.scope or "")
        if loaded is None:
            return None
        download = self._download(loaded, challenge)
        unavailable: CredentialUnavailable | None = None
        answer, by = await self._delegate(loaded, download, challenge), "the app's delegate"
        if answer is None:
            by = "spec.credentials"
            try:
                answer = answer_from_manifest(loaded.extension.credentials, challenge)
            except CredentialUnavailable as error:
                unavailable = error
        if answer is None:
            answer, by = await self._handler(loaded, download, challenge), "the handler"
        realm = f" realm {challenge.realm!r}" if challenge.realm else ""
        outcome = ("cancelled by " + by if answer is ChallengeDisposition.CANCEL
                   else "answered by " + by if answer is not None else "not answered")
        log.info("%s: %s challenge from %s%s for %s: %s", loaded.app.id,
                 challenge.scheme.value, challenge.origin, realm, download.id, outcome)
        if answer is None and unavailable is not None:
            # Not cached: once the file or variable is there, the next download answers.
            raise DownloadError(f"{challenge.url} needs credentials: {unavailable}",
                                ErrorCode.AUTHENTICATION_FAILED)
        return answer

    def _download(self, loaded: LoadedApp, challenge: Challenge) -> Download:
        """The download that met the challenge; the catalog's is ``@catalog``."""
        tracked = self.ctx.queue.tracked.get(challenge.key or "")
        if tracked is not None:
            return tracked.download
        return Download(CATALOG_ID, challenge.url, loaded.app.app_group)

    async def _delegate(self, loaded: LoadedApp, download: Download,
                        challenge: Challenge) -> ChallengeAnswer:
        delegate = loaded.delegate if loaded.running else None
        ask = getattr(delegate, "challenge", None)
        if ask is None:
            return None
        try:
            answer = ask(download, challenge)
            if inspect.isawaitable(answer):
                answer = await answer
        except Exception:
            log.exception("%s: the delegate's challenge() failed", loaded.app.id)
            return None
        return None if answer is ChallengeDisposition.PERFORM_DEFAULT_HANDLING else answer

    async def _handler(self, loaded: LoadedApp, download: Download,
                       challenge: Challenge) -> ChallengeAnswer:
        runner = self.runtime.runner(loaded)
        if runner is None or not self.runtime.within_allotment(loaded):
            return None
        answer, outcome = await runner.challenge(download, challenge,
                                                 budget=self.runtime.left(loaded))
        self.runtime.charge(loaded, "challenge", outcome)
        return answer
