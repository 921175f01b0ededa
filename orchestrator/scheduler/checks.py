"""Plan checks: which of an extension's downloads may be scheduled, and why not.

Pure functions of the app, the device, the request and what has been used so
far. Every refusal carries the original framework's code: essential only for
install and update (109), exact size for essential (0), allowances before the
first launch (112 for essential bytes, 203 for other bytes, the catalog's own
bytes included), hosts before the first launch (202), destinations inside the
container (1012), no duplicate ids (100), no two downloads into one file (1013),
room on the disk (1031: essential bytes over what is available above the reserve, or a
download larger than the disk could hold); for the event itself, low power or
background refresh off (111) and in-app content off before launch (206).
"""

from __future__ import annotations

import posixpath
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from urllib.parse import urlsplit

from orchestrator.bulk import without_collector
from orchestrator.errors import ErrorCode
from orchestrator.model.app import App
from orchestrator.model.device import Device
from orchestrator.model.download import Download
from orchestrator.model.enums import ContentRequest, Priority
from orchestrator.model.hosts import host_allowed
from orchestrator.model.plan import AllowanceUsage, Plan, Rejection, Rejections, StorageUsage
from orchestrator.model.units import MAX_SIZE, format_size
from orchestrator.scheduler.rules import ESSENTIAL_REQUESTS
from orchestrator.scheduler.space import Space, shortage


@dataclass(frozen=True)
class PlanContext:
    """What the checks need besides the downloads.

    ``launched`` says whether the app has ever been launched (then the initial
    restrictions no longer hold). ``download_bytes_used`` and
    ``essential_bytes_used`` are bytes already counted against the allowances
    by earlier runs; ``catalog_bytes`` is this run's catalog download. ``space`` is the
    disk as measured when planning, None to plan without it.
    """

    app: App
    request: ContentRequest
    device: Device = field(default_factory=Device)
    launched: bool = False
    catalog_bytes: int = 0
    download_bytes_used: int = 0
    essential_bytes_used: int = 0
    scheduled_ids: frozenset[str] = frozenset()
    space: Space | None = None


def destination_problem(destination: str) -> str | None:
    """Why ``destination`` would leave the app group container, or None."""
    if plainly_inside(destination):
        return None  # the common case, decided without splitting the path
    return full_destination_problem(destination)


def plainly_inside(destination: str) -> bool:
    """A quick yes for most destinations: relative, no ``..``, no drive, backslash or NUL.

    Never yes for a destination :func:`full_destination_problem` refuses.
    """
    return destination[:1].isalnum() and destination[1:2] != ":" and ".." not in destination \
        and "\\" not in destination and "\x00" not in destination


def plain_destination(destination: str) -> bool:
    """Inside the container (:func:`plainly_inside`) and its own key
    (:func:`destination_key`), without normalising."""
    return plainly_inside(destination) and "//" not in destination \
        and "/./" not in destination and not destination.endswith(("/", "/."))


def full_destination_problem(destination: str) -> str | None:
    """:func:`destination_problem` without the quick yes."""
    if not destination or "\x00" in destination:
        return "the destination is empty"
    if destination.startswith(("/", "\\")) or (len(destination) > 1 and destination[1] == ":"):
        return f"destination {destination!r} is absolute; give a path inside the container"
    parts = destination.replace("\\", "/").split("/")
    if ".." in parts:
        return f"destination {destination!r} climbs out of the container with '..'"
    if posixpath.normpath(destination) in (".", ""):
        return f"destination {destination!r} names the container itself"
    return None


def destination_key(destination: str) -> str:
    """The file a destination names inside the container, whatever its spelling.

    ``a/./b``, ``a//b`` and ``a\\b`` name the same file as ``a/b``.
    """
    if "\\" in destination:
        destination = destination.replace("\\", "/")
    if "//" in destination or "/./" in destination or destination.startswith("./") \
            or destination.endswith(("/", "/.")):
        return posixpath.normpath(destination)
    return destination  # the common case, without normalising


def event_refusal(context: PlanContext) -> Rejection | None:
    """Why the extension may not run at all for this event, or None."""
    device, app = context.device, context.app
    if device.low_power_mode:
        return Rejection(ErrorCode.DOWNLOAD_BACKGROUND_ACTIVITY_PROHIBITED,
                         "low power mode is on: the extension does not run")
    if not device.background_refresh.allows(app.id):
        return Rejection(ErrorCode.DOWNLOAD_BACKGROUND_ACTIVITY_PROHIBITED,
                         f"background refresh is off for {app.id}: the extension does not run")
    if not device.in_app_content and not context.launched:
        return Rejection(ErrorCode.SESSION_DOWNLOAD_NOT_PERMITTED_BEFORE_APP_LAUNCH,
                         "in-app content is off: nothing runs before the app's first launch")
    return None


_id = attrgetter("id")
_destination = attrgetter("destination")
# Start order as one integer: essential downloads rank above every priority (0 to 100).
_ESSENTIAL_RANK = int(Priority.MAX) + 1


def _origin(url: str) -> str:
    """``url`` up to the first slash after its ``://``: its scheme and netloc."""
    cut = url.find("/", url.find("://") + 3)
    return url if cut < 0 else url[:cut]


def _start_order(downloads: Sequence[Download]) -> array[int]:
    """The indices of ``downloads`` in start order: essential first, then by priority
    (highest first), ties in their given order.

    A counting sort into one array per rank: the indices stay machine integers (8 bytes
    each, against 40 for a sorted list of int objects: 32 MiB on 1,000,000 downloads).
    """
    by_rank = [array("q") for _ in range(_ESSENTIAL_RANK * 2)]
    for index, download in enumerate(downloads):
        rank = download.priority
        if download.essential:
            rank += _ESSENTIAL_RANK
        by_rank[rank].append(index)
    order = array("q")
    for indices in reversed(by_rank):
        order += indices
    return order


class _Checker:
    """Walks the downloads in start order, keeping the running allowance totals."""

    def __init__(self, context: PlanContext) -> None:
        self.context = context
        self.restricted = not context.launched
        self.download_bytes = context.download_bytes_used + context.catalog_bytes
        self.essential_bytes = context.essential_bytes_used
        self.seen: set[str] = set(context.scheduled_ids)
        self.destinations: dict[str, str] = {}
        self._hosts: dict[str, tuple[str, bool]] = {}
        restrictions = context.app.restrictions
        self._allowance = restrictions.download_allowance
        self._essential_allowance = restrictions.essential_download_allowance
        allowance = format_size(restrictions.download_allowance)
        self._allowance_left = (f" of downloadAllowance ({allowance}) are left before the "
                                "first launch")
        self._essential_allowance_text = format_size(restrictions.essential_download_allowance)
        self.storage_bytes = self.waiting_bytes = 0

    def _host(self, url: str) -> tuple[str, bool]:
        """The URL's host and whether the allow list admits it, cached by scheme and netloc."""
        origin = _origin(url)
        known = self._hosts.get(origin)
        if known is None:
            host = urlsplit(url).hostname or ""
            known = host, host_allowed(host, self.context.app.restrictions.domain_allow_list)
            self._hosts[origin] = known
        return known

    def check_all(self, downloads: Sequence[Download]) -> tuple[list[Download], Rejections]:
        """The accepted downloads and the rejections, walking ``downloads`` in start order:
        essential first, then by priority (highest first), ties in their given order.

        A plain download (not essential, a size, a plain destination no other has, an
        allowed host, a new id) is decided with the loop's locals; any other goes through
        :meth:`refusal`. The two give the same answers (tests/scheduler/test_checks_paths.py
        compares them on random plans).

        Two walks. The first, in the given order, tells which downloads are plain and
        keeps what the second needs of them in flat arrays (sizes, ids, destinations);
        the second walks their indices in start order. Walked in start order, the
        downloads themselves (and their urls and sizes) are read from all over the heap:
        the checks of benchmarks/plan.py's 1,000,000-asset catalog, in 101 priorities,
        took 3.2 s that way and 1.9 s in catalog order (measured).

        When no id is scheduled yet and the ids are unique (one set built and dropped
        at once), plain downloads skip the set of seen ids, which would otherwise stay
        for the whole walk beside the growing rejections (32 MiB on 1,000,000).
        """
        count = len(downloads)
        plain, sizes = self._plain_sizes(downloads)
        ids = list(map(_id, downloads))
        destinations_of = list(map(_destination, downloads))
        order = _start_order(downloads)
        seen, destinations = self.seen, self.destinations
        unique = not seen and len(set(ids)) == count
        accepted: list[Download] = []
        entries: list[Rejection | str] = []
        needed, lefts = array("q"), array("q")
        accept, reject = accepted.append, entries.append
        add_needed, add_left = needed.append, lefts.append
        restricted, allowance, space = self.restricted, self._allowance, self.context.space
        short_of, rest = Rejection.short_of, self._allowance_left
        over_allowance = ErrorCode.SESSION_DOWNLOAD_DISALLOWED_BY_ALLOWANCE
        compact = allowance <= MAX_SIZE  # what is left fits the array of byte counts
        left_of, left = -1, 0
        for index in order:
            download_id, destination = ids[index], destinations_of[index]
            if not plain[index] or (not unique and download_id in seen) \
                    or destination in destinations:
                download = downloads[index]
                rejection = self.refusal(download)
                if rejection is None:
                    accept(download)
                else:
                    reject(rejection)
                    add_needed(0)
                    add_left(0)
                continue
            if not unique:
                seen.add(download_id)
            size = sizes[index]
            if restricted:
                total = self.download_bytes + size
                if total > allowance:
                    if left_of != self.download_bytes:
                        left_of = self.download_bytes
                        left = max(0, allowance - left_of)
                    if compact:  # read back by Rejections as short_of(..., size, left, rest)
                        reject(download_id)
                        add_needed(size)
                        add_left(left)
                    else:
                        reject(short_of(over_allowance, download_id, size, left, rest))
                        add_needed(0)
                        add_left(0)
                    continue
                self.download_bytes = total
            download = downloads[index]
            if space is not None:
                reason = self._storage_refusal(download, size, space)
                if reason is not None:
                    if restricted:
                        self.download_bytes -= size
                    reject(Rejection(*reason, download_id))
                    add_needed(0)
                    add_left(0)
                    continue
            destinations[destination] = download_id
            accept(download)
        return accepted, Rejections(entries, needed, lefts, over_allowance, rest)

    def _plain_sizes(self, downloads: Sequence[Download]) -> tuple[bytearray, array[int]]:
        """Which downloads are plain (not essential, a size that fits 64 bits, a plain
        destination, a host the allow list admits when restricted), and their sizes."""
        plain = bytearray(len(downloads))
        sizes = array("q", [0]) * len(downloads)
        restricted, host = self.restricted, self._host
        allowed_prefix = None  # "<scheme>://<netloc>/" of the last url found allowed
        for index, download in enumerate(downloads):
            size = download.size
            if download.essential or type(size) is not int or not 0 <= size <= MAX_SIZE \
                    or not plain_destination(download.destination):
                continue
            if restricted:
                url = download.url
                if allowed_prefix is None or not url.startswith(allowed_prefix):
                    if not host(url)[1]:
                        continue
                    origin = _origin(url)
                    # Any url that starts with "<origin>/" has that origin (its "://"
                    # and the first slash after it are in the same places).
                    allowed_prefix = origin + "/" if "://" in origin else None
            plain[index] = 1
            sizes[index] = size
        return plain, sizes

    def _over_allowance(self, size: int) -> str:
        # Plain byte counts: a big catalog gets tens of thousands of these, and
        # human sizes or thousands separators would triple the cost of each.
        left = max(0, self._allowance - self.download_bytes)
        return f"needs {size} bytes but only {left}{self._allowance_left}"

    def refusal(self, download: Download) -> Rejection | None:
        reason = self._static_refusal(download)
        if reason is None and self.restricted:
            reason = self._restricted_refusal(download)
        if reason is None and self.context.space is not None and download.size is not None:
            reason = self._storage_refusal(download, download.size, self.context.space)
            if reason is not None and self.restricted:  # counted against an allowance
                if download.essential:
                    self.essential_bytes -= download.size
                else:
                    self.download_bytes -= download.size
        if reason is None:
            self.destinations[destination_key(download.destination)] = download.id
            return None
        code, text = reason
        return Rejection(code, text, download.id)

    def _static_refusal(self, download: Download) -> tuple[ErrorCode, str] | None:
        seen = self.seen
        if download.id in seen:
            return ErrorCode.DOWNLOAD_ALREADY_SCHEDULED, f"{download.id!r} is already scheduled"
        seen.add(download.id)
        problem = destination_problem(download.destination)
        if problem:
            return ErrorCode.PATH_OUTSIDE_CONTAINER, problem
        first = self.destinations.get(destination_key(download.destination))
        if first is not None:
            return (ErrorCode.DESTINATION_CONFLICT,
                    f"{download.destination!r} is also the destination of {first!r}: give "
                    "each download its own destination")
        if download.essential:
            if self.context.request not in ESSENTIAL_REQUESTS:
                return (ErrorCode.DOWNLOAD_ESSENTIAL_DOWNLOAD_NOT_PERMITTED,
                        "essential downloads are allowed only for install and update")
            if download.size is None:
                return ErrorCode.DOWNLOAD_INVALID, "an essential download needs its exact size"
        return None

    def _restricted_refusal(self, download: Download) -> tuple[ErrorCode, str] | None:
        host, allowed = self._host(download.url)
        if not allowed:
            return (ErrorCode.SESSION_DOWNLOAD_DISALLOWED_BY_DOMAIN,
                    f"host {host!r} is not in domainAllowList before the first launch")
        if download.size is None:
            return (ErrorCode.SESSION_DOWNLOAD_DISALLOWED_BY_ALLOWANCE,
                    "before the first launch a download needs a size to count against its "
                    "allowance")
        if download.essential:
            total = self.essential_bytes + download.size
            if total > self._essential_allowance:
                return (ErrorCode.DOWNLOAD_WOULD_EXCEED_ALLOWANCE,
                        f"{format_size(download.size)} would bring essential bytes to "
                        f"{format_size(total)}, over essentialDownloadAllowance "
                        f"{self._essential_allowance_text}")
            self.essential_bytes = total
            return None
        total = self.download_bytes + download.size
        if total > self._allowance:
            return (ErrorCode.SESSION_DOWNLOAD_DISALLOWED_BY_ALLOWANCE,
                    self._over_allowance(download.size))
        self.download_bytes = total
        return None

    def _storage_refusal(self, download: Download, size: int,
                         space: Space) -> tuple[ErrorCode, str] | None:
        """A download the disk could never hold, or an essential one that does not fit
        now (essential downloads never wait); a background one that does not fit now is
        accepted, to wait for space."""
        if size > space.usable:
            return ErrorCode.NOT_ENOUGH_STORAGE, shortage(size, space)
        total = self.storage_bytes + size
        if total <= space.available + space.purgeable:
            self.storage_bytes = total
            return None
        if download.essential:
            return (ErrorCode.NOT_ENOUGH_STORAGE,
                    f"essential: {shortage(size, space)}, and the downloads before it take "
                    f"{format_size(self.storage_bytes)}; essential downloads do not wait")
        self.waiting_bytes += size
        return None

    def storage(self) -> StorageUsage | None:
        space = self.context.space
        if space is None:
            return None
        return StorageUsage(space.available, space.reserve, space.purgeable,
                            self.storage_bytes, self.waiting_bytes)

    def usage(self) -> AllowanceUsage:
        restrictions = self.context.app.restrictions
        return AllowanceUsage(
            restricted=self.restricted,
            download_allowance=restrictions.download_allowance,
            download_bytes=self.download_bytes,
            essential_download_allowance=restrictions.essential_download_allowance,
            essential_bytes=self.essential_bytes,
        )


def refused_plan(context: PlanContext, refusal: Rejection) -> Plan:
    """The plan of an event refused as a whole (``refusal`` without a download): the
    extension does not run, nothing is downloaded."""
    return Plan(context.request, (), (refusal,), _Checker(context).usage(),
                extension_runs=False)


@without_collector
def check_plan(context: PlanContext, downloads: Sequence[Download]) -> Plan:
    """Accept or refuse each download, in start order.

    Downloads are taken greedily in start order: one that would overflow an
    allowance is refused and smaller, later ones may still fit.
    """
    refused = event_refusal(context)
    if refused is not None:
        return refused_plan(context, refused)
    checker = _Checker(context)
    accepted, rejections = checker.check_all(downloads)
    return Plan(context.request, tuple(accepted), rejections, checker.usage(),
                storage=checker.storage())
