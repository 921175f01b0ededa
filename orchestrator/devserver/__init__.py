"""A development asset server with Range, ETag, If-Range and injectable faults.

``bgassets serve`` runs it for people; tests use :class:`DevServer` directly,
in their event loop or, through :func:`serve_in_thread`, from plain threads.
"""

from orchestrator.devserver.faults import FAULT_DESCRIPTIONS, FAULT_NAMES, Fault, parse_fault
from orchestrator.devserver.server import DevServer, DevServerStats
from orchestrator.devserver.thread import serve_in_thread

__all__ = [
    "FAULT_DESCRIPTIONS",
    "FAULT_NAMES",
    "DevServer",
    "DevServerStats",
    "Fault",
    "parse_fault",
    "serve_in_thread",
]
