"""The spool: FIFO order, durable commits that survive kill -9 of the writer, acks."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

from edge_agent.spool import Spool
from tests.support.environment import ROOT


def scan(n: int) -> dict[str, str]:
    return {"scan_id": str(uuid.uuid4()), "product_id": str(n), "store_key": "L",
            "device_id": "pi", "scanned_at": f"2026-01-01T00:00:{n % 60:02d}+00:00"}


def test_fifo_depth_oldest_and_ack(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    scans = [scan(n) for n in range(5)]
    for s in scans:
        spool.add(s)
    spool.add(scans[0])  # the same scan_id twice is kept once
    assert spool.depth() == 5
    assert spool.oldest()["scan_id"] == scans[0]["scan_id"]
    pending = spool.pending(3)
    assert [p["scan_id"] for _, p in pending] == [s["scan_id"] for s in scans[:3]]
    assert spool.ack([seq for seq, _ in pending]) == 3
    assert [p["product_id"] for _, p in spool.pending()] == ["3", "4"]
    assert spool.get_meta("last_publish_at") is not None
    spool.ack([seq for seq, _ in spool.pending()])
    assert spool.depth() == 0 and spool.oldest() is None


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
    stored = [int(p["product_id"]) for _, p in spool.pending(100_000)]
    assert stored[:300] == acknowledged
    assert stored == list(range(len(stored)))  # in order, nothing torn or duplicated
