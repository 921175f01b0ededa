"""Whether downloads fit on the disk: pure decisions over numbers the service measures.

The service measures the disk (the state dir's file system, or the Device manifest's
simulated one) into a :class:`Space`; these functions say what fits in it. No download
cuts into the reserve: one that would is started only once purgeable files make room,
else a background download waits and an essential or foreground one fails (1031).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.errors import ErrorCode
from orchestrator.model.app import App
from orchestrator.model.plan import Rejection
from orchestrator.model.units import format_size


@dataclass(frozen=True)
class Space:
    """The disk as one decision sees it.

    ``capacity`` is the whole disk, ``free`` what is free on it now, ``reserve`` what the
    device keeps free for itself, and ``purgeable`` the bytes of purgeable files (the
    caches of app group containers) the orchestrator may remove to make room.
    """

    capacity: int
    free: int
    reserve: int = 0
    purgeable: int = 0

    @property
    def available(self) -> int:
        """Bytes downloads may still use before they cut into the reserve."""
        return max(0, self.free - self.reserve)

    @property
    def usable(self) -> int:
        """The most any download could ever get: the whole disk but its reserve."""
        return max(0, self.capacity - self.reserve)

    def describe(self) -> str:
        """The numbers for a message: what is available, and the reserve and purgeable."""
        return (f"{format_size(self.available)} available above the reserve of "
                f"{format_size(self.reserve)} ({format_size(self.purgeable)} purgeable)")


@dataclass(frozen=True)
class Need:
    """A download that may start: its ``key``, the ``bytes`` it still has to write (0 when
    its size is unknown) and whether it is ``urgent`` (essential or foreground: it fails
    instead of waiting)."""

    key: str
    bytes: int
    urgent: bool = False


@dataclass(frozen=True)
class Admission:
    """Which downloads start, wait or fail for lack of space, and the purgeable bytes to
    remove first so that those in ``start`` fit."""

    start: tuple[str, ...] = ()
    wait: tuple[str, ...] = ()
    refuse: tuple[str, ...] = ()
    purge: int = 0


def admit(needs: Sequence[Need], space: Space, committed: int = 0) -> Admission:
    """Which of ``needs`` (in start order) may start now on ``space``.

    ``committed`` is what the downloads already running still have to write. Taken
    greedily in order, as the plan checks do: a download that does not fit waits (or,
    when urgent, is refused) and a smaller later one may still start. Purgeable bytes
    are counted only for a download they make fit; one that could not fit even on the
    empty disk is refused, urgent or not.
    """
    left, reclaimable, purge = space.available - committed, space.purgeable, 0
    start: list[str] = []
    wait: list[str] = []
    refuse: list[str] = []
    for need in needs:
        if need.bytes > space.usable:
            refuse.append(need.key)
        elif need.bytes <= left:
            start.append(need.key)
            left -= need.bytes
        elif need.bytes <= left + reclaimable:
            short = need.bytes - left
            purge, reclaimable, left = purge + short, reclaimable - short, 0
            start.append(need.key)
        else:
            (refuse if need.urgent else wait).append(need.key)
    return Admission(tuple(start), tuple(wait), tuple(refuse), purge)


def shortage(size: int, space: Space, committed: int = 0) -> str:
    """Why a download of ``size`` bytes does not fit on ``space`` (for events and errors)."""
    if size > space.usable:
        return (f"needs {format_size(size)}, more than the disk could ever hold above its "
                f"reserve ({format_size(space.usable)})")
    taken = f", {format_size(committed)} of it taken by the downloads that run" \
        if committed else ""
    return f"needs {format_size(size)} but only {space.describe()}{taken}"


def install_refusal(app: App, space: Space) -> Rejection | None:
    """Why an install of ``app`` does not fit on ``space``, or None.

    Its ``essentialMaxInstallSize`` (the app with its essential assets) must fit in what
    is available above the reserve, counting what purging would free.
    """
    need = app.essential_max_install_size
    if need <= space.available + space.purgeable:
        return None
    return Rejection(ErrorCode.INSTALL_DOES_NOT_FIT,
                     f"{app.id} does not fit: essentialMaxInstallSize is {format_size(need)}, "
                     f"but only {space.describe()}; free some space and install again")


def over_max_install_size(app_size: int, delivered: int, max_install_size: int) -> int:
    """Bytes the app with what was delivered to it takes beyond its ``maxInstallSize``
    (0 within it, and when the manifest sets none)."""
    if max_install_size <= 0:
        return 0
    return max(0, app_size + delivered - max_install_size)
