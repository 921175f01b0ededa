"""The orchestrator service: wires manifests, scheduler, engine and journal; publishes events.

Imports are lazy: a handler's child process imports ``orchestrator.service.handler_child``
and must not pay for aiohttp and the whole service (0.4 s and 25 MB per call).
"""

from __future__ import annotations

from typing import Any

__all__ = ["AppDelegate", "LoadedApp", "Orchestrator"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        import orchestrator.service.orchestrator as orchestrator

        return getattr(orchestrator, name)
    raise AttributeError(f"module 'orchestrator.service' has no attribute {name!r}")
