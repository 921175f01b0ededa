"""Every action of the UI sent to a daemon over the control API, each returning an Outcome.

The same verbs and messages as :class:`tui.control.Controller`, but awaited:
each is one request on the control socket, run by the app in a worker. A
refused request reads as in-process (code, camelCase name, message); a daemon
that went away is a refusal too, never a traceback.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from orchestrator.control.views import device_from_view
from orchestrator.errors import BackgroundAssetsError
from orchestrator.events import Event
from orchestrator.model.units import format_size
from tui.control import Outcome, refused, request_outcome, toggle_outcome, toggled
from tui.remote import DaemonMirror
from tui.state import LiveState


def device_change(condition: str, value: bool, app_id: str | None = None) -> dict[str, Any]:
    """The ``POST /v1/device`` body that sets one condition (the UI's names) to ``value``."""
    if condition == "background_refresh":
        return {"backgroundRefresh": {"apps": {app_id: value}} if app_id else
                {"enabled": value}}
    names = {"low_power": "lowPowerMode", "in_app_content": "inAppContent",
             "online": "online", "metered": "metered"}
    return {names[condition]: value}


class RemoteController:
    """Runs the UI's actions on the daemon that ``mirror`` follows."""

    def __init__(self, mirror: DaemonMirror, state: LiveState,
                 manifests: dict[str, Path] | None = None) -> None:
        self.orchestrator = mirror
        self.mirror = mirror
        self.client = mirror.client
        self.state = state
        # The daemon installed its apps from its own manifests; the UI has none of its own.
        self.manifests: dict[str, Path] = dict(manifests or {})

    def seed(self) -> None:
        """Fill the live state from the daemon's answers read on attach."""
        self.state.seed_rows(self.mirror.initial_rows)
        for app_id, loaded in self.mirror.apps.items():
            self.state.seed_progress(app_id, loaded.progress.fraction, loaded.progress.phases())

    async def _ask(self, action: str, call: Callable[[], Awaitable[Any]],
                   done: str) -> Outcome:
        try:
            await call()
        except BackgroundAssetsError as error:
            return refused(action, error)
        self.mirror.want_status()
        return Outcome(action, done)

    # Apps -----------------------------------------------------------------

    async def _request(self, verb: str, app_id: str) -> Outcome:
        """install, update or periodic; a refusal published meanwhile is the outcome."""
        action = f"{verb} {app_id}"
        loaded = self.mirror.apps.get(app_id)
        before = loaded.app.version if loaded else None
        seen: list[Event] = []
        unsubscribe = self.mirror.events.subscribe(seen.append)
        try:
            answer = await self.client.app_action(app_id, verb)
        except BackgroundAssetsError as error:
            return refused(action, error)
        finally:
            unsubscribe()
        self.mirror.want_status()
        after = answer.get("version")
        if verb == "periodic":
            text = f"periodic {app_id}: content request sent"
        elif before is not None and before == after:
            text = f"{verb} {app_id}: version {after} is installed already; change " \
                   "spec.version in the daemon's app manifest to update"
        else:
            text = f"{verb} {app_id}: {before} -> {after} requested"
        return request_outcome(action, app_id, seen, text)

    async def install(self, app_id: str) -> Outcome:
        """Install again from the manifest the daemon installed the app from."""
        return await self._request("install", app_id)

    async def update(self, app_id: str) -> Outcome:
        """An update content request when that manifest's version changed."""
        return await self._request("update", app_id)

    async def periodic(self, app_id: str) -> Outcome:
        return await self._request("periodic", app_id)

    async def launch(self, app_id: str) -> Outcome:
        return await self._ask(f"launch {app_id}",
                               lambda: self.client.app_action(app_id, "launch"),
                               f"{app_id} launched")

    async def terminate(self, app_id: str) -> Outcome:
        return await self._ask(f"terminate {app_id}",
                               lambda: self.client.app_action(app_id, "terminate"),
                               f"{app_id} terminated")

    # Downloads --------------------------------------------------------------

    def download_key(self, row_key: str) -> str:
        """The mirror's key of a table row: the row key itself (``app/id``)."""
        return row_key

    async def _download(self, verb: str, row_key: str, done: str) -> Outcome:
        app_id, _, download_id = row_key.partition("/")
        return await self._ask(f"{verb} {row_key}",
                               lambda: self.client.act(download_id, verb, app=app_id),
                               f"{row_key}: {done}")

    async def promote(self, row_key: str) -> Outcome:
        return await self._download("promote", row_key, "promoted to the foreground")

    async def pause(self, row_key: str) -> Outcome:
        return await self._download("pause", row_key, "paused")

    async def resume(self, row_key: str) -> Outcome:
        outcome = await self._download("resume", row_key, "resumed")
        if outcome.ok:
            self.state.resumed(row_key)
        return outcome

    async def cancel(self, row_key: str) -> Outcome:
        return await self._download("cancel", row_key, "cancelled")

    async def purge(self) -> Outcome:
        try:
            freed = await self.client.purge(None)
        except BackgroundAssetsError as error:
            return refused("purge", error)
        return Outcome("purge", f"purge: freed {format_size(freed)}")

    # Device -----------------------------------------------------------------

    async def toggle(self, condition: str, app_id: str | None = None) -> Outcome:
        """Flip one device condition on the daemon, from the value the mirror last saw."""
        _, value = toggled(self.mirror.device, condition, app_id)
        try:
            answer = await self.client.set_device(device_change(condition, value, app_id))
        except BackgroundAssetsError as error:
            return refused(f"toggle {condition}", error)
        self.mirror.device = device_from_view(answer)
        return toggle_outcome(condition, value, app_id, self.mirror.device)
