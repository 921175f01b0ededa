"""One asset to fetch, as the framework's ``BAURLDownload`` describes it."""

from __future__ import annotations

from dataclasses import dataclass, replace

from orchestrator.model.enums import DownloadState, Priority


def clamp_priority(priority: int) -> int:
    """Priorities live in ``Priority.MIN..Priority.MAX``; anything outside is pulled in."""
    if type(priority) is int and 0 <= priority <= 100:
        return priority
    return max(int(Priority.MIN), min(int(Priority.MAX), int(priority)))


@dataclass(frozen=True, init=False, slots=True)
class Download:
    """An asset to download for one app group.

    ``size`` is the exact size in bytes when known (required for essential
    downloads); ``destination`` is relative to the app group container.
    ``id`` is unique within one app group; ``key`` is unique across apps.
    """

    id: str
    url: str
    app_group: str
    essential: bool = False
    size: int | None = None
    sha256: str | None = None
    priority: int = int(Priority.DEFAULT)
    destination: str = ""
    state: DownloadState = DownloadState.CREATED

    def __init__(self, id: str, url: str, app_group: str, essential: bool = False,  # noqa: A002
                 size: int | None = None, sha256: str | None = None,
                 priority: int = int(Priority.DEFAULT), destination: str = "",
                 state: DownloadState = DownloadState.CREATED) -> None:
        if type(priority) is not int or not 0 <= priority <= 100:
            priority = clamp_priority(priority)
        if type(state) is not DownloadState:
            state = DownloadState(state)
        # Each field stored by its slot's own setter: the generated __init__ of a frozen
        # dataclass pays an object.__setattr__ per field, half again as long, and a
        # plan builds a Download per asset (benchmarks/plan.py). Slots, not a __dict__:
        # 104 bytes a download instead of 344, a third of a GB on 1,000,000 assets.
        set_id, set_url, set_group, set_essential, set_size, set_sha256, set_priority, \
            set_destination, set_state = _SETTERS
        set_id(self, id)
        set_url(self, url)
        set_group(self, app_group)
        set_essential(self, essential)
        set_size(self, size)
        set_sha256(self, sha256)
        set_priority(self, priority)
        set_destination(self, destination)
        set_state(self, state)

    @property
    def key(self) -> str:
        """A key unique across app groups: ``<app group>/<id>`` (the journal's primary key)."""
        return f"{self.app_group}/{self.id}"

    def removing_essential(self) -> Download:
        """A non-essential copy, ready to be scheduled again (``removingEssential()``)."""
        return replace(self, essential=False, state=DownloadState.CREATED)

    def with_state(self, state: DownloadState) -> Download:
        """The same download in another state."""
        return replace(self, state=state)


_SETTERS = tuple(getattr(Download, name).__set__ for name in (
    "id", "url", "app_group", "essential", "size", "sha256", "priority", "destination",
    "state"))
