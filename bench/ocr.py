"""Benchmark: receipt uploads and offline OCR, on MariaDB with the production process layout.

Measured in one run, on the same embedded Redis, database and receipts:
- ours, upload: 20 concurrent HTTP clients (bearer token) post receipts to POST /api/comprovantes
  on gunicorn (gevent, 2 workers, as the Procfile runs it) while 2 Celery worker processes
  OCR the queue (STOCKFLOW_BENCH_OCR_NICE=10 runs them at a lower CPU priority, as the
  deployment docs recommend) -> upload_p50_ms, upload_p95_ms (time to the 202);
- ours, throughput: a corpus of 54 generated receipts (9 bank layouts x 6: PNG, JPEG and
  scanned PDFs) uploaded, then read by the 2 worker processes on the offline engine; the clock
  runs from the first upload to the last job finished -> receipts_per_s;
- field accuracy: every corpus receipt's 10 fields (amount, date/time, E2E id, payer name /
  document / institution, payee name / document / institution / PIX key) against what was
  printed -> field_accuracy (names and institutions ignoring case, accents and spaces, which the
  offline recognizer drops), field_accuracy_strict (every character);
- the seed's way, for reference: OCR inside the request (seed 004 before its queue): the
  time one upload would wait, single-threaded offline OCR + parsing -> baseline_sync_upload_p50_ms.

Run: .venv/bin/python bench/ocr.py   (MariaDB from STOCKFLOW_BENCH_MYSQL_URL, or
root@127.0.0.1:3306, database stockflow_bench_ocr, recreated). Last line: JSON.
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MYSQL_URL = os.environ.get("STOCKFLOW_BENCH_MYSQL_URL",
                           "mysql+mysqldb://root@127.0.0.1:3306/stockflow_bench_ocr")
CLIENTS = 20
PER_LAYOUT = 6
KINDS = ("png", "jpeg", "png", "pdf-scan", "png", "jpeg")
EXTRA_UPLOADS = 100  # posted while the corpus is being OCR'd, for the latency figures
WORKER_PROCESSES = 2
OCR_NICE = int(os.environ.get("STOCKFLOW_BENCH_OCR_NICE", "0"))
# The whole run stays under 5 minutes: receipts not read by then are reported, not waited for.
READ_DEADLINE_S = 180


def log(message: str) -> None:
    print(f"[bench ocr] {message}", file=sys.stderr, flush=True)


def recreate_database(url: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    with create_engine(parsed.set(database="")).connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{parsed.database}`")
        conn.exec_driver_sql(f"CREATE DATABASE `{parsed.database}` CHARACTER SET utf8mb4 "
                             "COLLATE utf8mb4_unicode_ci")


def render(receipt: Any, kind: str) -> tuple[bytes, str]:
    from tests.ocr.receipts import render_pdf, render_png

    if kind == "png":
        return render_png(receipt), "png"
    if kind == "jpeg":
        return render_png(receipt, "JPEG"), "jpg"
    return render_pdf(receipt, text_layer=False), "pdf"


def wait_http(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    import requests

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"web server exited with {process.returncode}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def main() -> None:
    from core import embedded_redis

    tmp = Path(tempfile.mkdtemp(prefix="stockflow-bench-ocr-"))
    redis_port = embedded_redis.free_port()
    web_port = embedded_redis.free_port()
    redis_process = embedded_redis.start(redis_port, tmp / "redis", appendonly=False)
    env = {**os.environ, "STOCKFLOW_ENV": "development", "STOCKFLOW_VAR_DIR": str(tmp / "var"),
           "STOCKFLOW_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "STOCKFLOW_DATABASE_URL": MYSQL_URL,
           "STOCKFLOW_OCR_ENGINE": "offline", "STOCKFLOW_OCR_OFFLINE_THREADS": "1",
           "STOCKFLOW_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}
    env.pop("STOCKFLOW_BROKER_URL", None)
    os.environ.update(env)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        recreate_database(MYSQL_URL)
        from core import migrate

        migrate.upgrade()
        from web.auth import create_token, create_user

        create_user("bench", "bench-password", is_admin=True)
        token = create_token("bench", "bench ocr")

        from tests.ocr.receipts import LAYOUTS, make_receipt

        log("rendering the corpus and the extra uploads")
        corpus = []
        for layout in LAYOUTS:
            for index in range(PER_LAYOUT):
                receipt = make_receipt(layout, 1000 + index)
                data, ext = render(receipt, KINDS[index])
                corpus.append((receipt, f"{layout}-{index}.{ext}", data))
        extras = [(f"extra-{n}.png", render(make_receipt(LAYOUTS[n % len(LAYOUTS)], 5000 + n), "png")[0])
                  for n in range(EXTRA_UPLOADS)]

        log("baseline: OCR inside the request (seed 004 before the queue)")
        from core.comprovantes import pix
        from core.comprovantes.ocr.engines import OfflineEngine
        from core.comprovantes.ocr.reading import read_text

        engine = OfflineEngine(threads=1)
        mimes = {"png": "image/png", "jpg": "image/jpeg", "pdf": "application/pdf"}
        baseline_ms = []
        for receipt, name, data in corpus[::11][:5]:
            started = time.perf_counter()
            pix.parse(read_text(data, mimes[name.rsplit(".", 1)[1]], 5, engine).text)
            baseline_ms.append((time.perf_counter() - started) * 1000)
        del engine

        log("starting gunicorn (gevent, 2 workers) and 2 OCR worker processes")
        processes.append(subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "--worker-class", "gevent", "--workers", "2",
             "--bind", f"127.0.0.1:{web_port}", "--log-level", "warning", "web:create_app()"],
            cwd=ROOT, env=env))
        # OCR_NICE > 0 runs the OCR workers at a lower CPU priority than the web (what the
        # deployment docs recommend); 0 is the Procfile as it is.
        processes.append(subprocess.Popen(
            ["nice", "-n", str(OCR_NICE), sys.executable, "-m", "celery", "-A", "tasks", "worker", "--queues", "ocr",
             "--concurrency", str(WORKER_PROCESSES), "--pool", "prefork", "--hostname", "bench-ocr@%h",
             "--loglevel", "WARNING", "--without-mingle", "--without-gossip"], cwd=ROOT, env=env))
        base = f"http://127.0.0.1:{web_port}"
        wait_http(f"{base}/healthz", processes[0])
        from tasks.app import celery_app

        deadline = time.monotonic() + 60
        while not celery_app.control.ping(timeout=0.5):
            if time.monotonic() > deadline:
                raise TimeoutError("OCR workers did not answer a ping")

        import requests

        local = threading.local()

        def session() -> Any:
            if not hasattr(local, "http"):
                local.http = requests.Session()
                local.http.headers["Authorization"] = f"Bearer {token}"
            return local.http

        def upload(name: str, data: bytes) -> tuple[float, dict[str, Any]]:
            started = time.perf_counter()
            response = session().post(f"{base}/api/comprovantes", files={"arquivo": (name, data)},
                                      timeout=60)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 202:
                raise RuntimeError(f"upload {name}: {response.status_code} {response.text}")
            return elapsed, response.json()

        with ThreadPoolExecutor(CLIENTS) as pool:
            # warm each gunicorn worker's imports and connections (not measured)
            list(pool.map(lambda _: session().get(f"{base}/api/comprovantes", timeout=30), range(CLIENTS)))
            log(f"uploading the corpus ({len(corpus)} receipts) with {CLIENTS} clients")
            started = time.monotonic()
            corpus_answers = list(pool.map(lambda item: upload(item[1], item[2]), corpus))
            log(f"uploading {EXTRA_UPLOADS} more while the workers read the corpus")
            extra_answers = list(pool.map(lambda item: upload(*item), extras))

        from core import jobs

        job_ids = [answer["job_id"] for _, answer in corpus_answers]
        pending = set(job_ids)
        while pending and time.monotonic() - started < READ_DEADLINE_S:
            for job_id in list(pending):
                status = jobs.get_status(job_id)
                if status and status["status"] in ("finished", "failed"):
                    pending.discard(job_id)
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        read = len(corpus) - len(pending)
        if pending:
            log(f"{len(pending)} corpus receipts still unread after {READ_DEADLINE_S} s (busy machine?)")

        from core.comprovantes import registry
        from tests.ocr.receipts import mismatches

        fields = wrong = wrong_strict = failed = 0
        for (receipt, _, _), (_, answer) in zip(corpus, corpus_answers):
            if answer["job_id"] in pending:
                continue
            saved = registry.get(answer["comprovante_id"])
            assert saved is not None
            dados = pix.DadosPix()
            if saved.campos:
                dados.valor = saved.valor
                dados.data_hora, dados.id_transacao = saved.data_hora, saved.id_transacao
                dados.pagador = pix.Parte(**saved.campos["pagador"])
                dados.recebedor = pix.Parte(**saved.campos["recebedor"])
            else:
                failed += 1
            expected = receipt.expected()
            fields += len(expected)
            bad = mismatches(receipt, dados)
            wrong += len(bad)
            wrong_strict += len(mismatches(receipt, dados, strict_text=True))
            if bad:
                log(f"{receipt.layout}: {bad}")

        latencies = [ms for ms, _ in corpus_answers + extra_answers]
        result = {
            "upload_p50_ms": round(statistics.median(latencies), 1),
            "upload_p95_ms": round(percentile(latencies, 95), 1),
            "receipts_per_s": round(read / elapsed, 3),
            "field_accuracy": round(1 - wrong / fields, 4),
            "field_accuracy_strict": round(1 - wrong_strict / fields, 4),
            "baseline_sync_upload_p50_ms": round(statistics.median(baseline_ms), 1),
            "uploads": len(latencies), "corpus": len(corpus), "corpus_read": read, "fields": fields,
            "failed_jobs": failed,
            "ocr_worker_processes": WORKER_PROCESSES, "ocr_worker_nice": OCR_NICE, "clients": CLIENTS,
        }
        print(json.dumps(result), flush=True)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        redis_process.terminate()
        redis_process.wait(timeout=10)
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
