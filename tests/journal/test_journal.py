"""The journal on a real SQLite file: schema, apps, downloads, engine state, crash safety."""

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from orchestrator.errors import JournalError
from orchestrator.journal import Journal
from orchestrator.journal.migrations import MIGRATIONS
from orchestrator.model.download import Download
from orchestrator.model.enums import ContentRequest, DownloadState

APP = "com.example.wwdc-sessions"
GROUP = "group.com.example.wwdc-sessions"


def open_journal(tmp_path):
    journal = Journal.in_state_dir(tmp_path / "state")
    journal.put_app(APP, version="1.0", app_group=GROUP, manifest_path="app.yaml",
                    state="installing", at=10.0)
    return journal


def dl(download_id, **kw):
    return Download(id=download_id, url=f"http://127.0.0.1/{download_id}", app_group=GROUP,
                    size=100, destination=f"{download_id}.bin", **kw)



def moves(journal, key):
    """``(from, to, reason)`` of each of a download's transitions, oldest first."""
    return [(move.previous, move.state, move.reason) for move in journal.transitions(key)]

def test_fresh_journal_is_wal_and_migrated(tmp_path):
    with open_journal(tmp_path) as journal:
        assert journal.path.name == "journal.sqlite"
    db = sqlite3.connect(tmp_path / "state" / "journal.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_a_journal_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "journal.sqlite"
    sqlite3.connect(path).execute("PRAGMA user_version = 99")
    with pytest.raises(JournalError, match="newer bgassets"):
        Journal(path)


def test_apps_launches_and_allowance_usage(tmp_path):
    journal = open_journal(tmp_path)
    assert not journal.app(APP).launched
    journal.add_allowance_usage(APP, download_bytes=5, essential_bytes=7)
    journal.add_allowance_usage(APP, download_bytes=1)
    journal.record_launch(APP, at=20.0)
    journal.record_launch(APP, at=30.0)
    record = journal.app(APP)
    assert (record.download_bytes_used, record.essential_bytes_used) == (6, 7)
    assert record.first_launched_at == 20.0 and record.launched
    assert journal.launches(APP) == [20.0, 30.0]
    journal.put_app(APP, version="2.0", app_group=GROUP, manifest_path="app.yaml",
                    state="updating")
    assert journal.app(APP).version == "2.0" and journal.app(APP).download_bytes_used == 6


def test_the_pending_content_request_is_kept_until_it_is_made(tmp_path):
    journal = open_journal(tmp_path)
    assert journal.app(APP).pending_request is None
    journal.put_app(APP, version="2.0", app_group=GROUP, manifest_path="app.yaml",
                    state="installing", pending_request=ContentRequest.UPDATE)
    assert journal.app(APP).pending_request == ContentRequest.UPDATE
    journal.request_made(APP, ContentRequest.PERIODIC)  # not the one pending
    assert journal.app(APP).pending_request == ContentRequest.UPDATE
    journal.request_made(APP, ContentRequest.UPDATE)
    assert journal.app(APP).pending_request is None
    journal.set_pending_request(APP, ContentRequest.PERIODIC)
    journal.close()
    with Journal.in_state_dir(tmp_path / "state") as again:
        assert again.apps()[0].pending_request == ContentRequest.PERIODIC


def test_a_first_schema_journal_knows_which_installs_were_not_planned(tmp_path):
    # Written before requests were journalled: an app still installing without a
    # download had not been planned, and its request is pending once migrated.
    path = tmp_path / "journal.sqlite"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    rows = [("new", "installing", None), ("updated", "installing", 5.0),
            ("planned", "installing", None), ("done", "launchable", None)]
    for app_id, state, launched in rows:
        db.execute("INSERT INTO apps (id, version, app_group, manifest_path, state,"
                   " installed_at, first_launched_at) VALUES (?, '1', ?, 'app.yaml', ?, 1, ?)",
                   (app_id, f"group.{app_id}", state, launched))
    db.execute("INSERT INTO downloads (key, app_id, id, url, essential, priority, destination,"
               " state, created_at, updated_at) VALUES ('group.planned/a', 'planned', 'a',"
               " 'http://127.0.0.1/a', 1, 50, 'a', 1, 1, 1)")
    db.commit()
    db.close()
    with Journal(path) as journal:
        assert {r.id: r.pending_request for r in journal.apps()} == {
            "new": ContentRequest.INSTALL, "updated": ContentRequest.UPDATE,
            "planned": None, "done": None}


def test_a_paused_install_is_kept_across_a_reopen_until_resumed_or_installed_again(tmp_path):
    journal = open_journal(tmp_path)
    assert journal.app(APP).install_paused_at is None
    journal.set_install_paused(APP, 42.0)
    journal.close()
    with Journal.in_state_dir(tmp_path / "state") as again:
        assert again.app(APP).install_paused_at == 42.0
        again.set_install_paused(APP, None)
        assert again.app(APP).install_paused_at is None
        again.set_install_paused(APP, 43.0)
        again.put_app(APP, version="2.0", app_group=GROUP, manifest_path="app.yaml",
                      state="installing", pending_request=ContentRequest.UPDATE)
        assert again.app(APP).install_paused_at is None


def test_a_second_schema_journal_has_no_paused_install(tmp_path):
    path = tmp_path / "journal.sqlite"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0] + ";" + MIGRATIONS[1] + "; PRAGMA user_version = 2;")
    db.execute("INSERT INTO apps (id, version, app_group, manifest_path, state, installed_at)"
               " VALUES ('old', '1', 'group.old', 'app.yaml', 'installing', 1)")
    db.commit()
    db.close()
    with Journal(path) as journal:
        assert [(r.id, r.install_paused_at) for r in journal.apps()] == [("old", None)]


def test_downloads_record_every_transition(tmp_path):
    journal = open_journal(tmp_path)
    journal.add_downloads(APP, [dl("a", essential=True), dl("b", priority=90)])
    key = f"{GROUP}/a"
    journal.set_download_state(key, DownloadState.DOWNLOADING, reason="started")
    journal.set_download_state(key, DownloadState.FAILED, reason="size", error_code=1010,
                               error_message="size mismatch")
    record = journal.download(key)
    assert record.download.state == DownloadState.FAILED and record.download.essential
    assert (record.error_code, record.app_id) == (1010, APP)
    assert moves(journal, key) == [(None, 1, "scheduled"), (1, 2, "started"), (2, -1, "size")]
    waiting = journal.downloads(APP, {DownloadState.WAITING})
    assert [r.download.id for r in waiting] == ["b"]
    with pytest.raises(JournalError):
        journal.set_download_state(f"{GROUP}/nope", DownloadState.FINISHED)


def test_engine_state_store_round_trip_updates_bytes_on_disk(tmp_path):
    journal = open_journal(tmp_path)
    journal.add_downloads(APP, [dl("a")])
    key = f"{GROUP}/a"
    assert journal.load(key) is None
    journal.save(key, {"etag": '"x"', "segments": [{"start": 0, "done": 40},
                                                    {"start": 50, "done": 10}]})
    assert journal.load(key)["etag"] == '"x"'
    assert journal.download(key).bytes_on_disk == 50
    journal.delete(key)
    assert journal.load(key) is None


def test_uninstall_removes_every_row_of_the_app(tmp_path):
    journal = open_journal(tmp_path)
    journal.add_downloads(APP, [dl("a")])
    journal.save(f"{GROUP}/a", {"bytes": 3})
    journal.record_launch(APP)
    journal.add_runtime(APP, "2026-11-25", 4.5)
    journal.remove_app(APP)
    assert journal.app(APP) is None and journal.downloads() == []
    assert journal.engine_state_keys() == [] and journal.transitions(f"{GROUP}/a") == []
    assert journal.runtime_spent(APP, "2026-11-25") == 0


def test_runtime_accumulates_per_day(tmp_path):
    journal = open_journal(tmp_path)
    journal.add_runtime(APP, "2026-11-25", 4.5)
    journal.add_runtime(APP, "2026-11-25", 1.5)
    journal.add_runtime(APP, "2026-11-26", 1)
    assert journal.runtime_spent(APP, "2026-11-25") == 6.0


WRITER = textwrap.dedent("""
    import sys
    from orchestrator.journal import Journal
    journal = Journal.in_state_dir(sys.argv[1])
    journal.put_app("w", version="1", app_group="g", manifest_path="m", state="s")
    n = 0
    while True:
        journal.add_runtime("w", "day", 1)
        n += 1
        if n == 200:
            print("ready", flush=True)
""")


def test_kill_9_loses_nothing_committed_and_two_writers_never_see_busy(tmp_path):
    state = tmp_path / "state"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(state)],
                                stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        for writer in writers:
            assert writer.stdout.readline().strip() == "ready"
    finally:
        for writer in writers:
            os.kill(writer.pid, signal.SIGKILL)
            writer.wait(timeout=10)
    for writer in writers:
        assert writer.returncode == -signal.SIGKILL
    with Journal.in_state_dir(state) as journal:
        assert journal.runtime_spent("w", "day") >= 400


def test_deferred_transitions_land_with_the_next_transaction_or_on_close(tmp_path):
    journal = open_journal(tmp_path)
    journal.add_downloads(APP, [dl("a"), dl("b")])
    journal.defer_download_state(f"{GROUP}/a", DownloadState.DOWNLOADING,
                                 from_state=DownloadState.WAITING, reason="started", at=11.0)
    journal.set_download_state(f"{GROUP}/a", DownloadState.FINISHED, reason="finished",
                               delivered=True)
    assert moves(journal, f"{GROUP}/a")[1:] == [(1, 2, "started"), (2, 3, "finished")]
    assert journal.transitions(f"{GROUP}/a")[1].at == 11.0  # when it moved, not when written
    assert journal.download(f"{GROUP}/a").delivered
    journal.defer_download_state(f"{GROUP}/b", DownloadState.DOWNLOADING,
                                 from_state=DownloadState.WAITING, reason="started", at=12.0)
    journal.close()
    with Journal.in_state_dir(tmp_path / "state") as again:
        assert again.download(f"{GROUP}/b").download.state == DownloadState.DOWNLOADING


def test_paused_is_never_journaled_a_paused_download_stays_as_it_was(tmp_path):
    journal = open_journal(tmp_path)
    journal.add_downloads(APP, [dl("a")])
    key = f"{GROUP}/a"
    journal.set_download_state(key, DownloadState.DOWNLOADING, reason="started")
    with pytest.raises(ValueError, match="never as paused"):
        journal.set_download_state(key, DownloadState.PAUSED, reason="offline")
    with pytest.raises(ValueError, match="never as paused"):
        journal.defer_download_state(key, DownloadState.PAUSED,
                                     from_state=DownloadState.DOWNLOADING, reason=None, at=1.0)
    with pytest.raises(ValueError, match="never as paused"):
        journal.set_download_state(key, DownloadState.WAITING, from_state=DownloadState.PAUSED)
    journal.close()
    with Journal.in_state_dir(tmp_path / "state") as again:
        assert again.download(key).download.state is DownloadState.DOWNLOADING
        assert [move.state for move in again.transitions(key)] == [1, 2]


async def test_an_engine_checkpoint_shows_as_bytes_on_disk(tmp_path):
    from orchestrator.devserver import DevServer
    from orchestrator.engine import DownloadRequest, Engine

    served = tmp_path / "served"
    served.mkdir()
    (served / "a.bin").write_bytes(b"x" * 3_000_000)
    journal = open_journal(tmp_path)
    journal.add_downloads(APP, [dl("a")])
    key = f"{GROUP}/a"
    (tmp_path / "out").mkdir()
    async with DevServer(served, rate_per_connection=2_000_000) as server, \
            Engine(state_store=journal) as engine:
        request = DownloadRequest(server.url + "a.bin", tmp_path / "out" / "a.bin",
                                  size=3_000_000, connections=1, key=key)
        handle = engine.start(request)
        while handle.progress.bytes < 1_000_000:
            await asyncio.sleep(0.02)
        handle.pause()
        await asyncio.sleep(0.1)
        saved = journal.load(key)
        assert saved is not None and saved["bytes"] >= 1_000_000
        assert journal.download(key).bytes_on_disk == saved["bytes"]
        handle.cancel()
