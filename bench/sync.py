"""Benchmark: 1,000,000 NAGV_PLUSOFT_VENDAS rows to the local Plusoft stand-in.

Measured in one run, against the same source files and the same stand-in:
- ours: `sync.sincronizar` in a real worker (`celery worker --pool solo`, so the task
  runs in the process we measure): keyset batches of 1000 rows, mapped, POSTed, checkpointed,
  hand-overs every 20 s; rows_per_s = rows read / run duration (from the run record;
  the first runs send every row they read);
- baseline: what loading everything first does: one process reads every row, maps them all,
  then POSTs them in batches of 1000 with the same client.
Each is run twice in a fresh process, over a 10,000-row and a 1,000,000-row source; the
peak resident memory (VmHWM) of the 1M run minus that of the 10k run is the growth.
Ours starts each of these runs with no sent-row digests (Plusoft has nothing), then runs
once more over the unchanged 1M source: every row is read, compared with its digest and not
sent (what the overlap window costs per row); the digests' size in SQLite is measured too.

Source rows are generated inside SQLite (a recursive CTE), the stand-in only counts rows.
Run: .venv/bin/python bench/sync.py   Last line: JSON.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SMALL, LARGE = 10_000, 1_000_000


def log(message: str) -> None:
    print(f"[bench sync] {message}", file=sys.stderr, flush=True)


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size (VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def make_source(path: Path, rows: int) -> str:
    """Create a SQLite source with `rows` sales (4 products per receipt, 250 days of 2025)."""
    import sqlite3

    from sqlalchemy import create_engine

    from core.sync.consinco.models import ConsincoVenda

    url = f"sqlite:///{path}"
    engine = create_engine(url)
    ConsincoVenda.__table__.create(engine)
    engine.dispose()
    per_day = max(1, rows // 250)
    with sqlite3.connect(path) as conn:
        conn.execute(f"""
            WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {rows - 1})
            INSERT INTO NAGV_PLUSOFT_VENDAS
            SELECT CASE WHEN i % 5 = 0 THEN NULL ELSE 500001 + i % 20000 END,
                   1 + (i / 4) % 25, i / 4, 1001 + (i % 4) * 250 + (i / 4) % 250,
                   date('2025-01-01', '+' || (i / {per_day}) || ' days'),
                   1 + i % 5, round(1.99 + (i % 5000) / 100.0, 2),
                   round(2.49 + (i % 5000) / 100.0, 2),
                   0.5, round(0.44 + (i % 5000) / 450.0, 2), 'LOJA FÍSICA', 'VENDA',
                   1 + i % 4, 'CARTÃO DE CRÉDITO'
            FROM n""")
    return url


def run_ours(env: dict[str, str], source_url: str, plusoft_has_nothing: bool = True,
             ) -> dict[str, Any]:
    """Sync the source with a fresh solo worker; return rows read and sent, rows read per
    second and the worker's peak RSS."""
    from core import jobs
    from core.celery_app import celery_app
    from core.sync import runs, sent
    from core.sync.consinco.queries import FULL
    from core.sync.trigger import trigger

    if plusoft_has_nothing:
        sent.forget("vendas")

    name = f"bench-plusoft-{time.monotonic_ns()}@localhost"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--pool", "solo",
         "--queues", "sync", "--hostname", name, "--loglevel", "WARNING",
         "--without-mingle", "--without-gossip"],
        cwd=ROOT, env={**env, "STOCKFLOW_CONSINCO_URL": source_url}, stdout=sys.stderr)
    try:
        while not celery_app.control.ping(destination=[name], timeout=0.5):
            if worker.poll() is not None:
                raise RuntimeError("worker died at start")
        started = trigger(["vendas"], FULL, triggered_by="bench")
        while True:
            status = jobs.get_status(started.job_id) or {}
            if status.get("status") == "failed":
                raise RuntimeError(f"sync failed: {status}")
            if status.get("status") == "finished":
                break
            time.sleep(0.2)
        peak = peak_rss_mb(worker.pid)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    run = runs.latest_by_entity(["vendas"])["vendas"] or {}
    return {"rows": run["linhas_enviadas"], "read": run["linhas_lidas"],
            "seconds": run["duracao_s"],
            "rows_per_s": run["linhas_lidas"] / max(run["duracao_s"], 1e-9),
            "peak_rss_mb": peak}


def sent_rows_table_mb(app_db: Path) -> float:
    """The sent-row digests' size in the SQLite app database (table and its key index)."""
    import sqlite3

    with sqlite3.connect(app_db) as conn:
        size = conn.execute("SELECT SUM(pgsize) FROM dbstat WHERE name IN (SELECT name FROM "
                            "sqlite_master WHERE tbl_name = 'sync_sent_rows')").fetchone()
    return (size[0] or 0) / 1e6


def baseline_main(source_url: str) -> None:
    """Load every row, map them all, then POST (the process prints its JSON result)."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from core.sync.consinco.entities import ENTITIES
    from core.sync.engine import map_rows
    from core.sync.mapeamento import VENDAS
    from core.sync.plusoft import PlusoftClient

    vendas = ENTITIES["vendas"]
    started = time.monotonic()
    with Session(create_engine(source_url)) as session:
        rows = session.execute(select(vendas.table).order_by(*vendas.key_columns)).all()
    payloads, _, _ = map_rows(VENDAS, vendas, rows)  # the same translator as ours
    client = PlusoftClient()
    for start in range(0, len(payloads), 1000):
        client.send_batch("vendas", payloads[start:start + 1000], f"baseline:{len(rows)}:{start}")
    seconds = time.monotonic() - started
    print(json.dumps({"rows": len(payloads), "seconds": seconds,
                      "rows_per_s": len(payloads) / seconds,
                      "peak_rss_mb": peak_rss_mb(os.getpid())}))


def run_baseline(env: dict[str, str], source_url: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--baseline", source_url], cwd=ROOT, env=env,
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from standins import embedded_redis

    began = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="stockflow-bench-plusoft-"))
    redis_port, standin_port = embedded_redis.free_port(), embedded_redis.free_port()
    redis = embedded_redis.start(redis_port, work / "redis", appendonly=False)
    env = {**os.environ, "STOCKFLOW_ENV": "test", "PYTHONPATH": str(ROOT),
           "STOCKFLOW_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
           "STOCKFLOW_DATABASE_URL": f"sqlite:///{work / 'app.sqlite3'}",
           "STOCKFLOW_VAR_DIR": str(work / "var"),
           "STOCKFLOW_PLUSOFT_BASE_URL": f"http://127.0.0.1:{standin_port}/api/v1/carga",
           "STOCKFLOW_PLUSOFT_CHUNK_S": "20", "STOCKFLOW_LOG_LEVEL": "WARNING"}
    env.pop("STOCKFLOW_BROKER_URL", None)
    env.pop("STOCKFLOW_CONSINCO_URL", None)
    os.environ.clear()
    os.environ.update(env)
    standin = subprocess.Popen([sys.executable, "-m", "standins.plusoft", "--port",
                                str(standin_port), "--contar-apenas"], cwd=ROOT, env=env,
                               stderr=subprocess.DEVNULL)
    try:
        from core import migrate

        migrate.upgrade()
        t = time.monotonic()
        small = make_source(work / "src-10k.sqlite3", SMALL)
        large = make_source(work / "src-1m.sqlite3", LARGE)
        log(f"sources generated in {time.monotonic() - t:.1f}s")
        ours_small = run_ours(env, small)
        log(f"ours 10k: {ours_small}")
        ours_large = run_ours(env, large)
        log(f"ours 1M: {ours_large}")
        digests_mb = sent_rows_table_mb(work / "app.sqlite3")
        ours_again = run_ours(env, large, plusoft_has_nothing=False)
        log(f"ours 1M again, unchanged: {ours_again}; digests {digests_mb:.1f} MB")
        base_small = run_baseline(env, small)
        log(f"baseline 10k: {base_small}")
        base_large = run_baseline(env, large)
        log(f"baseline 1M: {base_large}")
        import requests

        received = requests.get(f"http://127.0.0.1:{standin_port}/admin/estado", timeout=5).json()
        log(f"stand-in received: {received['linhas']} in {received['lotes']} batches, "
            f"duplicate batches {received['duplicados']}, distinct {received['distintas']}; "
            f"total {time.monotonic() - began:.0f}s")
        assert received["linhas"]["vendas"] == 2 * (SMALL + LARGE), received
        assert ours_large["rows"] == LARGE and base_large["rows"] == LARGE
        assert ours_again["read"] == LARGE and ours_again["rows"] == 0
        result = {
            "rows": LARGE,
            "rows_per_s": round(ours_large["rows_per_s"]),
            "rss_10k_mb": round(ours_small["peak_rss_mb"], 1),
            "rss_1m_mb": round(ours_large["peak_rss_mb"], 1),
            "rss_growth_mb": round(ours_large["peak_rss_mb"] - ours_small["peak_rss_mb"], 1),
            "baseline_rows_per_s": round(base_large["rows_per_s"]),
            "baseline_rss_10k_mb": round(base_small["peak_rss_mb"], 1),
            "baseline_rss_1m_mb": round(base_large["peak_rss_mb"], 1),
            "baseline_rss_growth_mb": round(
                base_large["peak_rss_mb"] - base_small["peak_rss_mb"], 1),
            "unchanged_rows_per_s": round(ours_again["rows_per_s"]),
            "unchanged_rows_sent": ours_again["rows"],
            "sent_rows_table_mb": round(digests_mb, 1),
        }
        print(json.dumps(result))
    finally:
        standin.terminate()
        redis.terminate()
        standin.wait(timeout=10)
        redis.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--baseline":
        baseline_main(sys.argv[2])
    else:
        main()
