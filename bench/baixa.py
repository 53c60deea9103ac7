"""End-to-end benchmark of the baixa: scans through the agent's spool and publisher, Redis,
and 2 worker processes on MariaDB, against a plain loop running the same transaction
directly on one connection.

Burst phase: N scans spooled then drained; baixas per second = N / (last commit - start).
Paced phase: scans at a steady store-like rate (below capacity); p50/p99 scan-to-commit
latency = processed_at (set in the transaction) - scanned_at (set when the Pi read it).
Last line: JSON with baixas_per_s, ratio_vs_direct_sql, p50_ms, p99_ms (plus details).
MariaDB from STOCKFLOW_BENCH_MYSQL_URL, else root@127.0.0.1:3306, database stockflow_bench_baixa.
Run: .venv/bin/python bench/baixa.py
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from standins import embedded_redis  # noqa: E402

BURST = int(os.environ.get("BENCH_BURST", 2_000))
PACED = int(os.environ.get("BENCH_PACED", 200))
PACED_RATE_PER_S = 10  # a busy store; well below capacity, so this is latency, not queueing
STORE = "LOJA-BENCH"


def prepare_database(url: str) -> None:
    from core import migrate
    from core.db import recreate_mysql_database

    recreate_mysql_database(url)

    migrate.upgrade()


def seed(first_id: int, count: int) -> list[int]:
    from decimal import Decimal

    from core.db import session_scope
    from core.models import Produto
    from core.models.types import utcnow

    ids = list(range(first_id, first_id + count))
    with session_scope() as session:
        session.add_all(Produto(id=pid, store_key=STORE, descricao=f"Produto {pid}",
                                preco=Decimal("1.00"), created_at=utcnow()) for pid in ids)
    return ids


def direct_loop(ids: list[int]) -> float:
    """The same transaction (registrar_baixa) in a plain loop on one connection; per second."""
    import uuid

    from core.baixa.registro import registrar_baixa

    started = time.perf_counter()
    for pid in ids:
        outcome = registrar_baixa(str(uuid.uuid4()), str(pid), STORE, "bench",
                                  datetime.now(timezone.utc).isoformat())
        assert outcome["outcome"] == "removed"
    return len(ids) / (time.perf_counter() - started)


def _phase(ids: list[int]) -> Any:
    """A WHERE clause for one phase's outcomes (ids of equal length compare as strings)."""
    from core.models import BaixaLeitura

    return BaixaLeitura.product_id.between(str(ids[0]), str(ids[-1]))


def committed(ids: list[int]) -> int:
    from sqlalchemy import func, select

    from core.db import session_scope
    from core.models import BaixaLeitura

    with session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(BaixaLeitura)
                                  .where(_phase(ids))) or 0)


def latencies_ms(ids: list[int]) -> list[float]:
    from sqlalchemy import select

    from core.db import session_scope
    from core.models import BaixaLeitura

    with session_scope() as session:
        rows = session.execute(select(BaixaLeitura.scanned_at, BaixaLeitura.processed_at)
                               .where(_phase(ids))).all()
    return sorted((done - scanned).total_seconds() * 1000 for scanned, done in rows)


def last_commit(ids: list[int]) -> datetime:
    from sqlalchemy import func, select

    from core.db import session_scope
    from core.models import BaixaLeitura

    with session_scope() as session:
        return session.scalar(select(func.max(BaixaLeitura.processed_at)).where(_phase(ids)))


def wait_committed(ids: list[int], timeout_s: float = 240) -> None:
    """Wait until every scan of the phase has its outcome (polled slowly: it loads the DB)."""
    deadline = time.monotonic() + timeout_s
    while committed(ids) < len(ids):
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {committed(ids)} of {len(ids)} committed")
        time.sleep(0.25)


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    from celery import Celery

    name = f"bench-baixa-{os.getpid()}@localhost"
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--queues", "baixa",
         "--concurrency", "2", "--pool", "prefork", "--hostname", name, "--loglevel", "ERROR",
         "--without-mingle", "--without-gossip"], cwd=ROOT, env=env,
        stdout=sys.stderr)
    app = Celery(broker=env["STOCKFLOW_REDIS_URL"], set_as_current=False)
    deadline = time.monotonic() + 60
    while not app.control.ping(destination=[name], timeout=0.5):
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError("worker did not start")
    return process


def main() -> None:
    mysql_url = os.environ.get("STOCKFLOW_BENCH_MYSQL_URL",
                               "mysql+mysqldb://root@127.0.0.1:3306/stockflow_bench_baixa")
    with tempfile.TemporaryDirectory(prefix="bench-baixa-") as tmp:
        work = Path(tmp)
        port = embedded_redis.free_port()
        redis = embedded_redis.start(port, work / "redis", appendonly=False)
        redis_url = f"redis://127.0.0.1:{port}/0"
        os.environ.update({"STOCKFLOW_DATABASE_URL": mysql_url, "STOCKFLOW_REDIS_URL": redis_url,
                           "STOCKFLOW_ENV": "test", "STOCKFLOW_VAR_DIR": str(work / "var"),
                           "STOCKFLOW_LOG_LEVEL": "WARNING"})
        os.environ.pop("STOCKFLOW_BROKER_URL", None)
        worker = None
        try:
            prepare_database(mysql_url)
            direct_ids = seed(1_000_000, BURST)
            burst_ids = seed(2_000_000, BURST)
            paced_ids = seed(3_000_000, PACED)
            direct_rate = direct_loop(direct_ids)

            from edge_agent.config import AgentConfig
            from edge_agent.publisher import Publisher
            from edge_agent.scan import make_scan
            from edge_agent.spool import Spool

            worker = start_worker(dict(os.environ))
            config = AgentConfig(store_key=STORE, broker_url=redis_url, device_id="pi-bench",
                                 spool_dir=work / "spool")
            spool = Spool(config.spool_path)
            publisher = Publisher(config, spool)

            # burst: what the Pi scanned while offline, drained at once
            for pid in burst_ids:
                spool.add(make_scan(str(pid), config))  # type: ignore[arg-type]
            started = datetime.now(timezone.utc)
            publisher.publish_pending()
            wait_committed(burst_ids)
            e2e_rate = BURST / (last_commit(burst_ids) - started).total_seconds()

            # paced: a steady stream, as the agent does it (spool, then publish)
            interval = 1 / PACED_RATE_PER_S
            next_at = time.perf_counter()
            for pid in paced_ids:
                spool.add(make_scan(str(pid), config))  # type: ignore[arg-type]
                publisher.publish_pending()
                next_at += interval
                time.sleep(max(0.0, next_at - time.perf_counter()))
            wait_committed(paced_ids)
            latency = latencies_ms(paced_ids)
            spool.close()
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=30)
            redis.terminate()
            redis.wait(timeout=10)
    p50 = statistics.median(latency)
    p99 = latency[min(len(latency) - 1, int(len(latency) * 0.99))]
    print(f"direct SQL loop: {direct_rate:,.0f} baixas/s; end to end (2 worker processes): "
          f"{e2e_rate:,.0f} baixas/s; paced at {PACED_RATE_PER_S}/s: p50 {p50:.1f} ms, "
          f"p99 {p99:.1f} ms", file=sys.stderr)
    print(json.dumps({
        "baixas_per_s": round(e2e_rate, 1),
        "ratio_vs_direct_sql": round(e2e_rate / direct_rate, 2),
        "p50_ms": round(p50, 1),
        "p99_ms": round(p99, 1),
        "direct_sql_per_s": round(direct_rate, 1),
        "burst": BURST, "paced_rate_per_s": PACED_RATE_PER_S,
    }))


if __name__ == "__main__":
    main()
