"""Benchmark of the edge agent's durable spool against the seed's jobs.json approach, the
library a Python developer would pick (persist-queue), and the disk's own limit.

Measures, in one run: durable spool writes per second with a 10,000-scan backlog already
spooled (median of 9 rounds of 500); the same durable writes with persist-queue's
SQLiteAckQueue at the same backlog; the disk's raw rate of a small write + fsync in the same
directory (the physical limit of one durable write at a time); the seed's jobs.json (the whole queue
rewritten and fsync'd on every add) at the same backlog; the drain rate of the spool to a real
Redis broker; the rate at which the server's outcome replies take scans out of the spool; and
the agent process's RSS and idle CPU. Last line: JSON with spool_writes_per_s,
persist_queue_writes_per_s, ratio_vs_persist_queue, fsync_per_s, ratio_vs_fsync_limit,
ratio_vs_jobs_json, drain_per_s, agent_rss_mb (plus details).

persist-queue is set up as durable as our spool: auto_commit=True (a commit per put),
multithreading=True (the agent's threads share it), its json serializer, WAL (its own choice)
and synchronous=FULL set on both of its connections (its API has no option for it, so through
its private connection attributes; FULL is also SQLite's compiled default, checked). The three
durable-write figures are measured in turns, round after round, so that a busy disk weighs on
each alike.
Run: .venv/bin/python bench/edge_spool.py
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import persistqueue  # noqa: E402
import psutil  # noqa: E402
from kombu import Connection  # noqa: E402
from persistqueue.serializers import json as persist_json  # noqa: E402

from standins import embedded_redis  # noqa: E402
from core.baixa.outcomes import publish_outcome  # noqa: E402
from edge_agent.config import AgentConfig  # noqa: E402
from edge_agent.outcomes import OutcomeListener  # noqa: E402
from edge_agent.publisher import Publisher  # noqa: E402
from edge_agent.spool import Spool  # noqa: E402

BACKLOG = 10_000
# Disk fsync latency varies with whatever else runs; each figure is the median of ROUNDS, and
# the spool, persist-queue and raw fsync rounds take turns so they see the same disk weather.
ROUNDS = 9
WRITES = 500
JOBS_JSON_SECONDS = 5.0
# About one scan's JSON, for the raw write + fsync loop.
RECORD = b"x" * 200


def scan(n: int) -> dict[str, str]:
    return {"scan_id": str(uuid.uuid4()), "product_id": str(100_000 + n), "store_key": "LOJA-001",
            "device_id": "pi-bench", "scanned_at": datetime.now(timezone.utc).isoformat()}


def open_persist_queue(work: Path) -> persistqueue.SQLiteAckQueue:
    """persist-queue's SQLiteAckQueue, as durable as our spool (see the docstring)."""
    queue = persistqueue.SQLiteAckQueue(str(work / "persist-queue"), auto_commit=True,
                                        multithreading=True, serializer=persist_json)
    for connection in {queue._putter, queue._getter}:  # no API for it
        connection.execute("PRAGMA synchronous=FULL")
        assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    return queue


def durable_writes(work: Path) -> dict[str, float]:
    """Durable adds per second on top of a BACKLOG-scan spool, the same with persist-queue,
    and raw small append + fsync in the same directory (the disk's limit for one durable write
    at a time): the median of ROUNDS interleaved rounds each."""
    spool = Spool(work / "spool.sqlite3")
    queue = open_persist_queue(work)
    for n in range(BACKLOG):
        spool.add(scan(n))
        queue.put(scan(n))
    fd = os.open(work / "fsync-probe", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def fsync_write(_: object) -> None:
        os.write(fd, RECORD)
        os.fsync(fd)

    writers = {"spool": spool.add, "persist_queue": queue.put, "fsync": fsync_write}
    rates: dict[str, list[float]] = {name: [] for name in writers}
    try:
        for round_ in range(ROUNDS):
            for name, write in writers.items():
                scans = [scan(BACKLOG + round_ * WRITES + n) for n in range(WRITES)]
                started = time.perf_counter()
                for item in scans:
                    write(item)
                rates[name].append(WRITES / (time.perf_counter() - started))
    finally:
        os.close(fd)
        queue.close()
        spool.close()
    return {name: statistics.median(values) for name, values in rates.items()}


def jobs_json_writes(work: Path) -> float:
    """The seed's approach made durable: every add rewrites the whole jobs.json and fsyncs
    (median of ROUNDS rounds)."""
    path = work / "jobs.json"
    queue = [scan(n) for n in range(BACKLOG)]
    path.write_text(json.dumps(queue))
    rates = []
    for _ in range(ROUNDS):
        writes = 0
        started = time.perf_counter()
        while time.perf_counter() - started < JOBS_JSON_SECONDS / ROUNDS:
            queue.append(scan(len(queue)))
            with path.open("w") as handle:
                json.dump(queue, handle)
                handle.flush()
                os.fsync(handle.fileno())
            writes += 1
        rates.append(writes / (time.perf_counter() - started))
    return statistics.median(rates)


def drain(work: Path, broker_url: str) -> tuple[float, float]:
    """Scans per second published from a BACKLOG-scan spool to Redis (the sent marks
    included), then scans per second taken out of the spool by their outcome replies."""
    config = AgentConfig(store_key="LOJA-001", broker_url=broker_url, device_id="pi-bench",
                         spool_dir=work / "drain")
    spool = Spool(config.spool_path)
    for n in range(BACKLOG):
        spool.add(scan(n))
    publisher = Publisher(config, spool)
    started = time.perf_counter()
    sent = publisher.publish_pending()
    drain_rate = sent / (time.perf_counter() - started)
    assert sent == BACKLOG and spool.counts() == (0, BACKLOG)

    # What the workers would answer, queued first so only the agent's side is timed.
    with Connection(broker_url) as connection:
        producer = connection.Producer()
        for item in spool.pending(BACKLOG, now=float("inf")):
            publish_outcome(producer, item.scan["scan_id"], "pi-bench", "removed", "ok")
    stop = threading.Event()
    listener = threading.Thread(target=OutcomeListener(config, spool).run, args=(stop,))
    started = time.perf_counter()
    listener.start()
    while spool.depth():
        time.sleep(0.01)
    outcome_rate = BACKLOG / (time.perf_counter() - started)
    stop.set()
    listener.join()
    spool.close()
    return drain_rate, outcome_rate


def agent_footprint(work: Path, broker_url: str) -> tuple[float, float]:
    """Run the real agent, feed it 1,000 scans, return (RSS MB, idle CPU % over 5 s)."""
    printers = work / "printers.json"
    printers.write_text('{"store_key": "LOJA-001"}')
    process = subprocess.Popen(
        [sys.executable, "-m", "edge_agent", "--printers-json", str(printers), "--spool-dir",
         str(work / "agent-spool"), "--broker-url", broker_url, "run", "--stdin"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(b"".join(f"{n}\n".encode() for n in range(1, 1001)))
    process.stdin.flush()
    for _ in range(1000):
        process.stdout.readline()
    time.sleep(2)  # let the publisher drain
    proc = psutil.Process(process.pid)
    rss_mb = proc.memory_info().rss / 1e6
    before = proc.cpu_times()
    time.sleep(5)
    after = proc.cpu_times()
    idle_cpu = 100 * ((after.user + after.system) - (before.user + before.system)) / 5
    process.terminate()
    process.wait(timeout=20)
    return rss_mb, idle_cpu


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-edge-", dir=ROOT / "var" if (ROOT / "var").is_dir() else None) as tmp:
        work = Path(tmp)
        port = embedded_redis.free_port()
        redis = embedded_redis.start(port, work / "redis", appendonly=False)
        broker_url = f"redis://127.0.0.1:{port}/0"
        try:
            rates = durable_writes(work)
            spool_rate, persist_rate, fsync_rate = (rates["spool"], rates["persist_queue"],
                                                    rates["fsync"])
            jobs_rate = jobs_json_writes(work)
            drain_rate, outcome_rate = drain(work, broker_url)
            rss_mb, idle_cpu = agent_footprint(work, broker_url)
        finally:
            redis.terminate()
            redis.wait(timeout=10)
    print(f"spool: {spool_rate:,.0f} durable writes/s at a {BACKLOG:,} backlog; persist-queue: "
          f"{persist_rate:,.0f}/s; raw write+fsync: {fsync_rate:,.0f}/s; jobs.json: "
          f"{jobs_rate:,.1f} writes/s; drain: {drain_rate:,.0f} scans/s; outcomes: "
          f"{outcome_rate:,.0f} scans/s out of the spool; agent RSS {rss_mb:.1f} MB, "
          f"idle CPU {idle_cpu:.2f}%", file=sys.stderr)
    print(json.dumps({
        "spool_writes_per_s": round(spool_rate, 1),
        "persist_queue_writes_per_s": round(persist_rate, 1),
        "ratio_vs_persist_queue": round(spool_rate / persist_rate, 2),
        "fsync_per_s": round(fsync_rate, 1),
        "ratio_vs_fsync_limit": round(spool_rate / fsync_rate, 2),
        "ratio_vs_jobs_json": round(spool_rate / jobs_rate, 1),
        "drain_per_s": round(drain_rate, 1),
        "outcomes_per_s": round(outcome_rate, 1),
        "agent_rss_mb": round(rss_mb, 1),
        "agent_idle_cpu_pct": round(idle_cpu, 2),
        "jobs_json_writes_per_s": round(jobs_rate, 2),
        "backlog": BACKLOG,
    }))


if __name__ == "__main__":
    main()
