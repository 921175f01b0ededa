"""Readable one-line renderings of orchestrator events, for ``simulate`` and ``run --headless``."""

from __future__ import annotations

from typing import TextIO

from orchestrator.events import Event, describe


class Timeline:
    """Prints events as ``+SECONDS  APP  line`` relative to the first one."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.start: float | None = None

    def __call__(self, event: Event) -> None:
        line = describe(event)
        if line is None:
            return
        if self.start is None:
            self.start = event.ts
        app = event.app or "-"
        print(f"+{event.ts - self.start:8.3f}s  {app:<28} {line}", file=self.out, flush=True)
