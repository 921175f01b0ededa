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
    """Disk capacity, the reserve kept free, and bytes used by other things."""

    capacity: int = 2**40
    reserve: int = 0
    used: int = 0

    @property
    def available(self) -> int:
        """Bytes that downloads may still use before touching the reserve."""
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
        defaults = Storage()
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
                capacity=parse_size(storage.get("capacity", defaults.capacity)),
                reserve=parse_size(storage.get("reserve", 0)),
                used=parse_size(storage.get("used", 0)),
            ),
            daily_allotment_seconds=int(
                runtime.get("dailyAllotmentSeconds", DEFAULT_DAILY_ALLOTMENT_SECONDS)
            ),
        )
