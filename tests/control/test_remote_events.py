"""Events read from a daemon's stream become EventKind events; unknown kinds are skipped."""

from orchestrator.control.remote import event_from_dict
from orchestrator.events import EventKind

FINISHED = {"download": "intro", "essential": False, "bytes": 10, "total": 10,
            "sha256": None, "path": "/c/intro.bin", "purgeable": False}


def test_a_known_kind_becomes_its_member_with_its_fields():
    event = event_from_dict({"ts": 5.0, "event": "download.finished", "app": "com.example.a",
                             **FINISHED, "newer": 1})
    assert event is not None
    assert event.event is EventKind.DOWNLOAD_FINISHED
    assert (event.ts, event.app, event.data) == (5.0, "com.example.a", {**FINISHED, "newer": 1})


def test_an_event_without_the_fields_of_its_kind_is_skipped():
    for broken in ({"download": None}, {"bytes": "10"}, {"total": True}):
        data = {"ts": 5.0, "event": "download.finished", "app": "a", **FINISHED, **broken}
        assert event_from_dict(data) is None, broken
    assert event_from_dict({"ts": 1.0, "event": "download.progress", "app": "a",
                            "download": "x"}) is None
    assert event_from_dict({"ts": "soon", "event": "app.launched", "app": "a"}) is None
    assert event_from_dict({"ts": 1.0, "event": "app.launched", "app": 7}) is None


def test_a_kind_from_a_newer_daemon_or_no_kind_is_skipped():
    assert event_from_dict({"ts": 1.0, "event": "pack.mounted", "app": None}) is None
    assert event_from_dict({"ts": 1.0, "app": None}) is None
