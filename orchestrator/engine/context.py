"""What every download of one Engine shares."""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp

from orchestrator.clock import SYSTEM_CLOCK, Clock
from orchestrator.engine.commit import GroupCommit
from orchestrator.engine.http import CredentialCache
from orchestrator.engine.listing import FolderListings
from orchestrator.engine.request import RetryPolicy
from orchestrator.engine.slots import HostSlots
from orchestrator.engine.state import StateStore


@dataclass
class EngineContext:
    """The session, the state store, retries, credentials, slots and clock of one Engine.

    The clock is what retries wait on and what a transfer marks busy.
    """

    session: aiohttp.ClientSession
    store: StateStore
    retry: RetryPolicy
    credentials: CredentialCache
    slots: HostSlots
    max_connections: int
    group_commit: GroupCommit = field(default_factory=lambda: GroupCommit())
    folders: set[str] = field(default_factory=set)  # folders made already
    listings: FolderListings = field(default_factory=FolderListings)
    clock: Clock = SYSTEM_CLOCK
