"""The durable backlog: every valid scan is committed here (fsync'd) before it is published.

SQLite in WAL mode with synchronous=FULL, one row per scan, AUTOINCREMENT order. Why SQLite
rather than an append-only log: the commit protocol (WAL append + fsync) is the same cost as
a hand-written fsync'd log, but crash recovery after kill -9 or power loss (torn writes, a
half-written record) is SQLite's well-tested job instead of ours; a scan is removed with one
indexed DELETE instead of an ack log to compact; and `status` or `drain` in another process
read the same file safely. Each add() is its own committed transaction, so a scan is on disk
before the caller goes on; acks may be grouped (re-publishing after a crash is harmless: the
server is idempotent on scan_id).
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS scans (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    scan_id TEXT NOT NULL UNIQUE,
    scanned_at TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Spool:
    """A crash-safe FIFO of scans (dicts with scan_id and scanned_at), shared by the agent's threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # One connection behind a lock: the scanner, publisher and health threads share it.
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False,
                                     timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # FULL: the WAL is fsync'd at every commit, so a committed scan survives power loss.
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA busy_timeout=30000")
        with self._lock:
            self._conn.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def add(self, scan: dict[str, Any]) -> int:
        """Commit the scan durably and return its sequence number (a scan_id already held is kept)."""
        with self._lock:
            cursor = self._conn.execute(
                "INSERT INTO scans (scan_id, scanned_at, payload) VALUES (?, ?, ?) "
                "ON CONFLICT(scan_id) DO NOTHING",
                (scan["scan_id"], scan["scanned_at"], json.dumps(scan, separators=(",", ":"))))
            return int(cursor.lastrowid or 0)

    def pending(self, limit: int = 100) -> list[tuple[int, dict[str, Any]]]:
        """Return up to `limit` (seq, scan) pairs, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, payload FROM scans ORDER BY seq LIMIT ?", (limit,)).fetchall()
        return [(seq, json.loads(payload)) for seq, payload in rows]

    def ack(self, seqs: Iterable[int]) -> int:
        """Forget the scans the broker accepted and note the time; return how many went."""
        seqs = list(seqs)
        if not seqs:
            return 0
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                removed = self._conn.executemany(
                    "DELETE FROM scans WHERE seq = ?", [(s,) for s in seqs]).rowcount
                self._set_meta("last_publish_at", str(time.time()))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return int(removed)

    def note_failure(self, seq: int, error: str) -> None:
        """Count a failed publish attempt of a scan (shown by `status`)."""
        with self._lock:
            self._conn.execute("UPDATE scans SET attempts = attempts + 1, last_error = ? "
                               "WHERE seq = ?", (error[:500], seq))

    def depth(self) -> int:
        """Return how many scans wait to be published."""
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM scans").fetchone()[0])

    def oldest(self) -> dict[str, Any] | None:
        """Return the oldest pending scan (with its `scanned_at`), or None when empty."""
        with self._lock:
            row = self._conn.execute(
                "SELECT payload, attempts, last_error FROM scans ORDER BY seq LIMIT 1").fetchone()
        if row is None:
            return None
        scan = json.loads(row[0])
        scan["attempts"], scan["last_error"] = row[1], row[2]
        return scan

    def set_meta(self, key: str, value: str) -> None:
        """Store a small status value (broker reachability) for `status` to read."""
        with self._lock:
            self._set_meta(key, value)

    def get_meta(self, key: str) -> str | None:
        """Return a stored status value, or None."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self._conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                           "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))
