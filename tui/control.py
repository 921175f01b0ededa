"""Every action of the UI, on the service's controls, each returning an :class:`Outcome`.

Keys, the command palette and tests all go through here, so a refusal reads
the same wherever it came from (in process or a daemon): the action, the
error's code and camelCase name, and the service's message.
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
from orchestrator.service.controls import Controls, PackAction
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
    """Runs the UI's actions on ``controls`` (in process, or a daemon's): each returns an
    :class:`Outcome`. ``manifests`` maps app ids to the app.yaml the session was given;
    an app without one is installed again from the manifest the service installed it from.
    """

    def __init__(self, controls: Controls, state: LiveState,
                 manifests: dict[str, Path] | None = None) -> None:
        self.controls = controls
        self.state = state
        self.manifests: dict[str, Path] = dict(manifests or {})

    async def seed(self) -> None:
        """Fill the live state with what the service already holds, before any event."""
        self.state.seed(await self.controls.downloads(), self.controls.snapshot())

    # Apps -----------------------------------------------------------------

    async def _run(self, action: str, app_id: str, call: Callable[[], Awaitable[Any]],
                   done: Callable[[], str]) -> Outcome:
        """Await ``call`` (a content request of ``app_id``); a refusal raised, or published
        as an event meanwhile, is the outcome, else ``done()`` (read once it returned)."""
        seen: list[Event] = []
        unsubscribe = self.controls.events.subscribe(seen.append)
        try:
            await call()
        except BackgroundAssetsError as error:
            return refused(action, error)
        finally:
            unsubscribe()
        return request_outcome(action, app_id, seen, done())

    def _installed_version(self, app_id: str) -> str | None:
        view = self.controls.snapshot().app(app_id)
        return None if view is None else view.version

    async def install(self, app_id: str) -> Outcome:
        """Install the app; at its installed version this changes nothing, and says so."""
        return await self._request("install", app_id, self.controls.install)

    async def update(self, app_id: str) -> Outcome:
        """An update content request when the manifest's version changed."""
        return await self._request("update", app_id, self.controls.update)

    async def _request(self, verb: str, app_id: str,
                       call: Callable[[str, Path | None], Awaitable[Any]]) -> Outcome:
        before = self._installed_version(app_id)

        def done() -> str:
            after = self._installed_version(app_id)
            if before is None:
                return f"{verb} {app_id}: requested"
            if before == after:
                return f"{verb} {app_id}: version {after} is installed already; change " \
                       "spec.version to update"
            return f"{verb} {app_id}: {before} -> {after} requested"

        manifest = self.manifests.get(app_id)
        return await self._run(f"{verb} {app_id}", app_id, lambda: call(app_id, manifest), done)

    async def periodic(self, app_id: str) -> Outcome:
        return await self._run(f"periodic {app_id}", app_id,
                               lambda: self.controls.periodic(app_id),
                               lambda: f"periodic {app_id}: content request sent")

    async def _ask(self, action: str, call: Awaitable[Any], done: str) -> Outcome:
        try:
            await call
        except BackgroundAssetsError as error:
            return refused(action, error)
        return Outcome(action, done)

    async def launch(self, app_id: str) -> Outcome:
        return await self._ask(f"launch {app_id}", self.controls.launch(app_id),
                               f"{app_id} launched")

    async def terminate(self, app_id: str) -> Outcome:
        """The app stops running: callbacks go to its extension, promotion is refused."""
        return await self._ask(f"terminate {app_id}", self.controls.terminate(app_id),
                               f"{app_id} terminated")

    async def _install_action(self, verb: str, app_id: str,
                              call: Callable[[str], Awaitable[int]], done: str) -> Outcome:
        action = f"{verb}-install {app_id}"
        try:
            count = await call(app_id)
        except BackgroundAssetsError as error:
            return refused(action, error)
        return Outcome(action, f"{verb}-install {app_id}: {count} download(s) {done}")

    async def pause_install(self, app_id: str) -> Outcome:
        """Every download of the app's install holds; it is not launchable until resumed."""
        return await self._install_action("pause", app_id, self.controls.pause_install,
                                          "paused; resume-install to go on")

    async def resume_install(self, app_id: str) -> Outcome:
        return await self._install_action("resume", app_id, self.controls.resume_install,
                                          "resumed")

    async def cancel_install(self, app_id: str) -> Outcome:
        """The install is given up: the app ends not installed."""
        return await self._install_action("cancel", app_id, self.controls.cancel_install,
                                          "cancelled; the app is not installed")

    # Downloads --------------------------------------------------------------

    async def _download(self, verb: str, row_key: str, done: str) -> Outcome:
        """``verb`` on the download of table row ``row_key`` (``app/id``)."""
        app_id, _, download_id = row_key.partition("/")
        calls = {"promote": self.controls.promote, "pause": self.controls.pause,
                 "resume": self.controls.resume, "cancel": self.controls.cancel}
        return await self._ask(f"{verb} {row_key}", calls[verb](download_id, app_id),
                               f"{row_key}: {done}")

    async def promote(self, row_key: str) -> Outcome:
        return await self._download("promote", row_key, "promoted to the foreground")

    async def pause(self, row_key: str) -> Outcome:
        return await self._download("pause", row_key, "paused")

    async def resume(self, row_key: str) -> Outcome:
        outcome = await self._download("resume", row_key, "resumed")
        if outcome.ok:
            # Waiting until download.resumed (or started) says it moves: not while offline.
            self.state.resumed(row_key)
        return outcome

    async def cancel(self, row_key: str) -> Outcome:
        return await self._download("cancel", row_key, "cancelled")

    async def purge(self) -> Outcome:
        try:
            freed = await self.controls.purge()
        except BackgroundAssetsError as error:
            return refused("purge", error)
        return Outcome("purge", f"purge: freed {format_size(freed)}")

    # Asset packs --------------------------------------------------------------

    async def read_packs(self, app_ids: list[str]) -> None:
        """Read the pack views of ``app_ids`` into the live state, each with the change
        count it reflects; a refused read is kept as its error, for the screen to show."""
        packs = self.state.packs
        for app_id in app_ids:
            change = packs.changes.get(app_id, 0)
            try:
                views = await self.controls.packs(app_id)
            except BackgroundAssetsError as error:
                packs.read(app_id, change, [], f"{int(error.code)} {error.code.title}: "
                           f"{error.message}")
                continue
            packs.read(app_id, change, views)

    async def pack(self, action: PackAction, app_id: str, pack_id: str) -> Outcome:
        """ensure (download what the pack's latest version lacks), remove (free its local
        versions) or rollback (make its previous version current again)."""
        name = f"{action.value} {app_id}/{pack_id}"
        try:
            result = await self.controls.pack_action(app_id, pack_id, action)
        except BackgroundAssetsError as error:
            return refused(name, error)
        return Outcome(name, pack_outcome(action, app_id, pack_id, result))

    async def check_packs(self, app_id: str) -> Outcome:
        """Read the app's pack catalog again: local packs with a newer version update,
        local packs the catalog dropped are removed."""
        name = f"check packs of {app_id}"
        try:
            updating, removed = await self.controls.check_packs(app_id)
        except BackgroundAssetsError as error:
            return refused(name, error)
        return Outcome(name, check_outcome(app_id, updating, removed))

    # Device -----------------------------------------------------------------

    async def toggle(self, condition: str, app_id: str | None = None) -> Outcome:
        """Flip one device condition (per app for background refresh when ``app_id``)."""
        device, value = toggled(self.controls.snapshot().device, condition, app_id)
        try:
            device = await self.controls.set_device(device)
        except BackgroundAssetsError as error:
            return refused(f"toggle {condition}", error)
        return toggle_outcome(condition, value, app_id, device)


def pack_outcome(action: PackAction, app_id: str, pack_id: str, result: int | str) -> str:
    """What a pack action's answer (downloads scheduled, bytes freed, version now current)
    reads like in the UI."""
    key = f"{app_id}/{pack_id}"
    if action is PackAction.ENSURE:
        if result == 0:
            return f"ensure {key}: nothing to download (up to date, or on its way already)"
        return f"ensure {key}: {result} download(s) scheduled"
    if action is PackAction.REMOVE:
        return f"remove {key}: freed {format_size(int(result))}"
    return f"rollback {key}: version {result} is current again"


def check_outcome(app_id: str, updating: list[str], removed: list[str]) -> str:
    if not updating and not removed:
        return f"check packs of {app_id}: every local pack is up to date"
    parts = ([f"updating {', '.join(updating)}"] if updating else []) + (
        [f"removed {', '.join(removed)} (gone from the pack catalog)"] if removed else [])
    return f"check packs of {app_id}: {'; '.join(parts)}"


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
