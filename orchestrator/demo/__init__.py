"""Deterministic demo content: the bytes behind the example catalogs in ``manifests/``."""

from orchestrator.demo.content import asset_chunks, generate_content, refresh_catalog

__all__ = ["asset_chunks", "generate_content", "refresh_catalog"]
