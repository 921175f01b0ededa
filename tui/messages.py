"""What screens ask of the app: they post these, the app runs them on the controls."""

from __future__ import annotations

from textual.message import Message

from orchestrator.service.controls import PackAction


class AppAction(Message):
    """``verb`` (install, update, periodic, launch, terminate, pause-install,
    resume-install, cancel-install) on app ``app_id``."""

    def __init__(self, verb: str, app_id: str | None) -> None:
        super().__init__()
        self.verb, self.app_id = verb, app_id


class DownloadAction(Message):
    """``verb`` (promote, pause, resume, cancel) on the download of table row ``row_key``."""

    def __init__(self, verb: str, row_key: str | None) -> None:
        super().__init__()
        self.verb, self.row_key = verb, row_key


class DeviceAction(Message):
    """Flip device ``condition`` (for app ``app_id`` only, when given), or ``purge``."""

    def __init__(self, condition: str, app_id: str | None = None) -> None:
        super().__init__()
        self.condition, self.app_id = condition, app_id


class PackRequest(Message):
    """``action`` (ensure, remove, rollback) on asset pack ``pack_id`` of app ``app_id``;
    ``pack_id`` None when no pack is selected."""

    def __init__(self, action: PackAction, app_id: str | None, pack_id: str | None) -> None:
        super().__init__()
        self.action, self.app_id, self.pack_id = action, app_id, pack_id


class PacksCheck(Message):
    """Check app ``app_id``'s pack catalog for updates (and packs it dropped)."""

    def __init__(self, app_id: str | None) -> None:
        super().__init__()
        self.app_id = app_id


class PacksStale(Message):
    """The pack views of ``app_ids`` are older than the events say: read them again."""

    def __init__(self, app_ids: list[str]) -> None:
        super().__init__()
        self.app_ids = app_ids


class DownloadHighlighted(Message):
    """The download under the table's cursor changed (the palette acts on it)."""

    def __init__(self, row_key: str | None) -> None:
        super().__init__()
        self.row_key = row_key


class RedrawNow(Message):
    """A person asked for something: draw the screen now rather than on the next tick."""
