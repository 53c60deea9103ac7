"""Benchmark: health reports of 1,000 simulated Pis on MariaDB, 2 worker processes.

Measured in one run, on the same broker (an embedded Redis), database and messages
(`health.report` tasks as the Pis send them: one report per message, by name, ignore_result):
- ours: 2 processes of the health batch worker (`python -m processes.health_batch_worker`, the
  Procfile's health_worker): batches of reports validated, upserted in one statement with
  their history samples in another, one commit, acked after it -> upserts_per_s;
- the seed's way: the same messages as `health.seed_way` tasks doing what seed 002's
  consumer did (query the row, set attributes, commit), one message at a time in each of
  2 Celery worker processes (`--pool solo`), no history, no validation, no SSE (so the ratio
  favours the seed) -> seed_upserts_per_s, ratio_vs_seed;
- for reference, `health.report` on 2 ordinary Celery worker processes (`--pool threads -c 16`,
  concurrent tasks sharing commits) -> celery_task_upserts_per_s.
Each mode starts with an empty table; the first round creates the 1,000 devices, the others
update them (ROUNDS reports per device for ours, SEED_ROUNDS for the slower two). The clock
runs from the first message taken off the queue to the last one acknowledged (queue empty,
nothing unacked), so worker start-up is not counted.

Run: .venv/bin/python bench/health.py   (MariaDB from STOCKFLOW_BENCH_MYSQL_URL, or
root@127.0.0.1:3306, database stockflow_bench_health, recreated). Last line: JSON.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEVICES = 1_000
ROUNDS = 12
SEED_ROUNDS = 3
MYSQL_URL = os.environ.get("STOCKFLOW_BENCH_MYSQL_URL",
                           "mysql+mysqldb://root@127.0.0.1:3306/stockflow_bench_health")

# Imported by the bench's workers (`--include bench.health`): the seed's way as a task.
if __name__ != "__main__":
    from core.celery_app import celery_app

    @celery_app.task(name="health.seed_way")
    def seed_way(message: dict[str, Any]) -> None:
        """Seed 002's consumer body: query the row, set attributes, commit (no validation)."""
        from core.db import new_session
        from core.models import DeviceStatus
        from core.models.types import utcnow

        session = new_session()
        try:
            device = session.query(DeviceStatus).filter_by(raspberry_id=message["id"]).first()
            fields = {k: v for k, v in message.items() if k not in ("id", "reported_at")}
            if device:
                for key, value in fields.items():
                    setattr(device, key, value)
                device.last_update = utcnow()
                device.reported_at = utcnow()
            else:
                device = DeviceStatus(raspberry_id=message["id"], reported_at=utcnow(), **fields)
                session.add(device)
            session.commit()
        finally:
            session.close()


def log(message: str) -> None:
    print(f"[bench health] {message}", file=sys.stderr, flush=True)




def reports() -> list[dict[str, Any]]:
    """ROUNDS reports of each of the DEVICES Pis, round by round (seed 002's fields + the agent's)."""
    from core.models.types import utcnow

    start = utcnow() - timedelta(seconds=30 * ROUNDS)
    return [{
        "id": f"pi-{d:04d}", "wifi_status": "connected", "mem_usage": f"{300 + r} MB",
        "cpu_temp": f"{45 + (d + r) % 20}°C", "cpu_percent": float((d * r) % 100),
        "gpio_used_count": 3, "spi_buses": ["spi0.0"], "i2c_buses": ["i2c-1"], "usb_devices_count": 2,
        "net_bytes_sent": 1000 * r, "net_bytes_recv": 2000 * r,
        "net_ifaces": [{"name": "wlan0", "ip": f"10.0.{d // 250}.{d % 250}"}],
        "store_key": f"LOJA-{d % 40:03d}", "agent_version": "1.0.0", "uptime_s": 3600 + 30 * r,
        "spool_depth": r % 3, "wifi_signal_dbm": -60, "mem_percent": 35.0,
        "reported_at": (start + timedelta(seconds=30 * r)).isoformat(),
    } for r in range(ROUNDS) for d in range(DEVICES)]


def enqueue(task_name: str, messages: list[dict[str, Any]]) -> None:
    """Publish the messages as the Pis do: by task name, queue health, no result kept."""
    from core.celery_app import celery_app

    with celery_app.producer_or_acquire() as producer:
        for message in messages:
            celery_app.send_task(task_name, args=[message], queue="health", producer=producer,
                                 ignore_result=True)


def start_workers(pool: str, concurrency: int, env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    """Start 2 worker processes on the health queue: Celery workers, or pool "batch": ours."""
    if pool == "batch":
        command = [sys.executable, "-m", "processes.health_batch_worker"]
        return [subprocess.Popen(command, cwd=ROOT, env=env, stdout=sys.stderr) for _ in range(2)]
    return [subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--queues", "health",
         "--pool", pool, "--concurrency", str(concurrency), "--include", "bench.health",
         "--hostname", f"bench-{pool}-{n}@%h", "--loglevel", "WARNING",
         "--without-mingle", "--without-gossip"], cwd=ROOT, env=env, stdout=sys.stderr)
        for n in range(2)]


def cpu_seconds(pid: int) -> float:
    """Return the user + system CPU time a process (and its waited-for children) used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def run_mode(name: str, task_name: str, pool: str, concurrency: int, messages: list[dict[str, Any]],
             env: dict[str, str]) -> float:
    """Enqueue every message, start 2 workers, return messages per second from first take to drain."""
    from sqlalchemy import delete

    from core.db import session_scope
    from core.models import DeviceHealthSample, DeviceStatus
    from core.redis_client import get_redis

    with session_scope() as session:
        session.execute(delete(DeviceHealthSample))
        session.execute(delete(DeviceStatus))
    redis = get_redis()
    redis.delete("health", "unacked", "unacked_index")
    enqueue(task_name, messages)
    total = redis.llen("health")
    assert total == len(messages), (total, len(messages))
    log(f"{name}: {total} messages queued; starting 2 workers (--pool {pool} -c {concurrency})")
    workers = start_workers(pool, concurrency, env)
    try:
        while redis.llen("health") == total:
            time.sleep(0.002)
        started = time.perf_counter()
        deadline = time.monotonic() + 200
        while redis.llen("health") or redis.hlen("unacked"):
            if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                raise RuntimeError(f"{name}: workers stopped or too slow")
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        cpu_s = sum(cpu_seconds(w.pid) for w in workers)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
    rate = total / elapsed
    log(f"{name}: {total} reports in {elapsed:.2f} s = {rate:.0f}/s; "
        f"worker CPU {1000 * cpu_s / total:.2f} ms per report")
    return rate


def check_ours(messages: list[dict[str, Any]]) -> None:
    """Every report stored: 1,000 devices at their last round, one sample per report."""
    from sqlalchemy import func, select

    from core.db import session_scope
    from core.models import DeviceHealthSample, DeviceStatus

    with session_scope() as session:
        devices = session.scalar(select(func.count()).select_from(DeviceStatus))
        samples = session.scalar(select(func.count()).select_from(DeviceHealthSample))
        last = session.scalar(select(func.count()).select_from(DeviceStatus)
                              .where(DeviceStatus.net_bytes_sent == 1000 * (ROUNDS - 1)))
    assert (devices, samples, last) == (DEVICES, len(messages), DEVICES), (devices, samples, last)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="stockflow-bench-health-"))
    from standins import embedded_redis

    port = embedded_redis.free_port()
    redis_process = embedded_redis.start(port, tmp / "redis", appendonly=False)
    env = {**os.environ, "STOCKFLOW_ENV": "test", "STOCKFLOW_REDIS_URL": f"redis://127.0.0.1:{port}/0",
           "STOCKFLOW_DATABASE_URL": MYSQL_URL, "STOCKFLOW_VAR_DIR": str(tmp / "var"),
           "STOCKFLOW_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    env.pop("STOCKFLOW_BROKER_URL", None)
    os.environ.update(env)
    try:
        from core import migrate
        from core.db import recreate_mysql_database

        recreate_mysql_database(MYSQL_URL)

        migrate.upgrade()
        messages = reports()
        # the same messages; the slower ways get the first rounds only (a rate is a rate)
        first_rounds = messages[:DEVICES * SEED_ROUNDS]
        seed_rate = run_mode("seed's way", "health.seed_way", "solo", 1, first_rounds, env)
        task_rate = run_mode("health.report on Celery workers", "health.report", "threads", 16,
                             first_rounds, env)
        ours_rate = run_mode("ours (batch worker)", "health.report", "batch", 1, messages, env)
        check_ours(messages)
    finally:
        redis_process.terminate()
        redis_process.wait(timeout=10)
    print(json.dumps({"devices": DEVICES, "reports": len(messages), "worker_processes": 2,
                      "seed_upserts_per_s": round(seed_rate, 1),
                      "celery_task_upserts_per_s": round(task_rate, 1),
                      "upserts_per_s": round(ours_rate, 1),
                      "ratio_vs_seed": round(ours_rate / seed_rate, 2)}))


if __name__ == "__main__":
    main()
