"""Readable one-line renderings of orchestrator events, for ``simulate`` and ``run --headless``."""

from __future__ import annotations

from typing import Any, TextIO

from orchestrator.events import Event
from orchestrator.model.units import format_size


def describe(event: Event) -> str | None:
    """A short human line for ``event``, or None for events too chatty to print."""
    d: dict[str, Any] = event.data
    name = event.event
    who = d.get("download")
    size = f" ({format_size(d['total'])})" if d.get("total") else ""
    tag = " essential" if d.get("essential") else ""
    if name == "download.progress":
        return None
    if name == "app.progress":
        phases = d.get("phases", {})
        return (f"install progress {d['fraction']:.0%} (app {phases.get('app', 0):.0%}, "
                f"install step {phases.get('install', 0):.0%}, essential "
                f"{phases.get('essential', 0):.0%})")
    if name in ("download.failed", "plan.rejected", "event.refused"):
        target = f"{who}: " if who else ""
        return f"{name:<20} {target}error {d.get('code')} {d.get('name')}: " \
               f"{d.get('message') or d.get('reason')}"
    if name == "download.scheduled":
        return f"{name:<20} {who}{tag}{size} priority {d.get('priority')}"
    if name == "download.finished":
        where = f" -> {d['path']}" if d.get("path") else ""
        return f"{name:<20} {who}{tag}{size}{where}"
    if name.startswith("download.") or name == "asset.purged":
        extra = f" [{d['reason']}]" if d.get("reason") else ""
        return f"{name:<20} {who}{tag}{size}{extra}"
    if name == "extension.request":
        left = d.get("restrictedDownloadSizeRemaining")
        essential_left = d.get("restrictedEssentialDownloadSizeRemaining")
        limits = "unrestricted" if left is None else (
            f"{format_size(left)} allowance left, {format_size(essential_left or 0)} essential")
        return f"{name:<20} {d.get('request')} ({limits})"
    details = ", ".join(f"{k}={v}" for k, v in d.items() if v is not None)
    return f"{name:<20} {details}".rstrip()


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
