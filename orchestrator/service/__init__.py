"""The orchestrator service: wires manifests, scheduler, engine and journal; publishes events."""

from orchestrator.service.orchestrator import AppDelegate, LoadedApp, Orchestrator

__all__ = ["AppDelegate", "LoadedApp", "Orchestrator"]
