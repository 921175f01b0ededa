"""Events read from a daemon's stream become EventKind events; unknown kinds are skipped."""

from orchestrator.control.remote import event_from_dict
from orchestrator.events import EventKind


def test_a_known_kind_becomes_its_member_with_its_fields():
    event = event_from_dict({"ts": 5.0, "event": "download.finished", "app": "com.example.a",
                             "download": "intro", "bytes": 10})
    assert event is not None
    assert event.event is EventKind.DOWNLOAD_FINISHED
    assert (event.ts, event.app, event.data) == (5.0, "com.example.a",
                                                 {"download": "intro", "bytes": 10})


def test_a_kind_from_a_newer_daemon_or_no_kind_is_skipped():
    assert event_from_dict({"ts": 1.0, "event": "pack.mounted", "app": None}) is None
    assert event_from_dict({"ts": 1.0, "app": None}) is None
