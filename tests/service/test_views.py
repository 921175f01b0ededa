"""The read model's JSON: what the control API writes, a client reads back unchanged.

Views are generated (hypothesis) rather than written out, and an answer a newer or
broken daemon might send reads as defaults instead of failing.
"""

from __future__ import annotations

import json
from types import MappingProxyType

from hypothesis import given
from hypothesis import strategies as st

from orchestrator.model.device import BackgroundRefresh, Device, Network, Storage
from orchestrator.model.enums import ContentRequest, DownloadState
from orchestrator.service.views import (
    AppState,
    AppView,
    DownloadView,
    HistoryEntry,
    Snapshot,
    StorageView,
    app_from_json,
    download_from_json,
    history_from_json,
    snapshot_from_json,
    to_json,
)

text = st.text(min_size=1, max_size=20)
counts = st.integers(min_value=0, max_value=2**63 - 1)
seconds = st.floats(min_value=0, max_value=1e10, allow_nan=False)
phases = st.dictionaries(st.sampled_from(["app", "install", "essential"]),
                         st.floats(0, 1)).map(MappingProxyType)

app_views = st.builds(
    AppView, id=text, name=text, version=text, state=st.sampled_from(AppState),
    running=st.booleans(), waiting_request=st.none() | st.sampled_from(ContentRequest),
    progress=st.floats(0, 1), phases=phases, pending=counts,
    download_allowance=st.none() | counts, download_bytes_used=counts,
    essential_download_allowance=st.none() | counts, essential_bytes_used=counts,
    runtime_today=seconds, runtime_allotment=seconds, next_periodic_run=st.none() | seconds,
    app_group=text, size_on_disk=counts, max_install_size=counts)

download_views = st.builds(
    DownloadView, app=text, id=text, state=st.sampled_from(DownloadState),
    essential=st.booleans(), priority=st.integers(0, 100), bytes=counts,
    total=st.none() | counts, speed=st.none() | seconds, reason=st.none() | text,
    foreground=st.booleans(), error=st.none() | st.integers(1000, 1100),
    message=st.none() | text, purgeable=st.booleans(), url=text, destination=text,
    sha256=st.none() | st.text("0123456789abcdef", min_size=64, max_size=64))

devices = st.builds(
    Device, low_power_mode=st.booleans(),
    background_refresh=st.builds(BackgroundRefresh, enabled=st.booleans(),
                                 apps=st.dictionaries(text, st.booleans()).map(MappingProxyType)),
    in_app_content=st.booleans(),
    network=st.builds(Network, online=st.booleans(), metered=st.booleans()),
    storage=st.builds(Storage, capacity=st.none() | counts, reserve=counts, used=counts),
    daily_allotment_seconds=st.integers(0, 86_400), name=st.none() | text)


def over_the_wire(data: dict) -> dict:
    return json.loads(json.dumps(data))


@given(app_views)
def test_an_app_view_reads_back_as_written(view):
    assert app_from_json(over_the_wire(to_json(view))) == view


@given(download_views)
def test_a_download_view_reads_back_as_written(view):
    assert download_from_json(over_the_wire(to_json(view))) == view


storage_views = st.builds(
    StorageView, simulated=st.booleans(), capacity=counts, free=counts, reserve=counts,
    available=counts, purgeable=counts, delivered=counts)


@given(st.lists(app_views, unique_by=lambda view: view.id), devices, seconds, storage_views)
def test_a_snapshot_reads_back_as_written(apps, device, at, storage):
    ordered = MappingProxyType({view.id: view for view in sorted(apps, key=lambda v: v.id)})
    snapshot = Snapshot(ordered, device, at, storage)
    back = snapshot_from_json(over_the_wire(to_json(snapshot)))
    assert back == snapshot and list(back.apps) == sorted(view.id for view in apps)


def test_an_answer_half_understood_reads_as_defaults():
    app = app_from_json({"app": "a", "state": "hibernating", "waitingRequest": "someday",
                         "progress": "lots", "phases": ["x"], "pending": True, "extra": 1})
    assert (app.state, app.waiting_request, app.progress, dict(app.phases), app.pending) == (
        AppState.INSTALLING, None, 0.0, {}, 0)
    download = download_from_json({"app": "a", "download": "d", "state": "teleporting",
                                   "bytes": -1.5, "total": "big"})
    assert (download.state, download.bytes, download.total) == (DownloadState.WAITING, 0, 0)
    assert download.key == "a/d" and download.pending


def test_paused_is_a_state_of_its_own_on_the_wire():
    view = DownloadView("a", "d", DownloadState.PAUSED, reason="offline")
    data = to_json(view)
    assert (data["state"], data["reason"]) == ("paused", "offline") and "paused" not in data


def test_a_paused_install_is_an_app_state_that_is_not_launchable():
    view = AppView("a", "A", "1.0", AppState.PAUSED, progress=0.4)
    assert to_json(view)["state"] == "paused"
    read = app_from_json(to_json(view))
    assert read.state == AppState.PAUSED and read.install_paused and not read.launchable
    assert all(AppView("a", "A", "1", state).launchable
               for state in (AppState.LAUNCHABLE, AppState.LAUNCHED))


@given(st.builds(HistoryEntry, at=seconds, state=st.sampled_from(DownloadState),
                 reason=st.none() | text))
def test_a_history_entry_reads_back_as_written(entry):
    assert history_from_json(over_the_wire(to_json(entry))) == entry
