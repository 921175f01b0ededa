"""The conditions of the machine that the scheduler obeys, from a Device manifest."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from orchestrator.model.units import parse_size

DEFAULT_DAILY_ALLOTMENT_SECONDS = 600


@dataclass(frozen=True)
class BackgroundRefresh:
    """Background refresh, globally and per app id (a missing app follows the global switch)."""

    enabled: bool = True
    apps: Mapping[str, bool] = field(default_factory=lambda: MappingProxyType({}), hash=False)

    def allows(self, app_id: str) -> bool:
        """Whether background refresh is on for ``app_id``."""
        return self.enabled and self.apps.get(app_id, True)


@dataclass(frozen=True)
class Network:
    """Whether the machine is online and whether the network is metered."""

    online: bool = True
    metered: bool = False


@dataclass(frozen=True)
class Storage:
    """The disk downloads go to: its capacity, the reserve kept free, bytes used by others.

    With ``capacity`` None the disk is measured: capacity and free space are those of
    the state dir's file system, and only ``reserve`` comes from here. With a capacity
    the disk is simulated: ``used`` is what other things take, and what the orchestrator
    delivers adds to it.
    """

    capacity: int | None = None
    reserve: int = 0
    used: int = 0

    @property
    def simulated(self) -> bool:
        """Whether the numbers come from the Device manifest instead of the file system."""
        return self.capacity is not None

    @property
    def available(self) -> int | None:
        """Bytes a simulated disk leaves to downloads before the reserve, counting nothing
        the orchestrator delivered; None for a measured disk."""
        if self.capacity is None:
            return None
        return max(0, self.capacity - self.reserve - self.used)


@dataclass(frozen=True)
class Device:
    """Low power, background refresh, in-app content, network, storage and runtime policy."""

    low_power_mode: bool = False
    background_refresh: BackgroundRefresh = field(default_factory=BackgroundRefresh)
    in_app_content: bool = True
    network: Network = field(default_factory=Network)
    storage: Storage = field(default_factory=Storage)
    daily_allotment_seconds: int = DEFAULT_DAILY_ALLOTMENT_SECONDS
    name: str | None = None

    @classmethod
    def from_document(cls, data: Mapping[str, Any], base_path: str | None = None) -> Device:
        """Build from an already schema-validated Device document; missing parts take defaults."""
        spec = data.get("spec") or {}
        refresh = spec.get("backgroundRefresh") or {}
        network = spec.get("network") or {}
        storage = spec.get("storage") or {}
        runtime = spec.get("runtime") or {}
        return cls(
            name=(data.get("metadata") or {}).get("name"),
            low_power_mode=bool(spec.get("lowPowerMode", False)),
            background_refresh=BackgroundRefresh(
                enabled=bool(refresh.get("enabled", True)),
                apps=MappingProxyType(
                    {str(k): bool(v) for k, v in (refresh.get("apps") or {}).items()}
                ),
            ),
            in_app_content=bool(spec.get("inAppContent", True)),
            network=Network(
                online=bool(network.get("online", True)),
                metered=bool(network.get("metered", False)),
            ),
            storage=Storage(
                capacity=parse_size(storage["capacity"]) if "capacity" in storage else None,
                reserve=parse_size(storage.get("reserve", 0)),
                used=parse_size(storage.get("used", 0)),
            ),
            daily_allotment_seconds=int(
                runtime.get("dailyAllotmentSeconds", DEFAULT_DAILY_ALLOTMENT_SECONDS)
            ),
        )
