"""Benchmark of the edge agent's durable spool against the seed's jobs.json approach.

Measures, in one run: durable spool writes per second with a 10,000-scan backlog already
spooled (median of 3 rounds); the seed's jobs.json (the whole queue rewritten and fsync'd on every add) at the
same backlog; the drain rate of the spool to a real Redis broker; and the agent process's
RSS and idle CPU. Last line: JSON with spool_writes_per_s, ratio_vs_jobs_json, drain_per_s,
agent_rss_mb (plus details).
Run: .venv/bin/python bench/edge_spool.py
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from standins import embedded_redis  # noqa: E402
from edge_agent.config import AgentConfig  # noqa: E402
from edge_agent.publisher import Publisher  # noqa: E402
from edge_agent.spool import Spool  # noqa: E402

BACKLOG = 10_000
# Disk fsync latency varies with whatever else runs; each figure is the median of ROUNDS.
ROUNDS = 3
WRITES = 1_000
JOBS_JSON_SECONDS = 5.0


def scan(n: int) -> dict[str, str]:
    return {"scan_id": str(uuid.uuid4()), "product_id": str(100_000 + n), "store_key": "LOJA-001",
            "device_id": "pi-bench", "scanned_at": datetime.now(timezone.utc).isoformat()}


def spool_writes(work: Path) -> float:
    """Durable adds per second on top of a BACKLOG-scan spool (median of ROUNDS rounds)."""
    spool = Spool(work / "spool.sqlite3")
    for n in range(BACKLOG):
        spool.add(scan(n))
    rates = []
    for round_ in range(ROUNDS):
        scans = [scan(BACKLOG + round_ * WRITES + n) for n in range(WRITES)]
        started = time.perf_counter()
        for item in scans:
            spool.add(item)
        rates.append(WRITES / (time.perf_counter() - started))
    spool.close()
    return statistics.median(rates)


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


def drain(work: Path, broker_url: str) -> float:
    """Scans per second published from a BACKLOG-scan spool to Redis (acks included)."""
    config = AgentConfig(store_key="LOJA-001", broker_url=broker_url, device_id="pi-bench",
                         spool_dir=work / "drain")
    spool = Spool(config.spool_path)
    for n in range(BACKLOG):
        spool.add(scan(n))
    publisher = Publisher(config, spool)
    started = time.perf_counter()
    sent = publisher.publish_pending()
    rate = sent / (time.perf_counter() - started)
    assert sent == BACKLOG and spool.depth() == 0
    spool.close()
    return rate


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
            spool_rate = spool_writes(work)
            jobs_rate = jobs_json_writes(work)
            drain_rate = drain(work, broker_url)
            rss_mb, idle_cpu = agent_footprint(work, broker_url)
        finally:
            redis.terminate()
            redis.wait(timeout=10)
    print(f"spool: {spool_rate:,.0f} durable writes/s at a {BACKLOG:,} backlog; "
          f"jobs.json: {jobs_rate:,.1f} writes/s; drain: {drain_rate:,.0f} scans/s; "
          f"agent RSS {rss_mb:.1f} MB, idle CPU {idle_cpu:.2f}%", file=sys.stderr)
    print(json.dumps({
        "spool_writes_per_s": round(spool_rate, 1),
        "ratio_vs_jobs_json": round(spool_rate / jobs_rate, 1),
        "drain_per_s": round(drain_rate, 1),
        "agent_rss_mb": round(rss_mb, 1),
        "agent_idle_cpu_pct": round(idle_cpu, 2),
        "jobs_json_writes_per_s": round(jobs_rate, 2),
        "backlog": BACKLOG,
    }))


if __name__ == "__main__":
    main()
