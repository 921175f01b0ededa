"""An app's extension handler and the daily runtime allotment it runs under."""

from __future__ import annotations

import contextlib
from pathlib import Path

from orchestrator.errors import JournalError
from orchestrator.events import EventKind
from orchestrator.scheduler.budget import daily_allotment
from orchestrator.service.apps import LoadedApp
from orchestrator.service.context import ServiceContext
from orchestrator.service.handler import HandlerOutcome, HandlerRunner


class ExtensionRuntime:
    """Runs an app's handler, if it has one, and charges its runtime to today's allotment."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def runner(self, loaded: LoadedApp) -> HandlerRunner | None:
        """The app's handler, or None for a declarative extension."""
        if loaded.extension.handler is None:
            return None
        base_dir = Path(loaded.app.extension).parent if loaded.app.extension \
            else loaded.manifest.parent
        return HandlerRunner(loaded.extension, base_dir, self.ctx.state_dir,
                             self.ctx.layout.container(loaded.app.app_group), self.ctx.clock)

    def today(self, app_id: str) -> tuple[float, float]:
        """Seconds of extension runtime the app spent today, and today's allotment."""
        journal = self.ctx.journal
        allotment = daily_allotment(self.ctx.device.daily_allotment_seconds,
                                    journal.launches(app_id), self.ctx.clock.time())
        return journal.runtime_spent(app_id, self.ctx.day()), allotment

    def within_allotment(self, loaded: LoadedApp) -> bool:
        """Whether the app may run its extension now; when not, says why in an event."""
        if self.ctx.bypass_allotment:
            return True
        app_id = loaded.app.id
        spent, allotment = self.today(app_id)
        if spent < allotment:
            return True
        self.ctx.emit(EventKind.EXTENSION_TERMINATED, app_id,
                      reason="daily runtime allotment exhausted", spent=round(spent, 3),
                      allotment=allotment)
        return False

    def left(self, loaded: LoadedApp) -> float | None:
        """The seconds a handler call may take (None: unbounded)."""
        if self.ctx.bypass_allotment:
            return None
        spent, allotment = self.today(loaded.app.id)
        return max(0.0, allotment - spent)

    def charge(self, loaded: LoadedApp, entry: str, outcome: HandlerOutcome) -> None:
        """Count a handler call's runtime, and report a call that was ended."""
        # Runtime a full journal cannot count is not charged: the handler's work stands.
        with contextlib.suppress(JournalError):
            self.ctx.journal.add_runtime(loaded.app.id, self.ctx.day(), outcome.runtime)
        if outcome.terminated is not None:
            self.ctx.emit(EventKind.EXTENSION_TERMINATED, loaded.app.id,
                          reason=outcome.terminated, entry=entry,
                          runtime=round(outcome.runtime, 3),
                          lockSeconds=round(outcome.lock_seconds, 3))
