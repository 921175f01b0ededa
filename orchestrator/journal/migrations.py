"""The journal's schema, as numbered migrations applied in order.

``PRAGMA user_version`` records how many have run. A migration is never
edited once released: add a new one instead.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: apps, launches, downloads with their transitions, engine state, runtime.
    """
    CREATE TABLE apps (
        id TEXT PRIMARY KEY,
        version TEXT NOT NULL,
        app_group TEXT NOT NULL,
        manifest_path TEXT NOT NULL,
        state TEXT NOT NULL,
        installed_at REAL NOT NULL,
        first_launched_at REAL,
        download_bytes_used INTEGER NOT NULL DEFAULT 0,
        essential_bytes_used INTEGER NOT NULL DEFAULT 0,
        last_periodic_at REAL
    );
    CREATE TABLE launches (
        app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        at REAL NOT NULL
    );
    CREATE INDEX launches_by_app ON launches(app_id, at);
    CREATE TABLE downloads (
        key TEXT PRIMARY KEY,
        app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        id TEXT NOT NULL,
        url TEXT NOT NULL,
        essential INTEGER NOT NULL,
        size INTEGER,
        sha256 TEXT,
        priority INTEGER NOT NULL,
        destination TEXT NOT NULL,
        state INTEGER NOT NULL,
        bytes_on_disk INTEGER NOT NULL DEFAULT 0,
        error_code INTEGER,
        error_message TEXT,
        delivered INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX downloads_by_app ON downloads(app_id, state);
    CREATE TABLE transitions (
        key TEXT NOT NULL,
        at REAL NOT NULL,
        from_state INTEGER,
        to_state INTEGER NOT NULL,
        reason TEXT
    );
    CREATE INDEX transitions_by_key ON transitions(key, at);
    CREATE TABLE engine_state (
        key TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE runtime (
        app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        day TEXT NOT NULL,
        seconds REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (app_id, day)
    );
    """,
    # 2: the content request each app has pending (being made, or waiting for the
    # network) as its ContentRequest value, NULL once made, so that a restart makes it
    # again. An app still installing without a download had not been planned yet.
    """
    ALTER TABLE apps ADD COLUMN pending_request INTEGER;
    UPDATE apps SET pending_request = CASE WHEN first_launched_at IS NULL THEN 1 ELSE 2 END
        WHERE state = 'installing' AND id NOT IN (SELECT app_id FROM downloads)
    """,
    # 3: when the app's install or update was paused as a whole (pause-install), NULL
    # while it is not, so that a restart keeps it paused.
    """
    ALTER TABLE apps ADD COLUMN install_paused_at REAL
    """,
)
