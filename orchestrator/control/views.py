"""What the control API answers: plain dicts built from the orchestrator's state."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from orchestrator.errors import BackgroundAssetsError, ErrorCode
from orchestrator.model.device import BackgroundRefresh, Device, Network, Storage
from orchestrator.model.enums import ContentRequest, DownloadState
from orchestrator.service.containers import is_purgeable

RECENT = 50
# The switches a ``POST /v1/device`` body may set.
DEVICE_CONDITIONS = frozenset({"lowPowerMode", "inAppContent", "online", "metered",
                               "backgroundRefresh"})


def app_status(orchestrator: Any, app_id: str) -> dict[str, Any]:
    """One app: state, the content request waiting for the network (``install``,
    ``update``, ``periodic`` or None), install progress, allowances, runtime today,
    next periodic run."""
    loaded = orchestrator.apps[app_id]
    app, record = loaded.app, orchestrator.journal.app(app_id)
    restricted = not loaded.launched
    restrictions = app.restrictions
    state = "launched" if loaded.launched else "launchable" if loaded.launchable \
        else "installing"
    spent, allotment = orchestrator.runtime_today(app_id)
    waiting = orchestrator.waiting_request(app_id)
    return {
        "app": app_id,
        "name": app.display_name,
        "version": app.version,
        "state": state,
        "running": loaded.running,
        "waitingRequest": None if waiting is None else waiting.name.lower(),
        "progress": loaded.progress.fraction if loaded.progress else 1.0,
        "phases": loaded.progress.phases() if loaded.progress else {},
        "pending": orchestrator.queue.pending[app_id],
        "downloadAllowance": restrictions.download_allowance if restricted else None,
        "downloadBytesUsed": record.download_bytes_used if record else 0,
        "essentialDownloadAllowance":
            restrictions.essential_download_allowance if restricted else None,
        "essentialBytesUsed": record.essential_bytes_used if record else 0,
        "runtimeToday": spent,
        "runtimeAllotment": allotment,
        "nextPeriodicRun": orchestrator.next_periodic(app_id),
    }


def waiting_request_from_view(view: Mapping[str, Any]) -> ContentRequest | None:
    """The :class:`ContentRequest` an :func:`app_status` view says waits for the network."""
    name = view.get("waitingRequest")
    try:
        return None if name is None else ContentRequest[str(name).upper()]
    except KeyError:
        return None  # a newer daemon's request: shown as not waiting rather than failing


def download_rows(orchestrator: Any, app_id: str | None = None) -> list[dict[str, Any]]:
    """Pending downloads, then the most recent ended ones of each app."""
    rows = []
    for tracked in orchestrator.queue.tracked.values():
        if app_id is not None and tracked.app_id != app_id:
            continue
        d = tracked.download
        state, reason = pending_state(orchestrator, tracked)
        rows.append({"app": tracked.app_id, "download": d.id, "essential": d.essential,
                     "priority": d.priority, "state": state, "reason": reason,
                     "foreground": tracked.foreground, "bytes": tracked.bytes,
                     "total": d.size,
                     "speed": tracked.speed if state == "downloading" else None,
                     **_where(d)})
    ended = {DownloadState.FINISHED, DownloadState.FAILED}
    for app in ([app_id] if app_id else list(orchestrator.apps)):
        for record in orchestrator.journal.downloads(app, ended)[-RECENT:]:
            d = record.download
            rows.append({"app": app, "download": d.id, "essential": d.essential,
                         "priority": d.priority, "state": d.state.name.lower(),
                         "bytes": record.bytes_on_disk, "total": d.size,
                         "error": record.error_code, "message": record.error_message,
                         "purgeable": record.delivered and is_purgeable(d.destination),
                         **_where(d)})
    return rows


def pending_state(orchestrator: Any, tracked: Any) -> tuple[str, str | None]:
    """What a pending download is doing now, and why when it does not move.

    ``paused`` (by request, or by the device: offline, low power mode, a metered
    network) and ``waiting`` (for a slot, or to be resumed) are told apart from
    ``downloading``, which only a transfer in progress is: a paused transfer keeps the
    engine's ``downloading`` state and its last speed, neither of which is true then.
    """
    if tracked.paused:
        return "paused", tracked.paused
    if tracked.state == DownloadState.DOWNLOADING and not orchestrator.queue.is_running(
            tracked.key):
        return "waiting", None
    return tracked.state.name.lower(), None


def _where(download: Any) -> dict[str, Any]:
    """Where a download comes from and goes to, for a client's detail view."""
    return {"url": download.url, "destination": download.destination,
            "sha256": download.sha256}


def device_view(device: Device) -> dict[str, Any]:
    """Every condition of the device, in the Device manifest's camelCase names."""
    refresh, network, storage = device.background_refresh, device.network, device.storage
    return {"name": device.name, "lowPowerMode": device.low_power_mode,
            "backgroundRefresh": {"enabled": refresh.enabled, "apps": dict(refresh.apps)},
            "inAppContent": device.in_app_content,
            "online": network.online, "metered": network.metered,
            "storage": {"capacity": storage.capacity, "reserve": storage.reserve,
                        "used": storage.used},
            "dailyAllotmentSeconds": device.daily_allotment_seconds}


def device_from_view(view: Mapping[str, Any]) -> Device:
    """The :class:`Device` that :func:`device_view` described (a client's mirror of it)."""
    refresh, storage = view.get("backgroundRefresh") or {}, view.get("storage") or {}
    return Device(
        low_power_mode=bool(view.get("lowPowerMode", False)),
        background_refresh=BackgroundRefresh(
            enabled=bool(refresh.get("enabled", True)),
            apps=MappingProxyType({str(k): bool(v)
                                   for k, v in (refresh.get("apps") or {}).items()})),
        in_app_content=bool(view.get("inAppContent", True)),
        network=Network(online=bool(view.get("online", True)),
                        metered=bool(view.get("metered", False))),
        storage=Storage(**{k: int(v) for k, v in storage.items()
                           if k in ("capacity", "reserve", "used")}),
        daily_allotment_seconds=int(view.get("dailyAllotmentSeconds", 600)),
        name=view.get("name"))


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
