"""The crash-safe journal: SQLite in WAL mode in the state dir.

Durability choice: ``synchronous=NORMAL``. In WAL mode a committed
transaction survives a crash of the process (kill -9) but the last ones may be
lost on power failure; downloads re-verify sizes and sha256 on resume, so a
lost checkpoint costs bytes, never correctness. Writers use
``BEGIN IMMEDIATE`` so that two processes never meet ``SQLITE_BUSY`` half-way
through a transaction.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from orchestrator.errors import ErrorCode, JournalError, disk_full
from orchestrator.journal.migrations import MIGRATIONS
from orchestrator.model.download import Download
from orchestrator.model.enums import ContentRequest, DownloadState

JOURNAL_NAME = "journal.sqlite"

# A transition written with the next transaction: key, at, from, to, reason, bytes on disk,
# delivered, error code, error message.
_Deferred = tuple[str, float, int | None, int, str | None, int | None, int | None,
                  int | None, str | None]


@dataclass(frozen=True)
class AppRecord:
    """One installed app as the journal knows it.

    ``pending_request`` is the content request not made yet: being made, or waiting
    for the network. ``install_paused_at`` is when its install or update was paused as a
    whole, None while it is not.
    """

    id: str
    version: str
    app_group: str
    manifest_path: str
    state: str
    installed_at: float
    first_launched_at: float | None
    download_bytes_used: int
    essential_bytes_used: int
    last_periodic_at: float | None
    pending_request: ContentRequest | None = None
    install_paused_at: float | None = None

    @property
    def launched(self) -> bool:
        """Whether the app has been launched at least once (the restrictions are gone)."""
        return self.first_launched_at is not None


@dataclass(frozen=True)
class DownloadRecord:
    """One download row: the download, its app, bytes on disk and how it ended."""

    app_id: str
    download: Download
    bytes_on_disk: int
    error_code: int | None
    error_message: str | None
    delivered: bool

    @property
    def key(self) -> str:
        return self.download.key


@dataclass(frozen=True)
class Transition:
    """One move of a download: when, from which state (None when it was scheduled), to
    which, and why."""

    at: float
    previous: DownloadState | None
    state: DownloadState
    reason: str | None


class Journal:
    """Apps, launches, downloads and their transitions, engine state and runtime.

    Also the engine's ``StateStore`` (``load``/``save``/``delete``), so that a
    download's validators and offsets live next to its row.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._deferred: list[_Deferred] = []
        # Transitions a full disk had no room for: reads see them until they are written.
        self._unwritten: dict[str, tuple[DownloadState, int | None, str | None]] = {}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                       timeout=30)
            self._db.row_factory = sqlite3.Row
            self._enable_wal()
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except (OSError, sqlite3.Error) as error:
            if _disk_full(self.path.parent, error):
                raise JournalError(f"{self.path}: cannot open the journal: the disk is full "
                                   f"({error}); free some space there") from error
            raise JournalError(f"{self.path}: cannot open the journal: {error}") from error

    def _enable_wal(self, attempts: int = 200) -> None:
        """Switch to WAL; SQLite answers "locked" at once (no busy wait) when another
        process is creating the same journal, so wait for it here."""
        for _ in range(attempts):
            try:
                mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            except sqlite3.OperationalError as error:
                if "locked" not in str(error):
                    raise
                time.sleep(0.05)
                continue
            if mode.lower() == "wal":
                return
        raise JournalError(f"{self.path}: another process keeps the journal locked")

    @classmethod
    def in_state_dir(cls, state_dir: str | Path) -> Journal:
        """The journal of a state dir (created on first use)."""
        return cls(Path(state_dir) / JOURNAL_NAME)

    def close(self) -> None:
        with self._lock:
            try:
                self.flush()
            except JournalError:
                pass  # deferred transitions are those a crash may lose without harm
            finally:
                self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``), committed on success.

        A full disk (or another I/O failure) rolls the whole transaction back and raises
        a :class:`JournalError` with DISK_ERROR; the deferred transitions it carried wait
        for the next transaction, so nothing is half written and nothing is lost.
        """
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                raise _write_error(self.path, error) from error
            deferred, self._deferred = self._deferred, []
            try:
                self._write_deferred(deferred)
                yield self._db
                self._db.execute("COMMIT")
                self._unwritten.clear()
            except BaseException as error:
                # SQLite may have rolled back already (SQLITE_FULL can do that).
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                self._deferred[:0] = deferred
                if isinstance(error, sqlite3.OperationalError):
                    raise _write_error(self.path, error) from error
                raise

    def _migrate(self) -> None:
        """Apply the missing migrations; another process may be doing the same right now."""
        for number in range(len(MIGRATIONS)):
            with self.transaction() as db:
                # Read the version inside the write lock: a concurrent opener may have
                # applied this migration between our checks.
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version > len(MIGRATIONS):
                    raise JournalError(
                        f"{self.path}: written by a newer bgassets (schema {version})")
                if version > number:
                    continue
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {number + 1}")

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # Apps ------------------------------------------------------------------

    def put_app(self, app_id: str, *, version: str, app_group: str, manifest_path: str,
                state: str, pending_request: ContentRequest | None = None,
                at: float | None = None) -> None:
        """Record an install or an update (usage counters are kept on update, a pause of
        the install before it is not), with the content request it makes pending in the
        same transaction; that request is the app's latest, so the periodic ones follow it
        (``last_periodic_at``)."""
        now = time.time() if at is None else at
        pending = None if pending_request is None else int(pending_request)
        periodic = None if pending_request is None else now
        with self.transaction() as db:
            db.execute(
                "INSERT INTO apps (id, version, app_group, manifest_path, state, installed_at,"
                " pending_request, last_periodic_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET"
                " version=excluded.version, app_group=excluded.app_group,"
                " manifest_path=excluded.manifest_path, state=excluded.state,"
                " pending_request=excluded.pending_request, install_paused_at=NULL,"
                " last_periodic_at=COALESCE(excluded.last_periodic_at, last_periodic_at)",
                (app_id, version, app_group, manifest_path, state, now, pending, periodic),
            )

    def app(self, app_id: str) -> AppRecord | None:
        rows = self._query("SELECT * FROM apps WHERE id = ?", (app_id,))
        return _app_record(rows[0]) if rows else None

    def apps(self) -> list[AppRecord]:
        return [_app_record(row) for row in self._query("SELECT * FROM apps ORDER BY id")]

    def set_pending_request(self, app_id: str, request: ContentRequest) -> None:
        """``request`` is pending until :meth:`request_made` says otherwise."""
        with self.transaction() as db:
            db.execute("UPDATE apps SET pending_request = ? WHERE id = ?",
                       (int(request), app_id))

    def request_made(self, app_id: str, request: ContentRequest,
                     state: str | None = None) -> None:
        """``request`` is no longer pending (another one pending instead is kept), and the
        app is in ``state`` when given, in the same transaction."""
        with self.transaction() as db:
            db.execute("UPDATE apps SET pending_request = NULL"
                       " WHERE id = ? AND pending_request = ?", (app_id, int(request)))
            if state is not None:
                db.execute("UPDATE apps SET state = ? WHERE id = ?", (state, app_id))

    def set_install_paused(self, app_id: str, at: float | None) -> None:
        """The app's install is paused since ``at``, or (None) no longer paused."""
        with self.transaction() as db:
            db.execute("UPDATE apps SET install_paused_at = ? WHERE id = ?", (at, app_id))

    def set_app_state(self, app_id: str, state: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE apps SET state = ? WHERE id = ?", (state, app_id))

    def add_allowance_usage(self, app_id: str, *, download_bytes: int = 0,
                            essential_bytes: int = 0) -> None:
        """Count bytes against the initial allowances (only meaningful before first launch)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE apps SET download_bytes_used = download_bytes_used + ?,"
                " essential_bytes_used = essential_bytes_used + ? WHERE id = ?",
                (download_bytes, essential_bytes, app_id),
            )

    def record_launch(self, app_id: str, at: float | None = None) -> None:
        """A launch: counted, and the app's state is ``launched`` (one transaction)."""
        now = time.time() if at is None else at
        with self.transaction() as db:
            db.execute("INSERT INTO launches (app_id, at) VALUES (?, ?)", (app_id, now))
            db.execute("UPDATE apps SET first_launched_at = COALESCE(first_launched_at, ?),"
                       " state = 'launched' WHERE id = ?", (now, app_id))

    def launches(self, app_id: str) -> list[float]:
        rows = self._query("SELECT at FROM launches WHERE app_id = ? ORDER BY at", (app_id,))
        return [row[0] for row in rows]

    def record_periodic(self, app_id: str, at: float) -> None:
        with self.transaction() as db:
            db.execute("UPDATE apps SET last_periodic_at = ? WHERE id = ?", (at, app_id))

    def remove_app(self, app_id: str) -> None:
        """Forget an app: its downloads, transitions, engine state, launches and runtime."""
        with self.transaction() as db:
            keys = [r[0] for r in db.execute("SELECT key FROM downloads WHERE app_id = ?",
                                             (app_id,))]
            db.executemany("DELETE FROM transitions WHERE key = ?", [(k,) for k in keys])
            db.executemany("DELETE FROM engine_state WHERE key = ?", [(k,) for k in keys])
            db.execute("DELETE FROM apps WHERE id = ?", (app_id,))

    # Runtime ---------------------------------------------------------------

    def add_runtime(self, app_id: str, day: str, seconds: float) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO runtime (app_id, day, seconds) VALUES (?, ?, ?)"
                " ON CONFLICT(app_id, day) DO UPDATE SET seconds = seconds + excluded.seconds",
                (app_id, day, seconds),
            )

    def runtime_spent(self, app_id: str, day: str) -> float:
        rows = self._query("SELECT seconds FROM runtime WHERE app_id = ? AND day = ?",
                           (app_id, day))
        return float(rows[0][0]) if rows else 0.0

    # Downloads -------------------------------------------------------------

    def add_downloads(self, app_id: str, downloads: list[Download], at: float | None = None,
                      *, download_bytes: int = 0, essential_bytes: int = 0) -> None:
        """Schedule downloads (one transaction; a known key is replaced by the new plan),
        counting ``download_bytes`` and ``essential_bytes`` against the initial allowances
        in the same transaction, so that a plan is counted once or not at all."""
        now = time.time() if at is None else at
        rows = [
            (d.key, app_id, d.id, d.url, int(d.essential), d.size, d.sha256, d.priority,
             d.destination, int(DownloadState.WAITING), now, now)
            for d in downloads
        ]
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO downloads (key, app_id, id, url, essential, size, sha256,"
                " priority, destination, state, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            db.executemany(
                "INSERT INTO transitions (key, at, from_state, to_state, reason)"
                " VALUES (?, ?, NULL, ?, 'scheduled')",
                [(row[0], now, int(DownloadState.WAITING)) for row in rows],
            )
            if download_bytes or essential_bytes:
                db.execute(
                    "UPDATE apps SET download_bytes_used = download_bytes_used + ?,"
                    " essential_bytes_used = essential_bytes_used + ? WHERE id = ?",
                    (download_bytes, essential_bytes, app_id),
                )

    def set_download_state(self, key: str, state: DownloadState, *, reason: str | None = None,
                           bytes_on_disk: int | None = None, error_code: int | None = None,
                           error_message: str | None = None, delivered: bool | None = None,
                           from_state: DownloadState | None = None,
                           at: float | None = None) -> None:
        """Move a download to ``state`` and record the transition (one transaction).

        ``from_state`` saves a read when the caller knows the current state. ``PAUSED`` is
        never journaled (ValueError): a paused download stays waiting or downloading here.
        """
        _journaled(state, from_state)
        now = time.time() if at is None else at
        try:
            self._set_download_state(key, state, reason, bytes_on_disk, error_code,
                                     error_message, delivered, from_state, now)
        except JournalError as error:
            if not disk_full(error):
                raise
            # No room on the disk: the transition waits for the next transaction, as the
            # deferred ones do (a crash loses it: the download is recovered as waiting).
            with self._lock:
                previous = self.download(key) if from_state is None else None
                if previous is not None:
                    from_state = previous.download.state
                self.defer_download_state(key, state, from_state=from_state, reason=reason,
                                          at=now, bytes_on_disk=bytes_on_disk,
                                          delivered=delivered, error_code=error_code,
                                          error_message=error_message)
                self._unwritten[key] = (state, error_code, error_message)

    def _set_download_state(self, key: str, state: DownloadState, reason: str | None,
                            bytes_on_disk: int | None, error_code: int | None,
                            error_message: str | None, delivered: bool | None,
                            from_state: DownloadState | None, now: float) -> None:
        with self.transaction() as db:
            previous = None if from_state is None else int(from_state)
            if previous is None:
                row = db.execute("SELECT state FROM downloads WHERE key = ?", (key,)).fetchone()
                if row is None:
                    raise JournalError(f"download {key!r} is not in the journal",
                                       ErrorCode.DOWNLOAD_DOES_NOT_EXIST)
                previous = row[0]
            db.execute(
                "UPDATE downloads SET state = ?, updated_at = ?,"
                " bytes_on_disk = COALESCE(?, bytes_on_disk), error_code = ?, error_message = ?,"
                " delivered = COALESCE(?, delivered) WHERE key = ?",
                (int(state), now, bytes_on_disk, error_code, error_message,
                 None if delivered is None else int(delivered), key),
            )
            db.execute(
                "INSERT INTO transitions (key, at, from_state, to_state, reason)"
                " VALUES (?, ?, ?, ?, ?)",
                (key, now, previous, int(state), reason),
            )

    def defer_download_state(self, key: str, state: DownloadState, *,
                             from_state: DownloadState | None, reason: str | None, at: float,
                             bytes_on_disk: int | None = None, delivered: bool | None = None,
                             error_code: int | None = None,
                             error_message: str | None = None) -> None:
        """Record a transition with the next transaction instead of one of its own.

        For transitions a crash may lose without harm (a download that started is
        recovered as waiting anyway): 20,000 small downloads then cost one
        transaction each, not two. ``PAUSED`` is never journaled (ValueError).
        """
        _journaled(state, from_state)
        with self._lock:
            self._deferred.append((key, at, None if from_state is None else int(from_state),
                                   int(state), reason, bytes_on_disk,
                                   None if delivered is None else int(delivered),
                                   error_code, error_message))

    def _write_deferred(self, rows: list[_Deferred]) -> None:
        if not rows:
            return
        self._db.executemany(
            "UPDATE downloads SET state = ?, updated_at = ?,"
            " bytes_on_disk = COALESCE(?, bytes_on_disk), delivered = COALESCE(?, delivered),"
            " error_code = COALESCE(?, error_code), error_message = COALESCE(?, error_message)"
            " WHERE key = ?",
            [(to, at, size, delivered, code, message, key)
             for key, at, _, to, _, size, delivered, code, message in rows])
        self._db.executemany("INSERT INTO transitions (key, at, from_state, to_state, reason)"
                             " VALUES (?, ?, ?, ?, ?)", [row[:5] for row in rows])

    def flush(self) -> None:
        """Write the deferred transitions now, in one transaction."""
        if self._deferred:
            with self.transaction():
                pass

    def update_download(self, key: str, **fields: Any) -> None:
        """Change plain columns (priority, essential, delivered, bytes_on_disk)."""
        allowed = {"priority", "essential", "delivered", "bytes_on_disk"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        assignments = ", ".join(f"{name} = ?" for name in fields)
        with self.transaction() as db:
            db.execute(f"UPDATE downloads SET {assignments} WHERE key = ?",
                       (*[int(v) if isinstance(v, bool) else v for v in fields.values()], key))

    def downloads(self, app_id: str | None = None,
                  states: set[DownloadState] | None = None) -> list[DownloadRecord]:
        """Downloads, optionally of one app and in some states, in scheduling order."""
        sql = "SELECT * FROM downloads"
        params: list[object] = []
        clauses = []
        if app_id is not None:
            clauses.append("app_id = ?")
            params.append(app_id)
        if states and not self._unwritten:
            clauses.append(f"state IN ({', '.join('?' * len(states))})")
            params.extend(int(s) for s in states)
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        records = [self._as_written(row) for row in self._query(sql + " ORDER BY rowid",
                                                                 tuple(params))]
        return [r for r in records if not states or r.download.state in states]

    def delivered_files(self) -> list[tuple[str, str, str, int]]:
        """Every delivered file the journal knows: app id, key, destination and bytes."""
        rows = self._query("SELECT app_id, key, destination, bytes_on_disk FROM downloads"
                           " WHERE state = ? AND delivered = 1", (int(DownloadState.FINISHED),))
        return [(row[0], row[1], row[2], int(row[3])) for row in rows]

    def download(self, key: str) -> DownloadRecord | None:
        rows = self._query("SELECT * FROM downloads WHERE key = ?", (key,))
        return self._as_written(rows[0]) if rows else None

    def _as_written(self, row: sqlite3.Row) -> DownloadRecord:
        """A download row with the transition a full disk kept back applied."""
        record = _download_record(row)
        unwritten = self._unwritten.get(record.key)
        if unwritten is None:
            return record
        state, code, message = unwritten
        return replace(record, download=record.download.with_state(state),
                       error_code=code, error_message=message)

    def transitions(self, key: str) -> list[Transition]:
        """Every transition of a download, oldest first (a download's history)."""
        rows = self._query("SELECT at, from_state, to_state, reason FROM transitions"
                           " WHERE key = ? ORDER BY rowid", (key,))
        return [Transition(row[0], None if row[1] is None else DownloadState(row[1]),
                           DownloadState(row[2]), row[3]) for row in rows]

    # The engine's StateStore -------------------------------------------------

    def load(self, key: str) -> dict[str, Any] | None:
        rows = self._query("SELECT state FROM engine_state WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def save(self, key: str, state: dict[str, Any]) -> None:
        """Checkpoint a download; a journal that cannot be written fails as a file would
        (OSError), which costs the engine resumability and nothing else."""
        try:
            with self.transaction() as db:
                db.execute("INSERT OR REPLACE INTO engine_state (key, state, updated_at)"
                           " VALUES (?, ?, ?)", (key, json.dumps(state), time.time()))
                db.execute("UPDATE downloads SET bytes_on_disk = ? WHERE key = ?",
                           (_bytes_in_state(state), key))
        except JournalError as error:
            raise OSError(errno.EIO, error.message) from error

    def delete(self, key: str) -> None:
        """Forget a checkpoint; one left behind by a full disk is removed at the next
        start, with the other states no download owns."""
        try:
            with self.transaction() as db:
                db.execute("DELETE FROM engine_state WHERE key = ?", (key,))
        except JournalError:
            pass

    def engine_state_keys(self) -> list[str]:
        return [row[0] for row in self._query("SELECT key FROM engine_state")]


def _write_error(path: Path, error: sqlite3.OperationalError) -> JournalError:
    """What a failed journal write says: the disk is full, or what SQLite answered."""
    text = str(error)
    if _disk_full(path.parent, error):
        return JournalError(f"{path}: cannot write the journal: the disk is full ({text}); "
                            "free some space there")
    return JournalError(f"{path}: cannot write the journal: {text}")


def _disk_full(folder: Path, error: BaseException) -> bool:
    """Whether ``error`` means no room: SQLite says "full", or (its shared memory file
    cannot grow: "disk I/O error") the file system has no free block left."""
    if "full" in str(error) or getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
        return True
    try:
        return os.statvfs(folder).f_bavail == 0
    except OSError:
        return False


def _journaled(*states: DownloadState | None) -> None:
    """ValueError for ``PAUSED``: only the framework's states are journaled, and a paused
    download is recovered from the waiting or downloading state it was journaled in."""
    if DownloadState.PAUSED in states:
        raise ValueError("a paused download is journaled as waiting or downloading, "
                         "never as paused")


def _bytes_in_state(state: dict[str, Any]) -> int:
    """Bytes on disk claimed by an engine state (single offset or summed segments)."""
    if isinstance(state.get("bytes"), int):
        return int(state["bytes"])
    segments = state.get("segments") or []
    return sum(int(s.get("done", 0)) for s in segments if isinstance(s, dict))


def _app_record(row: sqlite3.Row) -> AppRecord:
    fields = dict(row)
    pending = fields.pop("pending_request")
    return AppRecord(**fields, pending_request=None if pending is None
                     else ContentRequest(pending))


def _download_record(row: sqlite3.Row) -> DownloadRecord:
    download = Download(
        id=row["id"], url=row["url"], app_group=row["key"].split("/", 1)[0],
        essential=bool(row["essential"]), size=row["size"],
        sha256=row["sha256"], priority=row["priority"], destination=row["destination"],
        state=DownloadState(row["state"]),
    )
    return DownloadRecord(row["app_id"], download, row["bytes_on_disk"], row["error_code"],
                          row["error_message"], bool(row["delivered"]))
