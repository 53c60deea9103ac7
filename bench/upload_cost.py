"""Web CPU of one receipt upload, ours against a baseline measured in the same minute.

The open loop (bench/_uploads_open_loop.py) gives the figure as users meet it, but between two
identical runs it moves by 0.5 to 1 ms: the OCR processes sharing the 2 cores leave the web
colder or warmer from one minute to the next. This bench pairs the two so the difference is
the code's: two gunicorn servers, each the Procfile's `web` line, one serving `web:create_app()`
(ours) and one `upload_cost:baseline_app()` (the same app with what this session replaced put
back: Werkzeug's multipart parser, and a Redis round trip per latency observation). Uploads
alternate between them (A B, B A, ...) 100 ms apart, each on a new connection, while 2 OCR
processes at nice 10 read receipts (RapidOCR and tesseract in a loop, as `worker_slow` does).
Each server's CPU is the sum over its processes' threads of /proc/<pid>/task/<tid>/schedstat
(nanoseconds, user and kernel), read before each upload and 20 ms after its answer (the
access log, the connection's close).

`.venv/bin/python bench/upload_cost.py [--uploads 200]` (about 1.5 minutes; MariaDB from
STOCKFLOW_BENCH_MYSQL_URL or root@127.0.0.1:3306, database stockflow_bench_upload_cost,
recreated). The last line is the JSON: `web_cpu_ms_per_upload` (ours),
`baseline_web_cpu_ms_per_upload` and their `ratio`.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MYSQL_URL = os.environ.get("STOCKFLOW_BENCH_MYSQL_URL",
                           "mysql+mysqldb://root@127.0.0.1:3306/stockflow_bench_upload_cost")
GAP_S = 0.1  # between two uploads (each server sees one every 200 ms, as in the open loop)
SETTLE_S = 0.02  # after an answer, for the server's own after-response work
OCR_PROCESSES = 2


def log(message: str) -> None:
    print(f"[bench upload_cost] {message}", file=sys.stderr, flush=True)


# --- the baseline app, served by gunicorn from this file --------------------------------------

def baseline_app() -> Any:
    """gunicorn --chdir bench 'upload_cost:baseline_app()': ours with Werkzeug's multipart
    parser and one Redis round trip per upload latency observed."""
    import flask

    from web import create_app
    from web.metrics import UPLOAD_LATENCY

    app = create_app()
    app.request_class = flask.Request

    def observe_now(seconds: float) -> None:
        UPLOAD_LATENCY._pending.append(seconds)  # noqa: SLF001 - the baseline's whole point
        UPLOAD_LATENCY.flush()

    UPLOAD_LATENCY.observe = observe_now  # type: ignore[method-assign]
    return app


# --- child mode: the OCR load -----------------------------------------------------------------

def ocr_load_main(seconds: float) -> None:
    """Read receipts with both offline engines at nice 10 until `seconds` have passed."""
    os.nice(10)
    from bench._uploads_open_loop import receipt_files
    from core.comprovantes.ocr.engines import OfflineEngine, TesseractEngine

    images = [data for _, data in receipt_files(6, 123, ("png",))]
    engines = (OfflineEngine(1), TesseractEngine())
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for data in images:
            for engine in engines:
                engine.read_image(data)


# --- the measurement ----------------------------------------------------------------------------

def cpu_ns(pids: list[int]) -> int:
    """CPU time (user + kernel) of every thread of these processes, in nanoseconds."""
    total = 0
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (FileNotFoundError, ProcessLookupError):
                pass  # a thread that ended since the listing
    return total


def send(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(raw)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def measure(uploads: int = 200) -> dict[str, Any]:
    from bench._platform import Service, procfile_commands
    from bench._uploads_open_loop import (
        KINDS,
        bench_env,
        fresh_database_with_token,
        receipt_files,
        request_bytes,
        wait_ready,
    )
    from standins import embedded_redis

    tmp = Path(tempfile.mkdtemp(prefix="stockflow-bench-upload-cost-"))
    redis_port = embedded_redis.free_port()
    redis_process = embedded_redis.start(redis_port, tmp / "redis", appendonly=False)
    env = bench_env(tmp, redis_port, MYSQL_URL)
    saved_environ = dict(os.environ)
    os.environ.update(env)
    servers: dict[str, tuple[int, Any]] = {}
    load: list[subprocess.Popen[bytes]] = []
    try:
        token = fresh_database_with_token(MYSQL_URL, "bench-upload-cost")

        web = procfile_commands()["web"]
        apps = {"ours": web, "baseline": web.replace("'web:create_app()'",
                                                     "--chdir bench 'upload_cost:baseline_app()'")}
        for name, command in apps.items():
            port = embedded_redis.free_port()
            (tmp / name).mkdir()
            service = Service("web", command, {**env, "STOCKFLOW_WEB_PORT": str(port)}, tmp / name)
            service.start()
            servers[name] = (port, service)
        for port, service in servers.values():
            wait_ready(f"http://127.0.0.1:{port}", service)
        log(f"rendering {2 * (uploads + 10)} receipts")
        requests_ = {name: [request_bytes(port, token, file_name, data) for file_name, data in
                            receipt_files(uploads + 10, seed, KINDS)]
                     for (name, (port, _)), seed in zip(servers.items(), (50_000, 60_000))}
        for name, (port, _) in servers.items():
            for raw in requests_[name][:10]:  # warm: imports, pools, the token cache
                send(port, raw)
        load = [subprocess.Popen([sys.executable, __file__, "--ocr-load",
                                  str(uploads * 2 * (GAP_S + SETTLE_S) + 60)], cwd=ROOT)
                for _ in range(OCR_PROCESSES)]
        time.sleep(5)  # the OCR engines loaded and reading
        pids = {name: [service.pid, *service.children()] for name, (_, service) in servers.items()}
        spent = dict.fromkeys(servers, 0)
        log(f"{uploads} uploads to each server, alternating, while {OCR_PROCESSES} OCR processes read")
        for index in range(uploads):
            for name in (("ours", "baseline") if index % 2 == 0 else ("baseline", "ours")):
                time.sleep(GAP_S)
                before = cpu_ns(pids[name])
                answer = send(servers[name][0], requests_[name][10 + index])
                time.sleep(SETTLE_S)
                spent[name] += cpu_ns(pids[name]) - before
                if answer.split(b" ", 2)[1] != b"202":
                    raise RuntimeError(f"{name} upload {index}: {answer[:300]!r}")
        ours, baseline = (spent[name] / uploads / 1e6 for name in ("ours", "baseline"))
        return {"web_cpu_ms_per_upload": round(ours, 2),
                "baseline_web_cpu_ms_per_upload": round(baseline, 2),
                "ratio": round(ours / baseline, 3), "uploads_each": uploads}
    finally:
        for process in load:
            process.kill()
        for _, service in servers.values():
            service.stop()
        redis_process.terminate()
        redis_process.wait(timeout=10)
        os.environ.clear()
        os.environ.update(saved_environ)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=200, help="uploads to each server")
    parser.add_argument("--ocr-load", type=float, help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args()
    if args.ocr_load is not None:
        ocr_load_main(args.ocr_load)
        return
    print(json.dumps(measure(args.uploads)), flush=True)


if __name__ == "__main__":
    main()
