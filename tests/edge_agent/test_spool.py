"""The spool: FIFO order, durable commits that survive kill -9 of the writer, and a scan kept
until its outcome arrives, sent again on a doubling schedule meanwhile."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

from edge_agent.spool import Spool
from tests.support.environment import ROOT

# The schema of the agent's first release (before the acknowledgement): a Pi upgraded in
# place opens a spool file made by it.
FIRST_RELEASE_SCHEMA = """
CREATE TABLE scans (seq INTEGER PRIMARY KEY AUTOINCREMENT, scan_id TEXT NOT NULL UNIQUE,
    scanned_at TEXT NOT NULL, payload TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def scan(n: int) -> dict[str, str]:
    return {"scan_id": str(uuid.uuid4()), "product_id": str(n), "store_key": "L",
            "device_id": "pi", "scanned_at": f"2026-01-01T00:00:{n % 60:02d}+00:00"}


def due_ids(spool: Spool, now: float) -> list[str]:
    return [p.scan["scan_id"] for p in spool.pending(1000, now=now)]


def test_fifo_depth_oldest(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    scans = [scan(n) for n in range(5)]
    for s in scans:
        spool.add(s)
    assert spool.depth() == 5 and spool.counts() == (5, 0)
    assert spool.oldest()["scan_id"] == scans[0]["scan_id"]
    pending = spool.pending(3)
    assert [p.scan["scan_id"] for p in pending] == [s["scan_id"] for s in scans[:3]]
    rest = spool.pending(10, after_seq=pending[-1].seq)
    assert [p.scan["product_id"] for p in rest] == ["3", "4"]


def test_a_sent_scan_stays_until_its_outcome(tmp_path: Path) -> None:
    # What must hold: the broker taking a scan is not its end; only its outcome removes it.
    spool = Spool(tmp_path / "spool.sqlite3")
    scans = [scan(n) for n in range(3)]
    for s in scans:
        spool.add(s)
    spool.mark_sent(spool.pending(2), 60, 3600, now=1000.0)
    assert spool.depth() == 3 and spool.counts() == (1, 2)
    assert due_ids(spool, now=1001.0) == [scans[2]["scan_id"]]  # only the unsent one
    assert spool.get_meta("last_publish_at") == "1000.0"
    oldest = spool.oldest()
    assert oldest["scan_id"] == scans[0]["scan_id"] and oldest["waiting_for_outcome"]
    assert oldest["sends"] == 1

    assert spool.remove([scans[0]["scan_id"]]) == 1
    assert spool.counts() == (1, 1) and spool.get_meta("last_outcome_at") is not None
    assert spool.remove([scans[0]["scan_id"]]) == 0  # a second reply for it: nothing happens
    spool.mark_sent(spool.pending(), 60, 3600)
    assert spool.remove([scans[1]["scan_id"], scans[2]["scan_id"]]) == 2
    assert spool.depth() == 0 and spool.oldest() is None


def test_backlog_counts_unsent_and_resent_scans_not_those_just_sent(tmp_path: Path) -> None:
    # What must hold: the health report's backlog is what is late (never sent, or sent again
    # for want of an outcome), so a Pi in the middle of a burst is not reported sick.
    spool = Spool(tmp_path / "spool.sqlite3")
    scans = [scan(n) for n in range(3)]
    for s in scans:
        spool.add(s)
    assert spool.backlog() == (3, scans[0]["scanned_at"])
    spool.mark_sent(spool.pending(), 10, 50, now=1000.0)
    assert spool.backlog() == (0, None)  # all three just sent, waiting for their answers
    spool.mark_sent(spool.pending(1, now=1010.0), 10, 50, now=1010.0)  # the first sent again
    assert spool.backlog() == (1, scans[0]["scanned_at"])


def test_an_outcome_for_an_unknown_or_unsent_scan_is_harmless(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    kept, unsent = scan(1), scan(2)
    spool.add(kept)
    spool.mark_sent(spool.pending(), 60, 3600)
    spool.add(unsent)
    # Unknown ids, and a reply for a scan not marked sent (the agent died between the publish
    # and the mark): nothing goes; that one is simply sent again and answered again.
    assert spool.remove([str(uuid.uuid4()), "not-a-uuid", "", unsent["scan_id"]]) == 0
    assert spool.counts() == (1, 1)


def test_a_late_sent_mark_never_lands_on_a_newer_scan(tmp_path: Path) -> None:
    # The outcome of the newest scan may arrive before the publisher notes it sent; its seq is
    # then free for the next scan, which must not be taken for sent.
    spool = Spool(tmp_path / "spool.sqlite3")
    spool.add(scan(1))
    [sent] = spool.pending()
    spool.mark_sent([sent], 60, 3600)
    spool.remove([sent.scan["scan_id"]])
    newer = scan(2)
    assert spool.add(newer) == sent.seq
    spool.mark_sent([sent], 60, 3600)  # the late mark
    assert spool.counts() == (1, 0) and due_ids(spool, now=0) == [newer["scan_id"]]


def test_resend_schedule_doubles_per_scan_up_to_the_cap(tmp_path: Path) -> None:
    # What must hold: a scan without an outcome is due again after 10 s, then 20, 40, and
    # never more than 50 s apart (the cap); each scan keeps its own schedule.
    spool = Spool(tmp_path / "spool.sqlite3")
    first, second = scan(1), scan(2)
    spool.add(first)
    spool.add(second)
    t = 1000.0
    spool.mark_sent(spool.pending(now=t), 10, 50, now=t)
    assert spool.next_resend_at() == t + 10
    for wait in (10, 20, 40, 50, 50):
        assert due_ids(spool, now=t + wait - 0.01) == []
        assert due_ids(spool, now=t + wait) == [first["scan_id"], second["scan_id"]]
        t += wait
        spool.mark_sent(spool.pending(now=t), 10, 50, now=t)
    assert {p.sends for p in spool.pending(now=t + 50)} == {6}

    spool.remove([first["scan_id"]])
    third = scan(3)
    spool.add(third)  # a new scan starts its own schedule at 10 s
    assert due_ids(spool, now=t) == [third["scan_id"]]
    spool.mark_sent(spool.pending(now=t), 10, 50, now=t)
    assert due_ids(spool, now=t + 10) == [third["scan_id"]]
    assert due_ids(spool, now=t + 50) == [second["scan_id"], third["scan_id"]]


def test_a_first_release_spool_file_is_upgraded_and_keeps_its_scans(tmp_path: Path) -> None:
    # What must survive an in-place upgrade of a Pi: every scan its old agent spooled.
    path = tmp_path / "spool.sqlite3"
    old = [scan(n) for n in range(3)]
    with sqlite3.connect(path) as conn:
        conn.executescript(FIRST_RELEASE_SCHEMA)
        conn.executemany("INSERT INTO scans (scan_id, scanned_at, payload, attempts) "
                         "VALUES (?, ?, ?, 2)",
                         [(s["scan_id"], s["scanned_at"], json.dumps(s)) for s in old])
        conn.execute("INSERT INTO meta VALUES ('last_publish_at', '123.0')")
    spool = Spool(path)
    assert [p.scan for p in spool.pending()] == old  # never sent, as far as it knows: due now
    assert [p.seq for p in spool.pending()] == [1, 2, 3]
    assert spool.counts() == (3, 0) and spool.oldest()["attempts"] == 2
    new = scan(9)
    assert spool.add(new) == 4  # after the old scans, in order
    spool.mark_sent(spool.pending(), 60, 3600)
    assert spool.remove([old[1]["scan_id"]]) == 1
    spool.close()
    reopened = Spool(path)  # opened again: already upgraded, nothing lost or repeated
    assert reopened.counts() == (0, 3) and reopened.get_meta("last_publish_at") != "123.0"
    assert [p.scan for p in reopened.pending(now=float("inf"))] == [old[0], old[2], new]
    with sqlite3.connect(path) as conn:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    assert "scans_first_release" not in tables


def test_every_acknowledged_write_survives_kill_9(tmp_path: Path) -> None:
    # What must survive: every scan whose add() returned (printed) before the SIGKILL.
    path = tmp_path / "spool.sqlite3"
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, uuid
        from edge_agent.spool import Spool
        spool = Spool(__import__("pathlib").Path({str(path)!r}))
        n = 0
        while True:
            spool.add({{"scan_id": str(uuid.uuid4()), "product_id": str(n),
                        "scanned_at": "2026-01-01T00:00:00+00:00"}})
            print(n, flush=True)
            n += 1
        """)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    acknowledged = [int(writer.stdout.readline()) for _ in range(300)]
    writer.kill()
    writer.wait()
    spool = Spool(path)
    stored = [int(p.scan["product_id"]) for p in spool.pending(100_000)]
    assert stored[:300] == acknowledged
    assert stored == list(range(len(stored)))  # in order, nothing torn or duplicated
