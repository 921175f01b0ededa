"""Reading manifests and catalogs: YAML and JSON with node positions, schema checks with
explained errors, and the checks that span documents.

The schemas in the repository's ``schemas/`` folder are the single source of truth;
nothing here restates them.
"""

from orchestrator.manifests.catalog import load_catalog, validate_catalog_bytes
from orchestrator.manifests.documents import (
    load_app,
    load_device,
    load_scenario,
    validate_paths,
)
from orchestrator.manifests.problems import Problem

__all__ = ["Problem", "load_app", "load_catalog", "load_device", "load_scenario",
           "validate_catalog_bytes", "validate_paths"]
