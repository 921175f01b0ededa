"""``bgassets plan``: a dry run of one content request, from the manifests and a catalog.

Nothing is downloaded except the catalog when it is given as a URL (or taken
from ``manifestURL``); nothing is written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import replace
from itertools import chain, islice
from pathlib import Path
from typing import Any

from orchestrator.errors import ErrorCode, UsageError

REQUESTS = ("install", "update", "periodic")
# The refusals that say the plan does not fit on the device's storage: exit 1.
STORAGE_CODES = frozenset({ErrorCode.NOT_ENOUGH_STORAGE, ErrorCode.INSTALL_DOES_NOT_FIT})


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="dry run: which downloads an event would schedule, and every rejection",
        description=(
            "Show what the app's extension would ask for on a content request, in start "
            "order, with the bytes counted against each initial allowance and against the "
            "storage (the Device's, or without a storage capacity the state dir's disk), and "
            "every rejection with its error code and reason. Nothing is downloaded but the "
            "catalog, and not even that for an install that does not fit."
        ),
        epilog="Exit codes: 0 plan shown, 1 the manifests or catalog are invalid or the plan "
        "does not fit on the device's storage (an install over it, error 1032, or downloads "
        "refused for space, error 1031), 2 usage error.",
    )
    parser.add_argument("manifest", type=Path, metavar="APP.yaml", help="the App manifest")
    parser.add_argument("--event", choices=REQUESTS, required=True,
                        help="the content request to plan for")
    parser.add_argument("--catalog", metavar="FILE|URL",
                        help="the catalog to plan from (default: fetch spec.manifestURL; unless "
                             "--launched, every redirect must stay within domainAllowList)")
    parser.add_argument("--device", type=Path, metavar="FILE", help="a Device manifest")
    parser.add_argument("--launched", action="store_true",
                        help="plan as if the app had been launched (no initial restrictions)")
    parser.add_argument("--json", action="store_true", help="print the plan as one JSON object")
    parser.add_argument("--max-catalog-size", metavar="SIZE", default="64MiB",
                        help="refuse a larger catalog (error 1014; default 64MiB); before the "
                             "first launch also what downloadAllowance allows (error 203)")
    parser.add_argument("--catalog-deadline", metavar="SECONDS", type=float, default=120.0,
                        help="give up a catalog fetch after this long, or when it stays under "
                             "1 KiB/s (error 1021; default 120)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from orchestrator.manifests import load_app, load_catalog, load_device
    from orchestrator.model.device import Device
    from orchestrator.model.enums import ContentRequest
    from orchestrator.scheduler.checks import PlanContext, refused_plan
    from orchestrator.scheduler.planning import rules_plan
    from orchestrator.scheduler.space import install_refusal
    from orchestrator.service.space import device_space

    if not args.manifest.is_file():
        raise UsageError(f"{args.manifest}: no such App manifest")
    app, extension = load_app(args.manifest)
    device = load_device(args.device) if args.device else Device()
    request = ContentRequest[args.event.upper()]
    space = device_space(device.storage, Path(args.state_dir))
    refusal = install_refusal(app, space) \
        if space is not None and request == ContentRequest.INSTALL else None
    if refusal is not None:  # before anything is fetched, as the service refuses it
        context = PlanContext(app, request, device=device, launched=args.launched, space=space)
        return _show(args, app.id, refused_plan(context, refusal), space, _where(args, device))
    limits = _limits(args)
    if args.catalog and "://" not in args.catalog:
        data = _read_file(Path(args.catalog), limits.max_size)
        catalog, size = load_catalog(data, args.catalog, app.manifest_url), len(data)
    elif args.catalog:
        # Another URL than manifestURL: fetched as a launched app's would be, with no
        # allow list and no allowance (both are about manifestURL).
        catalog, size = _fetch(replace(app, manifest_url=args.catalog), True, limits)
    else:
        catalog, size = _fetch(app, args.launched, limits)
    context = PlanContext(app, request, device=device, launched=args.launched,
                          catalog_bytes=size, space=space)
    return _show(args, app.id, rules_plan(extension, catalog, context), space,
                 _where(args, device))


def _where(args: argparse.Namespace, device: Any) -> str:
    """The storage a plan was measured against, for people."""
    if device.storage.simulated:
        return f"the simulated disk of {args.device}"
    return f"the disk of {args.state_dir}"


def _show(args: argparse.Namespace, app_id: str, plan: Any, space: Any, where: str) -> int:
    """Print the plan; 1 when it does not fit on the storage (1031, 1032)."""
    if args.json:
        for piece in json_pieces(plan_document(app_id, plan, space)):
            sys.stdout.write(piece)
    else:
        print_plan(app_id, plan, sys.stdout, where)
    return 1 if any(r.code in STORAGE_CODES for r in plan.rejections) else 0


def _limits(args: argparse.Namespace) -> Any:
    from orchestrator.model.units import parse_size
    from orchestrator.service.catalogs import CatalogLimits

    try:
        size = parse_size(args.max_catalog_size)
    except ValueError as error:
        raise UsageError(f"--max-catalog-size: {error}") from error
    if not args.catalog_deadline > 0:
        raise UsageError("--catalog-deadline: must be a positive number of seconds")
    return CatalogLimits(max_size=size, deadline=args.catalog_deadline)


def _fetch(app: Any, launched: bool, limits: Any) -> tuple[Any, int]:
    """The catalog at ``app``'s manifestURL, fetched and parsed as the orchestrator does
    (``service.catalogs.fetch_catalog``): before the first launch every redirect stays
    within domainAllowList (202) and the catalog within downloadAllowance (203); never
    more than ``limits.max_size`` bytes are read. Kept in a temporary folder."""
    import asyncio
    import tempfile

    from orchestrator.engine import Engine, MemoryStore
    from orchestrator.errors import BackgroundAssetsError
    from orchestrator.service.catalogs import FetchedCatalog, fetch_catalog
    from orchestrator.storage.containers import Layout

    allowance = None if launched else app.restrictions.download_allowance
    fetched: list[FetchedCatalog] = []

    async def fetch(layout: Layout) -> None:
        # The result is kept outside the task: in Python 3.11 asyncio.run formats its
        # main task's repr on the way out, result included (0.15 s for a 19 MB catalog).
        async with Engine(state_store=MemoryStore()) as engine:
            fetched.append(await fetch_catalog(engine, layout, app, launched=launched,
                                               allowance_remaining=allowance, limits=limits))

    with tempfile.TemporaryDirectory(prefix="bgassets-plan-") as folder:
        try:
            asyncio.run(fetch(Layout(Path(folder))))
        except BackgroundAssetsError as error:
            if app.manifest_url in error.message:
                raise
            # The engine's messages name a host ("cannot connect to ..."), not which
            # document it was fetching.
            raise BackgroundAssetsError(f"cannot fetch the catalog {app.manifest_url}: "
                                        f"{error.message}", error.code) from None
    return fetched[0].catalog, fetched[0].size


def _read_file(path: Path, max_size: int) -> bytes:
    from orchestrator.errors import BackgroundAssetsError, ErrorCode

    try:
        with path.open("rb") as file:
            data = file.read(max_size + 1)
    except OSError as error:
        raise UsageError(f"{path}: cannot read the catalog: {error.strerror}") from error
    if len(data) > max_size:
        raise BackgroundAssetsError(f"{path}: the catalog is larger than the maximum of "
                                    f"{max_size} bytes (--max-catalog-size)",
                                    ErrorCode.CATALOG_TOO_LARGE)
    return data


def plan_document(app_id: str, plan: Any, space: Any = None) -> dict[str, Any]:
    """The JSON form of a plan (``plan --json``); ``storage`` is None when the disk
    could not be measured.

    ``downloads`` and ``rejections`` are iterators, each entry made as
    :func:`json_pieces` writes it: as lists, the entries of a 1,000,000-asset plan held
    about 390 MiB more at the peak (measured with /usr/bin/time).
    """
    usage, storage = plan.allowances, plan.storage
    return {
        "app": app_id,
        "request": plan.request.name.lower(),
        "extensionRuns": plan.extension_runs,
        "downloads": (
            {"order": i + 1, "id": d.id, "essential": d.essential, "priority": d.priority,
             "size": d.size, "url": d.url, "destination": d.destination}
            for i, d in enumerate(plan.accepted)
        ),
        "allowances": {
            "restricted": usage.restricted,
            "downloadAllowance": usage.download_allowance,
            "downloadBytes": usage.download_bytes,
            "downloadRemaining": usage.download_remaining,
            "essentialDownloadAllowance": usage.essential_download_allowance,
            "essentialBytes": usage.essential_bytes,
            "essentialRemaining": usage.essential_remaining,
        },
        "storage": None if space is None else {
            "capacity": space.capacity, "free": space.free, "reserve": space.reserve,
            "available": space.available,
            "bytes": storage.bytes if storage else 0,
            "waiting": storage.waiting if storage else 0,
            "fits": not any(r.code in STORAGE_CODES for r in plan.rejections)
            and (storage is None or storage.fits),
        },
        "rejections": (r.as_dict() for r in plan.rejections),
    }


def json_document(document: dict[str, Any]) -> str:
    """``document`` as indented JSON with one line per list entry (see :func:`json_pieces`)."""
    return "".join(json_pieces(document))


def json_pieces(document: dict[str, Any]) -> Iterator[str]:
    """``document`` as indented JSON with one line per list entry, in pieces.

    As readable as ``indent=2`` for a plan, and written by the C encoder: with
    ``indent`` json falls back to its Python encoder, a second per 100,000 entries.
    A list may be given as an iterator; its entries are encoded 10,000 at a time.
    """
    yield "{\n"
    last = len(document) - 1
    for index, (key, value) in enumerate(document.items()):
        comma = "," if index < last else ""
        head = f"  {json.dumps(key)}: "
        if isinstance(value, Iterator):
            value = _peeked(value)
        if isinstance(value, Iterator | list) and value:
            yield f"{head}[\n    "
            entries, separator = iter(value), ""
            while chunk := ",\n    ".join(map(json.dumps, islice(entries, 10_000))):
                yield separator + chunk
                separator = ",\n    "
            yield f"\n  ]{comma}\n"
        elif isinstance(value, dict) and value:
            entries_text = ",\n    ".join(f"{json.dumps(k)}: {json.dumps(v)}"
                                         for k, v in value.items())
            yield f"{head}{{\n    {entries_text}\n  }}{comma}\n"
        else:
            yield f"{head}{json.dumps(value)}{comma}\n"
    yield "}\n"


def _peeked(entries: Iterator[Any]) -> Iterator[Any] | list[Any]:
    """``entries`` again, or an empty list when there are none (written ``[]``)."""
    first = next(entries, _NONE)
    return [] if first is _NONE else chain((first,), entries)


_NONE = object()


def print_plan(app_id: str, plan: Any, out: Any, where: str | None = None) -> None:
    """The plan for people: accepted downloads in start order, allowances, storage (on
    ``where``), rejections."""
    lines = plan_lines(app_id, plan, where)
    # Written 10,000 lines at a time: the whole text of a 1,000,000-asset plan joined at
    # once held about 270 MiB more at its peak (measured with /usr/bin/time).
    while chunk := "".join(f"{line}\n" for line in islice(lines, 10_000)):
        out.write(chunk)


def plan_lines(app_id: str, plan: Any, where: str | None = None) -> Iterator[str]:
    from orchestrator.manifests.problems import printable
    from orchestrator.model.units import format_size

    for line in _plan_lines(app_id, plan, format_size, where):
        # A destination or a URL's file name may hold control characters (a catalog's
        # "\u001b[31m"); one search of the line is all that most lines cost.
        yield printable(line)


def _storage_line(storage: Any, where: str | None, format_size: Any) -> str:
    on = f" on {where}" if where else ""
    line = (f"  storage{on}: {format_size(storage.bytes + storage.waiting)} to download, "
            f"{format_size(storage.available)} available above the reserve of "
            f"{format_size(storage.reserve)}")
    if storage.waiting:
        return line + (f"; {format_size(storage.waiting)} of background downloads would wait "
                       "for space")
    return line + "; it fits"


def _plan_lines(app_id: str, plan: Any, format_size: Any,
                where: str | None = None) -> Iterator[str]:

    yield f"{app_id}: {plan.request.name.lower()} plan"
    if not plan.extension_runs:
        refusal = plan.rejections[0]
        yield (f"  the extension does not run: error {int(refusal.code)} {refusal.code.title}: "
               f"{refusal.reason}")
        return
    yield f"  {'#':>4}  {'download':<32} {'kind':<13} {'prio':>4} {'size':>10}  destination"
    for index, d in enumerate(plan.accepted, 1):
        kind = "essential" if d.essential else "non-essential"
        size = format_size(d.size) if d.size is not None else "?"
        yield f"  {index:>4}  {d.id:<32} {kind:<13} {d.priority:>4} {size:>10}  {d.destination}"
    usage = plan.allowances
    if usage.restricted:
        yield (f"  essential bytes {format_size(usage.essential_bytes)} of "
               f"{format_size(usage.essential_download_allowance)} essentialDownloadAllowance; "
               f"other bytes (catalog included) {format_size(usage.download_bytes)} of "
               f"{format_size(usage.download_allowance)} downloadAllowance")
    else:
        yield "  unrestricted: the app has been launched"
    if plan.storage is not None:
        yield _storage_line(plan.storage, where, format_size)
    for r in plan.rejections:
        yield f"  rejected {r.download_id}: error {int(r.code)} {r.code.title}: {r.reason}"
    total = sum(d.size or 0 for d in plan.accepted)
    yield (f"  {len(plan.accepted)} download(s), {format_size(total)}; "
           f"{len(plan.rejections)} rejected")
