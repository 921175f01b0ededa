"""Catalogs: the hot path that must validate 100,000 assets in well under a second.

JSON is parsed by the C decoder and checked by the compiled validator; the
located, explained errors are computed only when that answer is no.
"""

from __future__ import annotations

from orchestrator.bulk import without_collector
from orchestrator.errors import ManifestError
from orchestrator.manifests.documents import check_source
from orchestrator.manifests.problems import Problem, raise_problems
from orchestrator.manifests.sources import Source, parse
from orchestrator.model.catalog import Catalog


def _read_catalog(data: bytes, name: str) -> Source:
    source = parse(name, data, json_first=True)
    if source.kind not in (None, "catalog"):
        source.report(("kind",), f"kind: expected a catalog (version and assets), found "
                      f"{source.kind.capitalize()} document")
        source.kind = None
    check_source(source)
    return source


@without_collector
def validate_catalog_bytes(data: bytes, name: str) -> list[Problem]:
    """Problems of a catalog given as bytes (JSON, or YAML when it is not JSON)."""
    return sorted(set(_read_catalog(data, name).problems))


@without_collector
def load_catalog(data: bytes, name: str, base_url: str | None = None) -> Catalog:
    """The catalog in ``data``; relative asset urls are joined to ``base_url``.

    Raises ManifestError listing every located problem.
    """
    source = _read_catalog(data, name)
    raise_problems(sorted(set(source.problems)))
    document, source.data = source.data, None
    try:
        return Catalog.from_document(document, base_url, consume=True)
    except (ValueError, TypeError, KeyError, OverflowError) as error:
        raise ManifestError(f"{name}: {error}") from None
