"""The plan of a declarative extension: its rules over a catalog, then the checks.

One function for ``bgassets plan`` and for the service, so that what the command
prints is what the service schedules for the same app, catalog, device and request.
An extension with a handler answers with its own downloads instead of the rules;
those go through the same :func:`check_plan`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from orchestrator.model.catalog import Catalog
from orchestrator.model.download import Download
from orchestrator.model.extension import Extension
from orchestrator.model.plan import Plan
from orchestrator.scheduler.checks import PlanContext, check_plan
from orchestrator.scheduler.rules import PresentFile, decide_downloads


def rules_plan(extension: Extension, catalog: Catalog, context: PlanContext,
               present: Mapping[str, PresentFile] | None = None,
               extra: Sequence[Download] = ()) -> Plan:
    """The checked plan of ``extension``'s rules for ``context``'s request over ``catalog``.

    ``present`` maps destinations to what is on disk there (``skipPresent`` keeps
    those from being fetched again); ``context.catalog_bytes`` counts against the
    allowance as the fetched catalog did. ``extra`` downloads (an app's asset packs) are
    checked with the rules' downloads, against the same allowances.
    """
    downloads = decide_downloads(extension, catalog, context.request, present)
    return check_plan(context, [*downloads, *extra] if extra else downloads)
