"""Upload latency as users meet it: receipts arriving at a steady rate (an open loop) while the
OCR workers are busy.

Uploads are sent at scheduled moments (5 per second for 60 s by default), each on its own new
connection as separate people would, whatever the earlier ones are doing: a slow answer does
not hold the next upload back, so queueing in the server shows up in the figures instead of
slowing the client down (a closed loop of N clients always in flight hides it). Each latency
runs from the upload's scheduled moment to the last byte of its 202, so a client that is
late to send counts against the server too, never for it.

The platform is platform/Procfile's `web` line (gunicorn, gevent) and its `worker_slow` line
(2 Celery processes at nice 10, offline OCR) on MariaDB and the embedded Redis, started with
bench/_platform.py's Service. A backlog of scanned receipts is uploaded first so the OCR workers
are busy from the first measured upload to the last; every measured upload is a receipt too.
Web CPU is the gunicorn master's and workers' utime + stime (/proc/<pid>/stat) over the
measured uploads, divided by their number; the same CPU over 10 s with no request just before
(web_idle_cpu_ms_per_s) shows how much of it is not the uploads' at all.

`measure()` returns {"open_loop_p95_ms", "web_cpu_ms_per_upload", ...}; bench/comprovantes.py
merges it into its own figures. Alone: `.venv/bin/python bench/_uploads_open_loop.py
[--rate 5] [--duration 60]` (MariaDB from STOCKFLOW_BENCH_MYSQL_URL or root@127.0.0.1:3306,
database stockflow_bench_uploads, recreated); the last line printed is the JSON.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MYSQL_URL = os.environ.get("STOCKFLOW_BENCH_MYSQL_URL",
                           "mysql+mysqldb://root@127.0.0.1:3306/stockflow_bench_uploads")
SERVICES = ("web", "worker_slow")
# What people send, in this proportion (as bench/comprovantes.py's corpus): photos and
# screenshots mostly, some scanned PDFs.
KINDS = ("png", "jpeg", "png", "pdf-scan", "png", "jpeg")
BACKLOG = 24  # scanned receipts queued before the clock starts: ~30 s of OCR for 2 processes
WARM_UPLOADS = 20
IDLE_S = 10  # seconds the web's own CPU is measured with no request


def log(message: str) -> None:
    print(f"[bench uploads] {message}", file=sys.stderr, flush=True)


def cpu_ticks(pids: list[int], kernel_only: bool = False) -> int:
    """Return utime + stime (or stime alone: the kernel's work on the processes' behalf, such as
    loopback TCP and fsync) in clock ticks, from /proc/<pid>/stat."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (0 if kernel_only else int(fields[11])) + int(fields[12])  # utime, stime (fields 14, 15)
    return total


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def request_bytes(port: int, token: str, name: str, data: bytes) -> bytes:
    """One upload as raw HTTP/1.1 (multipart as a browser sends it), encoded before any clock."""
    from tests.comprovantes.support import browser_multipart

    body, content_type = browser_multipart({}, {"arquivo": (name, data)})
    head = (f"POST /api/comprovantes HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Accept: application/json\r\nConnection: close\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def send(port: int, raw: bytes) -> tuple[int, bytes]:
    """Send one request on a new connection; return (status, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        return int(status_line.split()[1]), await reader.readexactly(length)
    finally:
        writer.close()


async def open_loop(port: int, requests: list[bytes], rate_per_s: float) -> list[tuple[float, float]]:
    """Send request i at start + i / rate, whatever happened to the others; return, per
    upload, (ms from its scheduled moment to its answer, ms it was sent late)."""
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.5
    results: list[tuple[float, float]] = []

    async def one(index: int) -> None:
        scheduled = start + index / rate_per_s
        await asyncio.sleep(max(0.0, scheduled - loop.time()))
        late = loop.time() - scheduled
        status, body = await send(port, requests[index])
        if status != 202:
            raise RuntimeError(f"upload {index}: {status} {body[:300]!r}")
        results.append(((loop.time() - scheduled) * 1000, late * 1000))

    await asyncio.gather(*(one(i) for i in range(len(requests))))
    return results


def receipt_files(count: int, first_seed: int, kinds: tuple[str, ...]) -> list[tuple[str, bytes]]:
    """`count` different receipts (every file unique: none is a duplicate upload)."""
    from tests.comprovantes.receipts import (
        LAYOUTS,
        make_receipt,
        render_pdf,
        render_png,
    )

    files = []
    for n in range(count):
        receipt = make_receipt(LAYOUTS[n % len(LAYOUTS)], first_seed + n)
        kind = kinds[n % len(kinds)]
        if kind == "pdf-scan":
            files.append((f"r{n}.pdf", render_pdf(receipt, text_layer=False)))
        else:
            files.append((f"r{n}.{'jpg' if kind == 'jpeg' else 'png'}",
                          render_png(receipt, "JPEG" if kind == "jpeg" else "PNG")))
    return files


def wait_ready(url: str, service: Any, timeout_s: float = 60) -> None:
    import requests

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if service.exited() is not None:
            raise RuntimeError(f"web exited; log {service.log_path}")
        try:
            requests.get(f"{url}/healthz", timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer")


def bench_env(tmp: Path, redis_port: int, database_url: str) -> dict[str, str]:
    """The environment of the platform in an upload bench: development settings under `tmp`,
    the embedded Redis on `redis_port` as broker too, MariaDB, the offline OCR engine."""
    from bench._platform import VENV_BIN

    env = {**os.environ, "STOCKFLOW_ENV": "development", "STOCKFLOW_VAR_DIR": str(tmp / "var"),
           "STOCKFLOW_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "STOCKFLOW_DATABASE_URL": database_url,
           "STOCKFLOW_OCR_ENGINE": "offline", "STOCKFLOW_OCR_OFFLINE_THREADS": "1",
           "STOCKFLOW_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1", "STOCKFLOW_WEB_HOST": "127.0.0.1",
           # One bench user stands for everyone sending: the per-user limits must not throttle it.
           "STOCKFLOW_UPLOAD_LIMIT_PER_USER": "1000000 per minute",
           "STOCKFLOW_UPLOAD_DAILY_BYTES_PER_USER": str(10**12),
           "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}"}
    env.pop("STOCKFLOW_BROKER_URL", None)
    return env


def fresh_database_with_token(database_url: str, username: str) -> str:
    """Recreate the bench's MariaDB database, migrate it, and return the bearer token of a new
    admin (the settings are read from os.environ: call it with bench_env's applied)."""
    from core import db as core_db
    from core import migrate
    from core.settings import reset_settings
    from core.users import create_token, create_user

    reset_settings()
    core_db.recreate_mysql_database(database_url)
    core_db.dispose_engine()
    migrate.upgrade()
    create_user(username, "bench-password", role="admin")
    return create_token(username, username)


def measure(rate_per_s: float = 5.0, duration_s: float = 60.0) -> dict[str, Any]:
    """Start the platform, upload a backlog for the OCR workers, then `rate_per_s` uploads a
    second for `duration_s`; return the open-loop figures."""
    from bench._platform import Service, procfile_commands
    from standins import embedded_redis

    tmp = Path(tempfile.mkdtemp(prefix="stockflow-bench-uploads-"))
    redis_port, web_port = embedded_redis.free_port(), embedded_redis.free_port()
    redis_process = embedded_redis.start(redis_port, tmp / "redis", appendonly=False)
    env = {**bench_env(tmp, redis_port, MYSQL_URL), "STOCKFLOW_WEB_PORT": str(web_port)}
    saved_environ = dict(os.environ)
    os.environ.update(env)
    services: list[Any] = []
    try:
        token = fresh_database_with_token(MYSQL_URL, "bench-uploads")
        uploads = int(rate_per_s * duration_s)
        log(f"rendering {BACKLOG} + {WARM_UPLOADS} + {uploads} receipts")
        backlog = receipt_files(BACKLOG, 20_000, ("pdf-scan", "png"))
        warm = receipt_files(WARM_UPLOADS, 30_000, KINDS)
        measured = receipt_files(uploads, 40_000, KINDS)

        commands = procfile_commands()
        services = [Service(name, commands[name], env, tmp) for name in SERVICES]
        for service in services:
            service.start()
        base = f"http://127.0.0.1:{web_port}"
        wait_ready(base, services[0])
        from celery import Celery

        # An app of its own: a caller (bench/comprovantes.py) may hold core's, on another broker.
        control = Celery(broker=env["STOCKFLOW_REDIS_URL"]).control
        deadline = time.monotonic() + 60
        while not control.ping(timeout=0.5):
            if time.monotonic() > deadline:
                raise TimeoutError("OCR workers did not answer a ping")
        log("warming the web workers, queueing the OCR backlog")
        asyncio.run(open_loop(web_port, [request_bytes(web_port, token, n, d) for n, d in warm + backlog], 20))
        requests_ = [request_bytes(web_port, token, name, data) for name, data in measured]
        web_pids = [services[0].pid, *services[0].children()]
        # What the web processes spend with no request at all (timers, the live-stream hub):
        # part of every figure per upload below, whatever the uploads cost.
        idle_before = cpu_ticks(web_pids)
        time.sleep(IDLE_S)
        web_idle_ms_per_s = (cpu_ticks(web_pids) - idle_before) * 1000 / os.sysconf("SC_CLK_TCK") / IDLE_S
        ticks_before, client_before = cpu_ticks(web_pids), time.process_time()
        kernel_before = cpu_ticks(web_pids, kernel_only=True)
        log(f"{uploads} uploads at {rate_per_s:g}/s (open loop) while the workers read")
        results = asyncio.run(open_loop(web_port, requests_, rate_per_s))
        web_cpu_ms = (cpu_ticks(web_pids) - ticks_before) * 1000 / os.sysconf("SC_CLK_TCK") / uploads
        web_kernel_ms = (cpu_ticks(web_pids, kernel_only=True) - kernel_before) * 1000 / os.sysconf("SC_CLK_TCK") / uploads
        client_cpu_ms = (time.process_time() - client_before) * 1000 / uploads

        from sqlalchemy import func, select

        from core.db import session_scope
        from core.models import Job

        with session_scope() as session:
            unread = session.scalar(select(func.count()).select_from(Job).where(Job.status.in_(("queued", "started"))))
        latencies = [ms for ms, _ in results]
        late = [ms for _, ms in results]
        return {
            "open_loop_p95_ms": round(percentile(latencies, 95), 1),
            "web_cpu_ms_per_upload": round(web_cpu_ms, 2),
            "open_loop_p50_ms": round(statistics.median(latencies), 1),
            "open_loop_p99_ms": round(percentile(latencies, 99), 1),
            "open_loop_max_ms": round(max(latencies), 1),
            "open_loop_uploads": len(results), "open_loop_rate_per_s": rate_per_s,
            "open_loop_client_late_p95_ms": round(percentile(late, 95), 1),
            "open_loop_client_cpu_ms_per_upload": round(client_cpu_ms, 2),
            "web_kernel_cpu_ms_per_upload": round(web_kernel_ms, 2),  # of web_cpu_ms_per_upload
            "web_idle_cpu_ms_per_s": round(web_idle_ms_per_s, 2),
            # Receipts still waiting for OCR when the last upload was answered: > 0 means the
            # workers were busy the whole time.
            "open_loop_ocr_backlog_at_end": unread,
        }
    finally:
        for service in services:
            service.stop()
        redis_process.terminate()
        try:
            redis_process.wait(timeout=10)
        except Exception:  # noqa: BLE001 - a bench cleaning up: kill what does not stop
            redis_process.kill()
        os.environ.clear()
        os.environ.update(saved_environ)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=5.0, help="uploads per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of uploads")
    args = parser.parse_args()
    print(json.dumps(measure(args.rate, args.duration)), flush=True)


if __name__ == "__main__":
    main()
