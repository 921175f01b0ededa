"""Where a download's resumable state lives: the journal later, a JSON sidecar until then."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Protocol

StateRecord = dict[str, Any]
"""A download's state as stored: JSON-shaped, and read back as untrusted input."""


class StateStore(Protocol):
    """Persisted download state keyed by the download's key; ``save`` must be atomic."""

    def load(self, key: str) -> StateRecord | None: ...

    def save(self, key: str, state: StateRecord) -> None: ...

    def delete(self, key: str) -> None: ...


class SidecarStore:
    """State as ``<destination>.part.json`` next to the staging file; the key is the destination.

    Written as temp + fsync + ``os.replace`` so a crash leaves the old or the new state,
    never half of one.
    """

    @staticmethod
    def path_for(key: str) -> Path:
        return Path(key + ".part.json")

    def load(self, key: str) -> StateRecord | None:
        try:
            with open(self.path_for(key), encoding="utf-8") as handle:
                state = json.load(handle)
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) else None

    def save(self, key: str, state: StateRecord) -> None:
        path = self.path_for(key)
        temp = path.with_name(path.name + ".tmp")
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(state, handle, separators=(",", ":"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path_for(key))


class MemoryStore:
    """A store that forgets everything with the process; for tests and throwaway engines."""

    def __init__(self) -> None:
        self.states: dict[str, StateRecord] = {}

    def load(self, key: str) -> StateRecord | None:
        state = self.states.get(key)
        return json.loads(json.dumps(state)) if state is not None else None

    def save(self, key: str, state: StateRecord) -> None:
        self.states[key] = json.loads(json.dumps(state))

    def delete(self, key: str) -> None:
        self.states.pop(key, None)
