"""Every action of the UI against the orchestrator, each returning an :class:`Outcome`.

Keys, the command palette and tests all go through here, so a refusal reads
the same wherever it came from: the action, the error's code and camelCase
name, and the orchestrator's message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from orchestrator.errors import BackgroundAssetsError
from orchestrator.events import Event, EventKind
from orchestrator.model.device import Device
from orchestrator.model.units import format_size
from orchestrator.service.catalogs import CATALOG_ID
from tui.state import LiveState


@dataclass(frozen=True)
class Outcome:
    """What an action did, or why it was refused (``code`` set)."""

    action: str
    message: str
    code: int | None = None
    failed: bool = False

    @property
    def ok(self) -> bool:
        return self.code is None and not self.failed

    def __str__(self) -> str:
        return self.message


def refused(action: str, error: BackgroundAssetsError) -> Outcome:
    text = f"{action} refused: {int(error.code)} {error.code.title}: {error.message}"
    return Outcome(action, text, int(error.code))


REFUSALS = frozenset({EventKind.EVENT_REFUSED, EventKind.EXTENSION_TERMINATED})


def refusal_seen(action: str, app_id: str, seen: list[Event]) -> Outcome | None:
    """A refusal, or a failed catalog fetch, published about ``app_id`` while ``action``
    ran, as its outcome; else None."""
    for event in seen:
        if event.app != app_id:
            continue
        data = event.data
        code = data.get("code")
        if event.event in REFUSALS:
            reason = data.get("message") or data.get("reason")
            cause = f"{code} {data.get('name')}" if code is not None else event.event
            return Outcome(action, f"{action} refused: {cause}: {reason}",
                           None if code is None else int(code), failed=True)
        if event.event == EventKind.DOWNLOAD_FAILED and data.get("download") == CATALOG_ID:
            return Outcome(action, f"{action} failed: the catalog could not be fetched: "
                           f"{code} {data.get('name')}: {data.get('message')}; "
                           f"{action.split()[0]} again to retry",
                           None if code is None else int(code), failed=True)
    return None


def waiting_note(app_id: str, seen: list[Event]) -> str:
    """``; waiting for the network ...`` when a request of ``app_id`` waits offline, else ""."""
    if any(event.event == EventKind.REQUEST_WAITING and event.app == app_id for event in seen):
        return "; waiting for the network: the catalog is fetched once the device is online"
    return ""


def request_outcome(action: str, app_id: str, seen: list[Event], done: str) -> Outcome:
    """The outcome of a content request of ``app_id`` that raised nothing, from the events
    ``seen`` while it ran: a refusal published meanwhile, else ``done`` with the count of
    rejected downloads and whether the request waits for the network.

    One function for the in-process UI and the one attached to a daemon, so that both
    read alike.
    """
    outcome = refusal_seen(action, app_id, seen)
    if outcome is not None:
        return outcome
    rejected = sum(1 for event in seen if event.event == EventKind.PLAN_REJECTED)
    return Outcome(action, done + (f"; {rejected} download(s) rejected" if rejected else "")
                   + waiting_note(app_id, seen))


DEVICE_TOGGLES = {
    "low_power": "low power mode",
    "background_refresh": "background refresh",
    "in_app_content": "in-app content",
    "online": "network online",
    "metered": "metered network",
}


class Controller:
    """Runs actions on one orchestrator; ``manifests`` maps app ids to their app.yaml."""

    def __init__(self, orchestrator: Any, state: LiveState,
                 manifests: dict[str, Path] | None = None) -> None:
        self.orchestrator = orchestrator
        self.state = state
        self.manifests: dict[str, Path] = dict(manifests or {})

    def seed(self) -> None:
        """Fill the live state from what the journal holds, before any event."""
        self.state.seed(self.orchestrator)

    def manifest(self, app_id: str) -> Path:
        loaded = self.orchestrator.apps.get(app_id)
        return self.manifests.get(app_id) or loaded.manifest

    # Apps -----------------------------------------------------------------

    async def _run(self, action: str, app_id: str, call: Callable[[], Awaitable[Any]],
                   done: Callable[[], str]) -> Outcome:
        """Await ``call`` (a content request of ``app_id``); a refusal raised, or published
        as an event meanwhile, is the outcome, else ``done()`` (read once it returned)."""
        seen: list[Event] = []
        unsubscribe = self.orchestrator.events.subscribe(seen.append)
        try:
            await call()
        except BackgroundAssetsError as error:
            return refused(action, error)
        finally:
            unsubscribe()
        return request_outcome(action, app_id, seen, done())

    def _installed_version(self, app_id: str) -> str | None:
        record = self.orchestrator.journal.app(app_id)
        return record.version if record is not None and app_id in self.orchestrator.apps \
            else None

    async def install(self, app_id: str) -> Outcome:
        """Install the app; at its installed version this changes nothing, and says so."""
        return await self._request("install", app_id, self.orchestrator.install)

    async def update(self, app_id: str) -> Outcome:
        """An update content request when the manifest's version changed."""
        return await self._request("update", app_id, self.orchestrator.update)

    async def _request(self, verb: str, app_id: str,
                       call: Callable[[Path], Awaitable[Any]]) -> Outcome:
        path, before = self.manifest(app_id), self._installed_version(app_id)

        def done() -> str:
            after = self._installed_version(app_id)
            if before is None:
                return f"{verb} {app_id}: requested"
            if before == after:
                return f"{verb} {app_id}: version {after} is installed already; change " \
                       "spec.version to update"
            return f"{verb} {app_id}: {before} -> {after} requested"

        return await self._run(f"{verb} {app_id}", app_id, lambda: call(path), done)

    async def periodic(self, app_id: str) -> Outcome:
        return await self._run(f"periodic {app_id}", app_id,
                               lambda: self.orchestrator.periodic(app_id),
                               lambda: f"periodic {app_id}: content request sent")

    def launch(self, app_id: str) -> Outcome:
        action = f"launch {app_id}"
        try:
            self.orchestrator.launch(app_id)
        except BackgroundAssetsError as error:
            return refused(action, error)
        return Outcome(action, f"{app_id} launched")

    def terminate(self, app_id: str) -> Outcome:
        """The app stops running: callbacks go to its extension, promotion is refused."""
        action = f"terminate {app_id}"
        try:
            self.orchestrator.terminate(app_id)
        except BackgroundAssetsError as error:
            return refused(action, error)
        return Outcome(action, f"{app_id} terminated")

    # Downloads --------------------------------------------------------------

    def download_key(self, row_key: str) -> str:
        """The orchestrator's key (``group/id``) of a table row (``app/id``)."""
        app_id, _, download_id = row_key.partition("/")
        loaded = self.orchestrator.apps.get(app_id)
        return f"{loaded.app.app_group}/{download_id}" if loaded else download_id

    def _download(self, verb: str, row_key: str, done: str) -> Outcome:
        action = f"{verb} {row_key}"
        try:
            getattr(self.orchestrator, verb)(self.download_key(row_key))
        except BackgroundAssetsError as error:
            return refused(action, error)
        return Outcome(action, f"{row_key}: {done}")

    def promote(self, row_key: str) -> Outcome:
        return self._download("promote", row_key, "promoted to the foreground")

    def pause(self, row_key: str) -> Outcome:
        return self._download("pause", row_key, "paused")

    def resume(self, row_key: str) -> Outcome:
        outcome = self._download("resume", row_key, "resumed")
        if outcome.ok:
            # Waiting until download.resumed (or started) says it moves: not while offline.
            self.state.resumed(row_key)
        return outcome

    def cancel(self, row_key: str) -> Outcome:
        return self._download("cancel", row_key, "cancelled")

    def purge(self) -> Outcome:
        freed = self.orchestrator.purge()
        return Outcome("purge", f"purge: freed {format_size(freed)}")

    # Device -----------------------------------------------------------------

    def toggle(self, condition: str, app_id: str | None = None) -> Outcome:
        """Flip one device condition (per app for background refresh when ``app_id``)."""
        device, value = toggled(self.orchestrator.device, condition, app_id)
        self.orchestrator.set_device(device)
        return toggle_outcome(condition, value, app_id, device)


def toggled(device: Device, condition: str, app_id: str | None = None) -> tuple[Device, bool]:
    """``device`` with one condition flipped, and that condition's new value.

    Pure, so the in-process UI and the one attached to a daemon flip the same way.
    """
    refresh, network = device.background_refresh, device.network
    if condition == "low_power":
        value = not device.low_power_mode
        return replace(device, low_power_mode=value), value
    if condition == "background_refresh" and app_id is not None:
        # The app's own switch, not the effective value: with the global switch off every
        # app is off, and flipping that would set the app's switch on again and again.
        value = not refresh.apps.get(app_id, True)
        apps = MappingProxyType({**refresh.apps, app_id: value})
        return replace(device, background_refresh=replace(refresh, apps=apps)), value
    if condition == "background_refresh":
        value = not refresh.enabled
        return replace(device, background_refresh=replace(refresh, enabled=value)), value
    if condition == "in_app_content":
        value = not device.in_app_content
        return replace(device, in_app_content=value), value
    if condition == "online":
        value = not network.online
        return replace(device, network=replace(network, online=value)), value
    if condition == "metered":
        value = not network.metered
        return replace(device, network=replace(network, metered=value)), value
    raise ValueError(f"unknown device condition {condition!r}")


def toggle_outcome(condition: str, value: bool, app_id: str | None = None,
                   device: Device | None = None) -> Outcome:
    """What flipping ``condition`` to ``value`` reads like in the UI.

    An app's background refresh switched on while the global switch is off says that
    it stays off until the global switch is on again.
    """
    name = DEVICE_TOGGLES[condition] + (f" for {app_id}" if app_id else "")
    text = f"{name}: {'on' if value else 'off'}"
    if condition == "background_refresh" and app_id and value and device is not None \
            and not device.background_refresh.enabled:
        text += " (no effect while background refresh is off globally)"
    return Outcome(f"toggle {condition}", text)
