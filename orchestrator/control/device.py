"""The body of ``POST /v1/device``: the device switches a client may set, both ways."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from orchestrator.errors import BackgroundAssetsError, ErrorCode
from orchestrator.model.device import BackgroundRefresh, Device, Network

# The switches a ``POST /v1/device`` body may set.
DEVICE_CONDITIONS = frozenset({"lowPowerMode", "inAppContent", "online", "metered",
                               "backgroundRefresh"})


def device_changes(before: Device, after: Device) -> dict[str, Any]:
    """The ``POST /v1/device`` body that turns ``before``'s switches into ``after``'s.

    Only what differs is sent, so two clients flipping different switches at once
    do not undo each other's change.
    """
    changes: dict[str, Any] = {}
    for name, old, new in (
            ("lowPowerMode", before.low_power_mode, after.low_power_mode),
            ("inAppContent", before.in_app_content, after.in_app_content),
            ("online", before.network.online, after.network.online),
            ("metered", before.network.metered, after.network.metered)):
        if old != new:
            changes[name] = new
    refresh, new_refresh = before.background_refresh, after.background_refresh
    refresh_changes: dict[str, Any] = {}
    if refresh.enabled != new_refresh.enabled:
        refresh_changes["enabled"] = new_refresh.enabled
    apps = {app: on for app, on in new_refresh.apps.items() if refresh.apps.get(app, True) != on}
    if apps:
        refresh_changes["apps"] = apps
    if refresh_changes:
        changes["backgroundRefresh"] = refresh_changes
    return changes


def _flag(changes: Mapping[str, Any], name: str, current: bool) -> bool:
    value = changes.get(name, current)
    if not isinstance(value, bool):
        raise BackgroundAssetsError(f"device change {name!r}: expected true or false, "
                                    f"got {value!r}", ErrorCode.REQUEST_INVALID)
    return value


def changed_device(device: Device, changes: Mapping[str, Any]) -> Device:
    """``device`` with the switches named in ``changes`` set (a ``POST /v1/device`` body).

    Accepted: ``lowPowerMode``, ``inAppContent``, ``online``, ``metered`` and
    ``backgroundRefresh`` (``enabled`` and/or ``apps``: app id -> on/off); any
    other key is refused, so a typo does not pass for a change.
    """
    unknown = sorted(set(changes) - DEVICE_CONDITIONS)
    if unknown:
        raise BackgroundAssetsError(f"unknown device condition(s) {', '.join(unknown)}; "
                                    f"known: {', '.join(sorted(DEVICE_CONDITIONS))}",
                                    ErrorCode.REQUEST_INVALID)
    refresh = device.background_refresh
    refresh_changes = changes.get("backgroundRefresh") or {}
    if not isinstance(refresh_changes, Mapping) or set(refresh_changes) - {"enabled", "apps"} \
            or not isinstance(refresh_changes.get("apps") or {}, Mapping):
        raise BackgroundAssetsError("device change 'backgroundRefresh': expected "
                                    '{"enabled": true|false, "apps": {APP_ID: true|false}}',
                                    ErrorCode.REQUEST_INVALID)
    apps = {**refresh.apps, **{str(app): _flag(refresh_changes.get("apps") or {}, app, True)
                               for app in (refresh_changes.get("apps") or {})}}
    network = Network(online=_flag(changes, "online", device.network.online),
                      metered=_flag(changes, "metered", device.network.metered))
    return replace(
        device, low_power_mode=_flag(changes, "lowPowerMode", device.low_power_mode),
        in_app_content=_flag(changes, "inAppContent", device.in_app_content),
        network=network,
        background_refresh=BackgroundRefresh(
            enabled=_flag(refresh_changes, "enabled", refresh.enabled),
            apps=MappingProxyType(apps)))
