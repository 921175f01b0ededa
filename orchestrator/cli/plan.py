"""``bgassets plan``: a dry run of one content request, from the manifests and a catalog.

Nothing is downloaded except the catalog when it is given as a URL (or taken
from ``manifestURL``); nothing is written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from orchestrator.errors import UsageError

REQUESTS = ("install", "update", "periodic")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="dry run: which downloads an event would schedule, and every rejection",
        description=(
            "Show what the app's extension would ask for on a content request, in start "
            "order, with the bytes counted against each initial allowance and every rejection "
            "with its error code and reason. Nothing is downloaded but the catalog."
        ),
        epilog="Exit codes: 0 plan shown, 1 the manifests or catalog are invalid, 2 usage error.",
    )
    parser.add_argument("manifest", type=Path, metavar="APP.yaml", help="the App manifest")
    parser.add_argument("--event", choices=REQUESTS, required=True,
                        help="the content request to plan for")
    parser.add_argument("--catalog", metavar="FILE|URL",
                        help="the catalog to plan from (default: fetch spec.manifestURL)")
    parser.add_argument("--device", type=Path, metavar="FILE", help="a Device manifest")
    parser.add_argument("--launched", action="store_true",
                        help="plan as if the app had been launched (no initial restrictions)")
    parser.add_argument("--json", action="store_true", help="print the plan as one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from orchestrator.manifests import load_app, load_catalog, load_device
    from orchestrator.model.enums import ContentRequest
    from orchestrator.scheduler.checks import PlanContext, check_plan
    from orchestrator.scheduler.rules import decide_downloads

    if not args.manifest.is_file():
        raise UsageError(f"{args.manifest}: no such App manifest")
    app, extension = load_app(args.manifest)
    device = load_device(args.device) if args.device else None
    source = args.catalog or app.manifest_url
    data = asyncio.run(_read(source))
    base_url = source if "://" in source else app.manifest_url
    catalog = load_catalog(data, source, base_url)
    request = ContentRequest[args.event.upper()]
    context = PlanContext(app, request, launched=args.launched, catalog_bytes=len(data),
                          **({"device": device} if device else {}))
    plan = check_plan(context, decide_downloads(extension, catalog, request))
    if args.json:
        print(json.dumps(plan_document(app.id, plan), indent=2))
    else:
        print_plan(app.id, plan, sys.stdout)
    return 0


async def _read(source: str) -> bytes:
    """The catalog's bytes from a file or an http(s) URL (through the engine's client)."""
    if "://" not in source:
        try:
            return Path(source).read_bytes()
        except OSError as error:
            raise UsageError(f"{source}: cannot read the catalog: {error.strerror}") from error
    import tempfile

    from orchestrator.engine import DownloadRequest, Engine, MemoryStore

    with tempfile.TemporaryDirectory(prefix="bgassets-plan-") as folder:
        async with Engine(state_store=MemoryStore()) as engine:
            result = await engine.fetch(DownloadRequest(source, Path(folder) / "catalog",
                                                        foreground=True, connections=1))
        if result.error is not None:
            raise result.error
        return (Path(folder) / "catalog").read_bytes()


def plan_document(app_id: str, plan: Any) -> dict[str, Any]:
    """The JSON form of a plan (``plan --json``)."""
    usage = plan.allowances
    return {
        "app": app_id,
        "request": plan.request.name.lower(),
        "extensionRuns": plan.extension_runs,
        "downloads": [
            {"order": i + 1, "id": d.id, "essential": d.essential, "priority": d.priority,
             "size": d.size, "url": d.url, "destination": d.destination}
            for i, d in enumerate(plan.accepted)
        ],
        "allowances": {
            "restricted": usage.restricted,
            "downloadAllowance": usage.download_allowance,
            "downloadBytes": usage.download_bytes,
            "downloadRemaining": usage.download_remaining,
            "essentialDownloadAllowance": usage.essential_download_allowance,
            "essentialBytes": usage.essential_bytes,
            "essentialRemaining": usage.essential_remaining,
        },
        "rejections": [r.as_dict() for r in plan.rejections],
    }


def print_plan(app_id: str, plan: Any, out: Any) -> None:
    from orchestrator.model.units import format_size

    print(f"{app_id}: {plan.request.name.lower()} plan", file=out)
    if not plan.extension_runs:
        refusal = plan.rejections[0]
        print(f"  the extension does not run: error {int(refusal.code)} {refusal.code.title}: "
              f"{refusal.reason}", file=out)
        return
    print(f"  {'#':>4}  {'download':<32} {'kind':<13} {'prio':>4} {'size':>10}  destination",
          file=out)
    for index, d in enumerate(plan.accepted, 1):
        kind = "essential" if d.essential else "non-essential"
        size = format_size(d.size) if d.size is not None else "?"
        print(f"  {index:>4}  {d.id:<32} {kind:<13} {d.priority:>4} {size:>10}  {d.destination}",
              file=out)
    usage = plan.allowances
    if usage.restricted:
        print(f"  essential bytes {format_size(usage.essential_bytes)} of "
              f"{format_size(usage.essential_download_allowance)} essentialDownloadAllowance; "
              f"other bytes (catalog included) {format_size(usage.download_bytes)} of "
              f"{format_size(usage.download_allowance)} downloadAllowance", file=out)
    else:
        print("  unrestricted: the app has been launched", file=out)
    for r in plan.rejections:
        print(f"  rejected {r.download_id}: error {int(r.code)} {r.code.title}: {r.reason}",
              file=out)
    total = sum(d.size or 0 for d in plan.accepted)
    print(f"  {len(plan.accepted)} download(s), {format_size(total)}; "
          f"{len(plan.rejections)} rejected", file=out)
