"""The durable backlog: every valid scan is committed here (fsync'd) before it is published,
and stays until the server says what became of it.

SQLite in WAL mode with synchronous=FULL, one row per scan in `seq` order. Why SQLite
rather than an append-only log: the commit protocol (WAL append + fsync) is the same cost as
a hand-written fsync'd log, but crash recovery after kill -9 or power loss (torn writes, a
half-written record) is SQLite's well-tested job instead of ours; a scan is removed with one
indexed DELETE instead of an ack log to compact; and `status` or `drain` in another process
read the same file safely. Each add() is its own committed transaction, so a scan is on disk
before the caller goes on. That commit writes a single page (the row's): no index on scan_id
until the scan is sent, and no AUTOINCREMENT counter (a new scan's seq is still above every
scan held; a seq freed by an outcome may come back, so a sent mark names seq and scan_id).

A scan's life: added (never sent) -> sent, waiting for its outcome (`sent_at`, `sends`, and
`resend_at`, when it is due again if no outcome came: the ack timeout doubles with every send,
up to a cap) -> removed when its outcome arrives (edge_agent/outcomes.py). Sending again is
harmless: the server is idempotent on scan_id.
"""
from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS scans (
        seq INTEGER PRIMARY KEY,
        scan_id TEXT NOT NULL,
        scanned_at TEXT NOT NULL,
        payload TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        sends INTEGER NOT NULL DEFAULT 0,
        sent_at REAL,
        resend_at REAL
    )""",
    # Only a sent scan can be answered, so only sent scans are indexed by scan_id: add()
    # writes one B-tree (the row), and mark_sent() indexes a whole batch in one commit.
    "CREATE INDEX IF NOT EXISTS scans_sent_by_scan_id ON scans (scan_id) "
    "WHERE sent_at IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
# The first release's table (seq AUTOINCREMENT, scan_id UNIQUE, scanned_at, payload,
# attempts, last_error): its rows are copied into the table above (a Pi upgraded in place
# keeps them, in order).
FIRST_RELEASE_COLUMNS = "seq, scan_id, scanned_at, payload, attempts, last_error"
# Doubling stops here; the cap in seconds is the caller's.
MAX_DOUBLINGS = 20

T = TypeVar("T")


class Pending(NamedTuple):
    """A scan due to be sent: never sent, or sent and still without an outcome at resend time."""

    seq: int
    scan: dict[str, Any]
    sends: int


class Spool:
    """A crash-safe FIFO of scans (dicts with scan_id and scanned_at), shared by the agent's threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # One connection behind a lock: the scanner, publisher, outcome and health threads share it.
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False,
                                     timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # FULL: the WAL is fsync'd at every commit, so a committed scan survives power loss.
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA busy_timeout=30000")
        with self._lock:
            self._transaction(self._create_or_upgrade)

    def _create_or_upgrade(self) -> None:
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(scans)")}
        first_release = bool(columns) and "resend_at" not in columns
        if first_release:
            self._conn.execute("ALTER TABLE scans RENAME TO scans_first_release")
        for statement in SCHEMA:
            self._conn.execute(statement)
        if first_release:
            self._conn.execute(f"INSERT INTO scans ({FIRST_RELEASE_COLUMNS}) "  # nosec B608: a constant column list, no input
                               f"SELECT {FIRST_RELEASE_COLUMNS} FROM scans_first_release")
            self._conn.execute("DROP TABLE scans_first_release")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def add(self, scan: dict[str, Any]) -> int:
        """Commit the scan durably and return its sequence number (every read has a fresh
        scan_id, so nothing is deduplicated here)."""
        with self._lock:
            cursor = self._conn.execute(
                "INSERT INTO scans (scan_id, scanned_at, payload) VALUES (?, ?, ?)",
                (scan["scan_id"], scan["scanned_at"], json.dumps(scan, separators=(",", ":"))))
            return int(cursor.lastrowid or 0)

    def pending(self, limit: int = 100, now: float | None = None,
                after_seq: int = 0) -> list[Pending]:
        """Return up to `limit` scans due at `now` (default: the current time), oldest first,
        from after `after_seq`: the never sent, and the sent whose resend time came without
        an outcome."""
        due_by = time.time() if now is None else now
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, payload, sends FROM scans WHERE seq > ? "
                "AND (sent_at IS NULL OR resend_at <= ?) ORDER BY seq LIMIT ?",
                (after_seq, due_by, limit)).fetchall()
        return [Pending(seq, json.loads(payload), sends) for seq, payload, sends in rows]

    def mark_sent(self, sent: Iterable[Pending], ack_timeout_s: float, ack_timeout_max_s: float,
                  now: float | None = None) -> None:
        """Note that the broker accepted these scans: each is due again if no outcome arrives
        within its ack timeout (ack_timeout_s, doubled per earlier send, at most
        ack_timeout_max_s). A scan whose outcome already came is gone and stays gone."""
        sent = list(sent)
        if not sent:
            return
        sent_at = time.time() if now is None else now

        def update() -> None:
            # SQLite computes every SET expression from the row's old values: `sends` here is
            # the number of earlier sends.
            self._conn.executemany(
                "UPDATE scans SET sends = sends + 1, sent_at = ?1, "
                "resend_at = ?1 + MIN(?3, ?2 * (1 << MIN(sends, ?4))) "
                "WHERE seq = ?5 AND scan_id = ?6",
                [(sent_at, ack_timeout_s, ack_timeout_max_s, MAX_DOUBLINGS, item.seq,
                  item.scan["scan_id"]) for item in sent])
            self._set_meta("last_publish_at", str(sent_at))

        with self._lock:
            self._transaction(update)

    def remove(self, scan_ids: Iterable[str]) -> int:
        """Forget the sent scans whose outcome the server recorded; return how many went (a
        scan_id this spool does not hold as sent, such as a second reply, is ignored)."""
        scan_ids = list(scan_ids)
        if not scan_ids:
            return 0

        def delete() -> int:
            removed = self._conn.executemany(
                "DELETE FROM scans WHERE scan_id = ? AND sent_at IS NOT NULL",
                [(s,) for s in scan_ids]).rowcount
            self._set_meta("last_outcome_at", str(time.time()))
            return int(removed)

        with self._lock:
            return self._transaction(delete)

    def note_failure(self, seq: int, error: str) -> None:
        """Count a failed publish attempt of a scan (shown by `status`)."""
        with self._lock:
            self._conn.execute("UPDATE scans SET attempts = attempts + 1, last_error = ? "
                               "WHERE seq = ?", (error[:500], seq))

    def depth(self) -> int:
        """Return how many scans the spool holds (to be sent, or waiting for their outcome)."""
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM scans").fetchone()[0])

    def counts(self) -> tuple[int, int]:
        """Return (scans never sent, scans sent and waiting for their outcome)."""
        with self._lock:
            unsent, waiting = self._conn.execute(
                "SELECT COUNT(*) - COUNT(sent_at), COUNT(sent_at) FROM scans").fetchone()
        return int(unsent), int(waiting)

    def backlog(self) -> tuple[int, str | None]:
        """Return (count, oldest scanned_at) of the scans that are late: never sent, or sent
        again for want of an outcome. A scan sent moments ago and waiting for its answer is
        the normal flow, not a backlog (the health report must not flag a busy Pi as sick)."""
        with self._lock:
            count, oldest = self._conn.execute(
                "SELECT COUNT(*), MIN(scanned_at) FROM scans "
                "WHERE sent_at IS NULL OR sends >= 2").fetchone()
        return int(count), oldest

    def next_resend_at(self) -> float:
        """Return when the next scan waiting for its outcome is due again (inf when none)."""
        with self._lock:
            row = self._conn.execute("SELECT MIN(resend_at) FROM scans").fetchone()
        return math.inf if row[0] is None else float(row[0])

    def oldest(self) -> dict[str, Any] | None:
        """Return the oldest scan held (with its `scanned_at`, publish failures and sends),
        or None when empty."""
        with self._lock:
            row = self._conn.execute(
                "SELECT payload, attempts, last_error, sends, sent_at FROM scans "
                "ORDER BY seq LIMIT 1").fetchone()
        if row is None:
            return None
        scan = json.loads(row[0])
        scan["attempts"], scan["last_error"], scan["sends"] = row[1], row[2], row[3]
        scan["waiting_for_outcome"] = row[4] is not None
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

    def _transaction(self, work: Callable[[], T]) -> T:
        """Run `work()` in one write transaction (the lock is held by the caller)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            result = work()
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return result
