"""The event bus: JSON lines, fan-out, and readers that fail or fall behind."""

import json
import logging

import pytest

from orchestrator.events import Event, EventBus, describe

pytestmark = pytest.mark.bare_events


def test_event_json_carries_the_pinned_fields():
    event = Event(12.5, "download.finished", "com.example.app",
                  {"download": "a", "essential": True, "bytes": 3, "total": 3})
    assert json.loads(event.to_json()) == {"ts": 12.5, "event": "download.finished",
                                          "app": "com.example.app", "download": "a",
                                          "essential": True, "bytes": 3, "total": 3}
    assert "a essential" in describe(event)


async def test_a_failing_reader_does_not_stop_the_others(caplog):
    bus, seen = EventBus(), []
    bus.subscribe(lambda event: 1 / 0)
    bus.subscribe(seen.append)
    queue = bus.queue()
    with caplog.at_level(logging.ERROR, logger="bgassets.events"):
        bus.publish(Event(0, "app.launchable", "a"))
    assert [e.event for e in seen] == ["app.launchable"]
    assert queue.get_nowait().event == "app.launchable"
    assert "an event subscriber failed on app.launchable" in caplog.text


async def test_a_full_queue_drops_progress_first_then_the_oldest():
    bus = EventBus()
    queue = bus.queue(maxsize=3)
    for name in ("download.progress", "download.finished", "download.progress",
                 "download.failed", "app.launchable", "app.launched"):
        bus.publish(Event(0, name, "a"))
    assert [queue.get_nowait().event for _ in range(queue.qsize())] == [
        "download.failed", "app.launchable", "app.launched"]
    bus.unqueue(queue)
    bus.publish(Event(0, "asset.purged", "a"))
    assert queue.empty()
