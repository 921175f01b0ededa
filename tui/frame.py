"""What one repaint reads: the live state, the service's views and the session's apps.

The app builds one :class:`Frame` per tick of its frame timer and hands it to the
visible screen; the snapshot is read from the controls only if the screen asks
for it, once per frame however often it is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol, runtime_checkable

from orchestrator.service.controls import Controls
from orchestrator.service.views import Snapshot
from tui.state import LiveState


@dataclass
class Frame:
    """One frame's reads. ``manifests`` maps the session's app ids to their app.yaml;
    ``paced``: the frame timer's frame, which a screen may skip to keep a slower pace (a
    frame someone asked for is drawn)."""

    state: LiveState
    controls: Controls
    manifests: Mapping[str, Path]
    paced: bool = False

    @cached_property
    def snapshot(self) -> Snapshot:
        return self.controls.snapshot()

    @property
    def app_ids(self) -> list[str]:
        """The session's apps and the installed ones, in id order."""
        return sorted(set(self.manifests) | set(self.snapshot.apps))


@runtime_checkable
class LiveScreen(Protocol):
    """A screen the frame timer redraws; True when it drew something."""

    def refresh_from(self, frame: Frame) -> bool: ...
