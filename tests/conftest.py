"""Suite-wide settings: Hypothesis is deterministic under CI so a red run can be replayed;
every event published in any test keeps to its kind's declared payload."""

import os

import pytest
from hypothesis import settings

from orchestrator.events import Event, EventBus, declared_fields, field_problems

settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI", "").lower() == "true" else "dev")


@pytest.fixture(autouse=True)
def every_event_keeps_its_payload(request, monkeypatch):
    """Every event any test makes the service publish carries the fields its kind's payload
    declares (``orchestrator.events.FIELDS``), and no undeclared one.

    The real ``publish`` still runs; this only looks at each event first, and fails the
    test that published a malformed one.
    """
    if request.node.get_closest_marker("bare_events"):
        yield
        return
    problems: list[str] = []
    publish = EventBus.publish

    def checked(bus: EventBus, event: Event) -> None:
        found = field_problems(event.event, event.data)
        undeclared = set(event.data) - set(declared_fields(event.event))
        if found or undeclared:
            problems.append(f"{event.event}: {', '.join(found + sorted(undeclared))}")
        publish(bus, event)

    monkeypatch.setattr(EventBus, "publish", checked)
    yield
    assert not problems, f"events with payloads off their declared fields: {problems[:5]}"
