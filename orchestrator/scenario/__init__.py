"""Scenarios: timelines of device life played on a virtual clock (``bgassets scenario``)."""

from orchestrator.scenario.runner import Failure, Line, Result, ScenarioRun

__all__ = ["Failure", "Line", "Result", "ScenarioRun"]
