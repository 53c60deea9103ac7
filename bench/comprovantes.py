"""Benchmark: receipt uploads and offline OCR, on MariaDB with the production process layout.

Measured in one run, on the same embedded Redis, database and receipts:
- ours, upload: 20 concurrent clients (bearer token, one keep-alive connection each, posting
  again as soon as an answer comes: 20 uploads always in flight) post receipts to
  POST /api/comprovantes on gunicorn laid out as platform/Procfile's `web` line (gevent, its
  --workers, access log on) while 2 Celery worker processes OCR the queue at the Procfile's
  `worker_slow` priority (`nice -n 10`) -> upload_p50_ms, upload_p95_ms: the time from the
  request's first byte sent to the 202's last byte received, as a client sees it. The client
  is one asyncio loop on raw sockets with every multipart body encoded beforehand, so the
  timed span holds no client-side encoding; its own CPU per upload is reported
  (client_cpu_ms_per_upload), and so are gunicorn's own request times from its access log
  (upload_server_p50_ms / p95: after the request head is read, to the response written) and
  the web workers' CPU per upload (web_cpu_ms_per_upload);
- ours, throughput: a corpus of 108 generated receipts (tests/comprovantes/receipts.py: 27 bank
  and app layouts x 4, each in a different shape: PNG, JPEG, a messaging app's low-resolution
  JPEG, a phone screenshot, a scanned PDF, a PDF with text) uploaded, then read by the 2 worker
  processes on the offline engine (RapidOCR + tesseract); the clock runs from the first upload
  to the last job finished -> receipts_per_s;
- field accuracy: every corpus receipt's 10 fields (amount, date/time, E2E id, payer name /
  document / institution, payee name / document / institution / PIX key) against what was
  printed -> field_accuracy (names and institutions ignoring case, accents and spaces),
  field_accuracy_strict (every character); on the 9 layouts kept out of the parser's tuning
  (receipts.HELD_OUT), the 10 fields plus the payee check -> field_accuracy_unseen_layouts
  (field_accuracy_new_unseen_layouts: on the 4 of them whose failures were never looked at,
  receipts.NEW_HELD_OUT; field_accuracy_tuned_layouts: on the others); payer and payee names exactly as
  printed, accents and spaces included -> name_accuracy_strict; the payee check against the one
  the printed payee gives -> payee_check_accuracy; receipts sent to review (a doubtful field, a
  required field not read, or the payee check "indeterminado": core/comprovantes/review.py)
  -> review_rate;
- the seed's way, for reference: OCR inside the request (seed 004 before its queue): the
  time one upload would wait, single-threaded offline OCR + parsing -> baseline_sync_upload_p50_ms.

Run: .venv/bin/python bench/comprovantes.py [--reading]   (--reading: only the reading figures, the
corpus read in-process with both offline engines, about 4 minutes; otherwise MariaDB from STOCKFLOW_BENCH_MYSQL_URL, or
root@127.0.0.1:3306, database stockflow_bench_comprovantes, recreated). The web workers and the OCR
workers' nice value come from platform/Procfile; STOCKFLOW_BENCH_WEB_WORKERS and
STOCKFLOW_BENCH_OCR_NICE override them for experiments. Last line: JSON.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MYSQL_URL = os.environ.get("STOCKFLOW_BENCH_MYSQL_URL",
                           "mysql+mysqldb://root@127.0.0.1:3306/stockflow_bench_comprovantes")
CLIENTS = 20
PER_LAYOUT = 4
# One receipt in three is paid to the company itself (the payee check must say "confere").
COMPANY_CNPJ = "11.222.333/0001-81"
COMPANY_NAME = "Stockflow Comércio Ltda"
EXTRA_UPLOADS = 100  # posted while the corpus is being OCR'd, for the latency figures
WORKER_PROCESSES = 2
PROCFILE = ROOT / "platform" / "Procfile"
# The whole run stays under 5 minutes: receipts not read by then are reported, not waited for.
READ_DEADLINE_S = 300


def log(message: str) -> None:
    print(f"[bench comprovantes] {message}", file=sys.stderr, flush=True)


def render(receipt: Any, kind: str) -> tuple[bytes, str]:
    from tests.comprovantes.receipts import EXTENSIONS
    from tests.comprovantes.receipts import render as render_receipt

    data, mime = render_receipt(receipt, kind)
    return data, EXTENSIONS[mime]


def bench_corpus() -> list[tuple[Any, str]]:
    """(receipt, kind) of every layout, one receipt in three paid to the company."""
    from tests.comprovantes.receipts import LAYOUTS, Party, corpus, make_receipt

    by_layout = corpus(LAYOUTS, PER_LAYOUT)
    # layouts interleaved: receipts left unread at the deadline are spread over all of them
    ordered = [by_layout[i * PER_LAYOUT + j] for j in range(PER_LAYOUT) for i in range(len(LAYOUTS))]
    out = []
    for index, (receipt, kind) in enumerate(ordered):
        if index % 3 == 0:
            seed = int(receipt.e2e[-4:], 36)
            company = Party(COMPANY_NAME, COMPANY_CNPJ, "BANCO INTER S.A.", COMPANY_CNPJ)
            receipt = make_receipt(receipt.layout, seed, recebedor=company)
        out.append((receipt, kind))
    return out


def reading_figures(rows: list[tuple[Any, dict[str, Any] | None, dict[str, Any] | None]]) -> dict[str, Any]:
    """The accuracy and review figures of (receipt, saved campos, saved validacao) rows."""
    from core.comprovantes import pix
    from core.comprovantes.recebedor import validar_recebedor
    from core.comprovantes.review import motivos
    from core.settings import get_settings
    from tests.comprovantes.receipts import (
        HELD_OUT,
        NAME_FIELDS,
        NEW_HELD_OUT,
        mismatches,
    )

    totals = {"fields": 0, "wrong": 0, "wrong_strict": 0, "names": 0, "names_wrong": 0, "review": 0,
              "payee": 0, "payee_wrong": 0, "held_fields": 0, "held_wrong": 0,
              "tuned_fields": 0, "tuned_wrong": 0, "new_held_fields": 0, "new_held_wrong": 0}
    for receipt, campos, validacao in rows:
        dados = pix.DadosPix()
        if campos:
            dados.valor = Decimal(campos["valor"]) if campos.get("valor") else None
            dados.data_hora, dados.id_transacao = campos.get("data_hora"), campos.get("id_transacao")
            dados.pagador = pix.Parte(**campos["pagador"])
            dados.recebedor = pix.Parte(**campos["recebedor"])
        expected = receipt.expected()
        bad = mismatches(receipt, dados)
        strict = mismatches(receipt, dados, strict_text=True)
        truth = validar_recebedor(pix.Parte(**{k.split(".")[1]: v for k, v in expected.items()
                                                if k.startswith("recebedor.")}), get_settings()).status
        payee_wrong = (validacao or {}).get("status") != truth
        totals["fields"] += len(expected)
        totals["wrong"] += len(bad)
        totals["wrong_strict"] += len(strict)
        totals["payee"] += 1
        totals["payee_wrong"] += payee_wrong
        for name in NAME_FIELDS:
            if expected[name] is not None:
                totals["names"] += 1
                totals["names_wrong"] += name in strict
        group = "held" if receipt.layout in HELD_OUT else "tuned"
        totals[f"{group}_fields"] += len(expected) + 1
        totals[f"{group}_wrong"] += len(strict) + payee_wrong
        if receipt.layout in NEW_HELD_OUT:
            totals["new_held_fields"] += len(expected) + 1
            totals["new_held_wrong"] += len(strict) + payee_wrong
        totals["review"] += bool(motivos(campos, validacao))
        if strict or payee_wrong:
            log(f"{receipt.layout}{' (held out)' if group == 'held' else ''}: {strict}"
                + (f" payee check {validacao} != {truth}" if payee_wrong else ""))

    def share(wrong: str, total: str) -> float | None:
        return round(1 - totals[wrong] / totals[total], 4) if totals[total] else None

    return {
        "field_accuracy": share("wrong", "fields"),
        "field_accuracy_strict": share("wrong_strict", "fields"),
        "field_accuracy_unseen_layouts": share("held_wrong", "held_fields"),
        # the held-out layouts added last, the only ones no failure was ever looked at
        "field_accuracy_new_unseen_layouts": share("new_held_wrong", "new_held_fields"),
        "field_accuracy_tuned_layouts": share("tuned_wrong", "tuned_fields"),
        "name_accuracy_strict": share("names_wrong", "names"),
        "payee_check_accuracy": share("payee_wrong", "payee"),
        "review_rate": round(totals["review"] / len(rows), 4) if rows else None,
    }


def reading_only() -> dict[str, Any]:
    """Read the corpus in this process, offline engines, no web or queue: the reading figures
    alone (`--reading`), for quick measurements of the readers and the parser."""
    from core.comprovantes.ocr.engines import (
        OfflineEngine,
        TesseractEngine,
        tesseract_available,
    )
    from core.comprovantes.ocr.reading import read_receipt
    from core.comprovantes.recebedor import validar_recebedor
    from core.settings import get_settings, reset_settings

    os.environ.update({"STOCKFLOW_COMPANY_CNPJ": COMPANY_CNPJ, "STOCKFLOW_COMPANY_NAME": COMPANY_NAME,
                       "STOCKFLOW_COMPANY_PIX_KEYS": COMPANY_CNPJ})
    reset_settings()
    engines: list[Any] = [OfflineEngine(threads=1)] + ([TesseractEngine()] if tesseract_available() else [])
    rows = []
    started = time.monotonic()
    settings = get_settings()
    for receipt, kind in bench_corpus():
        data, mime = render_receipt_mime(receipt, kind)
        read = read_receipt(data, mime, 5, engines=engines, threshold=settings.ocr_review_confidence)
        validacao = validar_recebedor(read.dados.recebedor, settings)
        rows.append((receipt, read.dados.as_json(), validacao.as_json()))
    figures = reading_figures(rows)
    figures.update({"corpus": len(rows),
                    "read_s_per_receipt": round((time.monotonic() - started) / len(rows), 2),
                    "engines": [engine.name for engine in engines]})
    return figures


def render_receipt_mime(receipt: Any, kind: str) -> tuple[bytes, str]:
    from tests.comprovantes.receipts import render as render_receipt

    return render_receipt(receipt, kind)


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


def procfile_layout() -> tuple[int, int]:
    """Return (gunicorn workers of the `web` line, nice value of the `worker_slow` line)."""
    lines = dict(line.split(":", 1) for line in PROCFILE.read_text().splitlines()
                 if line and not line.startswith("#") and ":" in line)
    workers = re.search(r"--workers\s+(\d+)", lines["web"])
    nice = re.search(r"\bnice\s+-n\s+(\d+)", lines["worker_slow"])
    return int(workers.group(1)) if workers else 1, int(nice.group(1)) if nice else 0


async def post_all(port: int, token: str, uploads: list[tuple[str, bytes]],
                   clients: int) -> list[tuple[float, dict[str, Any]]]:
    """Post every upload with `clients` concurrent keep-alive connections; return (ms, answer) in order.

    Each request is encoded before its clock starts; the clock runs from the first byte
    written to the last byte of the answer read, so it holds the server's time and the
    network, not the client's encoding or JSON decoding.
    """
    from tests.comprovantes.support import browser_multipart

    requests_ = []
    for name, data in uploads:
        body, content_type = browser_multipart({}, {"arquivo": (name, data)})
        requests_.append((f"POST /api/comprovantes HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                          f"Authorization: Bearer {token}\r\nAccept: application/json\r\n"
                          f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
                          ).encode() + body)
    results: list[tuple[float, dict[str, Any]] | None] = [None] * len(uploads)
    pending = iter(range(len(uploads)))

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for index in pending:
                started = time.perf_counter()
                writer.write(requests_[index])
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                answer = await reader.readexactly(length)
                elapsed = (time.perf_counter() - started) * 1000
                status = int(status_line.split()[1])
                if status != 202:
                    raise RuntimeError(f"upload {uploads[index][0]}: {status} {answer[:300]!r}")
                results[index] = (elapsed, json.loads(answer))
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return [result for result in results if result is not None]


def cpu_seconds(pids: list[int]) -> float:
    """Return the user + system CPU seconds the processes have used so far."""
    import psutil

    total = 0.0
    for pid in pids:
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system
    return total


def server_times_ms(access_log: Path) -> list[float]:
    """Return gunicorn's request time (ms) of every upload in its access log (last field, in us)."""
    return [int(line.rsplit(" ", 1)[1]) / 1000 for line in access_log.read_text().splitlines()
            if '"POST /api/comprovantes ' in line]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def main() -> None:
    from standins import embedded_redis

    tmp = Path(tempfile.mkdtemp(prefix="stockflow-bench-ocr-"))
    redis_port = embedded_redis.free_port()
    web_port = embedded_redis.free_port()
    redis_process = embedded_redis.start(redis_port, tmp / "redis", appendonly=False)
    env = {**os.environ, "STOCKFLOW_ENV": "development", "STOCKFLOW_VAR_DIR": str(tmp / "var"),
           "STOCKFLOW_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "STOCKFLOW_DATABASE_URL": MYSQL_URL,
           "STOCKFLOW_OCR_ENGINE": "offline", "STOCKFLOW_OCR_OFFLINE_THREADS": "1",
           "STOCKFLOW_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1",
           # One bench user sends the whole corpus: the per-user upload limits must not throttle it.
           "STOCKFLOW_UPLOAD_LIMIT_PER_USER": "1000000 per minute",
           "STOCKFLOW_UPLOAD_DAILY_BYTES_PER_USER": str(10**12),
           "STOCKFLOW_COMPANY_CNPJ": COMPANY_CNPJ, "STOCKFLOW_COMPANY_NAME": COMPANY_NAME,
           "STOCKFLOW_COMPANY_PIX_KEYS": COMPANY_CNPJ}
    env.pop("STOCKFLOW_BROKER_URL", None)
    os.environ.update(env)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        from core.db import recreate_mysql_database

        recreate_mysql_database(MYSQL_URL)
        from core import migrate

        migrate.upgrade()
        from core.users import create_token, create_user

        create_user("bench", "bench-password", role="admin")
        token = create_token("bench", "bench comprovantes")

        from tests.comprovantes.receipts import LAYOUTS, make_receipt

        log("rendering the corpus and the extra uploads")
        corpus = []
        for index, (receipt, kind) in enumerate(bench_corpus()):
            data, ext = render(receipt, kind)
            corpus.append((receipt, f"{receipt.layout}-{index}.{ext}", data))
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

        web_workers, ocr_nice = procfile_layout()
        web_workers = int(os.environ.get("STOCKFLOW_BENCH_WEB_WORKERS", web_workers))
        ocr_nice = int(os.environ.get("STOCKFLOW_BENCH_OCR_NICE", ocr_nice))
        log(f"starting gunicorn (gevent, {web_workers} workers) and {WORKER_PROCESSES} OCR worker "
            f"processes at nice {ocr_nice}")
        access_log = tmp / "access.log"
        # The servers' own output goes to stderr: stdout's last line is the JSON result.
        # As the Procfile's `web` line, with the access log written to a file and the request
        # time (microseconds) appended to its default format.
        processes.append(subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "--worker-class", "gevent", "--workers", str(web_workers),
             "--bind", f"127.0.0.1:{web_port}", "--log-level", "warning",
             "--access-logfile", str(access_log),
             "--access-logformat", '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s',
             "web:create_app()"], cwd=ROOT, env=env, stdout=sys.stderr))
        processes.append(subprocess.Popen(
            ["nice", "-n", str(ocr_nice), sys.executable, "-m", "celery", "-A", "tasks", "worker", "--queues", "comprovantes",
             "--concurrency", str(WORKER_PROCESSES), "--pool", "prefork", "--hostname", "bench-ocr@%h",
             "--loglevel", "WARNING", "--without-mingle", "--without-gossip"], cwd=ROOT, env=env, stdout=sys.stderr))
        base = f"http://127.0.0.1:{web_port}"
        wait_http(f"{base}/healthz", processes[0])
        from core.celery_app import celery_app

        deadline = time.monotonic() + 60
        while not celery_app.control.ping(timeout=0.5):
            if time.monotonic() > deadline:
                raise TimeoutError("OCR workers did not answer a ping")

        import psutil
        import requests

        # warm each gunicorn worker's imports and connections (not measured): concurrent
        # requests on new connections, so that every worker gets some
        def warm(_: int) -> None:
            requests.get(f"{base}/api/comprovantes", headers={"Authorization": f"Bearer {token}"},
                         timeout=30).raise_for_status()

        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(warm, range(2 * CLIENTS)))
        web_pids = [child.pid for child in psutil.Process(processes[0].pid).children()]
        access_log.write_text("")  # the warm-up requests are not measured
        web_cpu_before, client_cpu_before = cpu_seconds(web_pids), time.process_time()
        log(f"uploading the corpus ({len(corpus)} receipts) with {CLIENTS} clients")
        started = time.monotonic()
        corpus_answers = asyncio.run(post_all(web_port, token, [(n, d) for _, n, d in corpus], CLIENTS))
        log(f"uploading {EXTRA_UPLOADS} more while the workers read the corpus")
        extra_answers = asyncio.run(post_all(web_port, token, extras, CLIENTS))
        uploads_done = len(corpus_answers) + len(extra_answers)
        web_cpu_ms = (cpu_seconds(web_pids) - web_cpu_before) * 1000 / uploads_done
        client_cpu_ms = (time.process_time() - client_cpu_before) * 1000 / uploads_done

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

        rows, failed = [], 0
        for (receipt, _, _), (_, answer) in zip(corpus, corpus_answers):
            if answer["job_id"] in pending:
                continue
            saved = registry.get(answer["comprovante_id"])
            assert saved is not None
            failed += not saved.campos
            rows.append((receipt, saved.campos, saved.validacao_recebedor))
        figures = reading_figures(rows)
        fields = sum(len(receipt.expected()) for receipt, _, _ in rows)

        latencies = [ms for ms, _ in corpus_answers + extra_answers]
        server_ms = server_times_ms(access_log)
        result = {
            "upload_p50_ms": round(statistics.median(latencies), 1),
            "upload_p95_ms": round(percentile(latencies, 95), 1),
            "upload_server_p50_ms": round(statistics.median(server_ms), 1),
            "upload_server_p95_ms": round(percentile(server_ms, 95), 1),
            "web_cpu_ms_per_upload": round(web_cpu_ms, 2),
            "client_cpu_ms_per_upload": round(client_cpu_ms, 2),
            "receipts_per_s": round(read / elapsed, 3),
            **figures,
            "baseline_sync_upload_p50_ms": round(statistics.median(baseline_ms), 1),
            "uploads": len(latencies), "corpus": len(corpus), "corpus_read": read, "fields": fields,
            "failed_jobs": failed,
            "web_workers": web_workers, "ocr_worker_processes": WORKER_PROCESSES, "ocr_worker_nice": ocr_nice,
            "clients": CLIENTS,
        }
        for process in processes:  # the open-loop run starts its own platform, on a quiet machine
            process.terminate()
        from bench._uploads_open_loop import measure as open_loop_figures
        result.update(open_loop_figures())
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
    if "--reading" in sys.argv:
        # the reading figures alone, in this process (no web, queue or database)
        print(json.dumps(reading_only()), flush=True)
    else:
        main()
