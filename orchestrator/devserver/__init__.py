"""A development asset server with Range, ETag, If-Range and injectable faults.

``bgassets serve`` runs it for people; tests use :class:`DevServer` directly,
in their event loop or, through :func:`serve_in_thread`, from plain threads.
Imports are lazy: ``bgassets --help`` and every other command read the fault
descriptions without loading aiohttp's server.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "FAULT_DESCRIPTIONS": "faults",
    "FAULT_NAMES": "faults",
    "Fault": "faults",
    "parse_fault": "faults",
    "DevServer": "server",
    "DevServerStats": "server",
    "serve_in_thread": "thread",
}

__all__ = [
    "FAULT_DESCRIPTIONS",
    "FAULT_NAMES",
    "DevServer",
    "DevServerStats",
    "Fault",
    "parse_fault",
    "serve_in_thread",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'orchestrator.devserver' has no attribute {name!r}")
    return getattr(importlib.import_module(f"orchestrator.devserver.{home}"), name)
