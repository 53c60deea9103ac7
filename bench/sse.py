"""Benchmark: 1,000 EventSource clients on one gevent web worker, against stock flask-sse.

Measured in one run, on the same embedded Redis, clients, channels and publishing rate:
- ours: the real web app as production serves it but with ONE worker (`gunicorn --worker-class
  gevent --workers 1 --worker-connections 3000 'web:create_app()'`, SQLite database, bearer
  tokens: 5 streams per user, under the per-user cap). N clients (default 1,000) hold
  `GET /stream?channel=store:BENCH-<i % 50>` open; once every one has its `retry:` line (the
  server fixes each stream's position before answering), a publisher process calls
  core.sse.publish 100 times a second round-robin over the 50 channels for 20 s, each event's
  data {"seq": n, "t": time.time()} -> p50_ms / p99_ms publish-to-delivery (time.time() at the
  client minus t, every delivery at every client); lost / duplicated / unexpected: per client,
  the seqs of its channel it did not get / got twice / got but were not its channel's;
  errors: refused connections, non-200 answers, streams dropped (an EventSource reconnects
  with Last-Event-ID after `retry:`; the drop still counts) and clients not connected before
  publishing started. redis_connections / web_rss_mb: the most TCP connections to the Redis
  port the gunicorn WORKER process held, and its largest RSS, sampled every second (by a
  separate process) while all clients were connected and events flowed.
- flask_sse_*: the same clients against stock Flask-SSE 1.0.0 (its blueprint at /stream, one
  Redis pub/sub connection per client, no auth), on the same gunicorn command line; published
  as flask-sse does (PUBLISH of its Message JSON), started once PUBSUB NUMSUB shows every client
  subscribed (flask-sse sends nothing, not even headers, before its first event).
Targets (from the issue): p99 < 250 ms, redis_connections <= 4, web_rss_mb <= 250, nothing
lost or duplicated at any client.

Run: .venv/bin/python bench/sse.py [--clients 1000] [--seconds 20] [--rate 100]
Progress on stderr; last line of stdout: JSON. Only 127.0.0.1 is contacted.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import math
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CHANNELS = 50
STREAMS_PER_USER = 5  # the web caps concurrent streams per user at 6, as browsers do
HEARTBEAT_S = 5
CONNECT_CONCURRENCY = 100  # TCP connects + requests in flight at once while the clients arrive
CONNECT_TIMEOUT_S = 60  # every client connected (or failed) by then, or it counts as an error
DRAIN_S = 10  # after the last publish, how long clients may take to get the last events
MAX_RECONNECTS = 3  # per client, as an EventSource would after a dropped stream
FLASK_SSE_RETRY_MS = 3_000  # an EventSource's default reconnection time (flask-sse sends none)
TARGETS = {"p99_ms": 250, "redis_connections": 4, "web_rss_mb": 250}


def log(message: str) -> None:
    print(f"[bench sse] {message}", file=sys.stderr, flush=True)


def channel_name(index: int) -> str:
    return f"store:BENCH-{index:02d}"


def raise_nofile() -> None:
    """Raise the open-files soft limit to the hard limit (1,000 sockets and more per process)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1_048_576
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- the baseline app: stock flask-sse, served by gunicorn from this file ------------------

def flask_sse_app() -> Any:
    """gunicorn --chdir bench 'sse:flask_sse_app()': flask-sse's blueprint at /stream, as its docs do."""
    from flask import Flask
    from flask_sse import sse

    app = Flask("flask_sse_baseline")
    app.config["REDIS_URL"] = os.environ["STOCKFLOW_REDIS_URL"]
    app.register_blueprint(sse, url_prefix="/stream")
    app.add_url_rule("/healthz", "healthz", lambda: "ok")
    return app


# --- child modes: the publisher and the sampler ------------------------------------------------

def publisher_main(kind: str, seconds: float, rate: float, out: Path) -> None:
    """Publish rate events/s round-robin over the channels for `seconds`; write what was sent."""
    if kind == "ours":
        from core.sse import publish

        def send(channel: str, data: dict[str, Any]) -> Any:
            return publish(channel, "tick", data)
    else:
        import redis
        from flask_sse import Message

        client = redis.Redis.from_url(os.environ["STOCKFLOW_REDIS_URL"])

        def send(channel: str, data: dict[str, Any]) -> Any:
            # what flask_sse.sse.publish sends (it opens a new client per call; one is kept here)
            return client.publish(channel, json.dumps(Message(data, type="tick").to_dict()))

    total = int(seconds * rate)
    sent: list[list[Any]] = []
    failures = 0
    start = time.perf_counter()
    for seq in range(total):
        delay = start + seq / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        channel = seq % CHANNELS
        t = time.time()
        try:
            result = send(channel_name(channel), {"seq": seq, "t": t})
        except Exception as exc:  # noqa: BLE001 - a failed publish is reported, not fatal
            failures += 1
            if failures <= 3:
                log(f"publish {seq} failed: {exc!r}")
            continue
        sent.append([seq, channel, t, result if isinstance(result, int) else None])
    elapsed = time.perf_counter() - start
    out.write_text(json.dumps({"sent": sent, "failures": failures, "elapsed_s": elapsed}))


def sampler_main(pid: int, redis_port: int, out: Path, seconds: float) -> None:
    """Every second, count the process's TCP connections to Redis and its RSS; keep the peaks."""
    import psutil

    process = psutil.Process(pid)
    peak = {"redis_connections": 0, "rss_mb": 0.0, "samples": 0}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            conns = sum(1 for c in process.net_connections(kind="tcp")
                        if c.raddr and c.raddr.port == redis_port)
            rss = process.memory_info().rss / (1024 * 1024)
        except psutil.Error as exc:
            peak["error"] = repr(exc)
            break
        peak["redis_connections"] = max(peak["redis_connections"], conns)
        peak["rss_mb"] = max(peak["rss_mb"], rss)
        peak["samples"] += 1
        peak["last"] = {"redis_connections": conns, "rss_mb": round(rss, 1)}
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(peak))
        tmp.replace(out)
        time.sleep(1.0)


# --- the clients ----------------------------------------------------------------------------------

class Client:
    """One EventSource: its channel, what it received, and how its connection went."""

    def __init__(self, index: int, channel: int, token: str | None) -> None:
        self.index = index
        self.channel = channel
        self.token = token
        self.connected = False  # had a 200 at least once
        self.ready = False  # has the stream's first bytes (ours) / is subscribed (flask-sse)
        self.failed = False  # gave up (EventSource: non-200 answer, or too many drops)
        self.last_id: str | None = None
        self.retry_ms = FLASK_SSE_RETRY_MS
        self.seqs: list[int] = []
        self.latencies_ms: list[float] = []
        self.errors: list[str] = []
        self.reconnects = 0
        self.heartbeats = 0


def error_kind(message: str) -> str:
    return message.split(":", 1)[0]


async def read_chunks(reader: asyncio.StreamReader, chunked: bool) -> Any:
    """Yield the body bytes of a response (chunked transfer encoding or until EOF)."""
    if not chunked:
        while True:
            data = await reader.read(65_536)
            if not data:
                return
            yield data
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("eof in chunked body")
        size = int(line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            return
        data = await reader.readexactly(size + 2)
        yield data[:-2]


def dispatch(client: Client, fields: dict[str, str]) -> None:
    if "id" in fields:
        client.last_id = fields["id"]
    if "data" not in fields:
        return
    now = time.time()
    if fields.get("event", "message") != "tick":
        return
    data = json.loads(fields["data"])
    client.seqs.append(int(data["seq"]))
    client.latencies_ms.append((now - float(data["t"])) * 1000)


async def stream_once(client: Client, port: int, connect_gate: asyncio.Semaphore) -> str:
    """One connection: request, headers, then events until the stream ends. Returns why it ended."""
    path = f"/stream?channel={channel_name(client.channel).replace(':', '%3A')}"
    head = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Accept: text/event-stream",
            "Cache-Control: no-cache"]
    if client.token:
        head.append(f"Authorization: Bearer {client.token}")
    if client.last_id:
        head.append(f"Last-Event-ID: {client.last_id}")
    request = ("\r\n".join(head) + "\r\n\r\n").encode()
    async with connect_gate:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, limit=1 << 20), timeout=10)
        writer.write(request)
        await writer.drain()
    try:
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionError("closed before the status line")
        parts = status_line.split()
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if status != 200:
            body = b""
            length = int(headers.get("content-length", "0") or 0)
            if length:
                body = await asyncio.wait_for(reader.read(min(length, 300)), timeout=5)
            client.failed = True  # an EventSource does not retry a non-200 answer
            return f"http {status}: {body[:160].decode(errors='replace')!r}"
        if not headers.get("content-type", "").startswith("text/event-stream"):
            client.failed = True
            return f"http 200 not event-stream: {headers.get('content-type')!r}"
        client.connected = True
        client.ready = True
        buffer = b""
        fields: dict[str, str] = {}
        async for data in read_chunks(reader, "chunked" in headers.get("transfer-encoding", "")):
            buffer += data
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                text = raw.rstrip(b"\r").decode()
                if text == "":
                    dispatch(client, fields)
                    fields = {}
                elif text.startswith(":"):
                    client.heartbeats += 1
                else:
                    name, _, value = text.partition(":")
                    value = value.removeprefix(" ")
                    if name == "data":
                        fields["data"] = fields["data"] + "\n" + value if "data" in fields else value
                    elif name == "retry" and value.isdigit():
                        client.retry_ms = int(value)
                    elif name in ("id", "event"):
                        fields[name] = value
        return "stream dropped: ended by the server"
    finally:
        writer.close()


async def run_client(client: Client, port: int, connect_gate: asyncio.Semaphore,
                     stop: asyncio.Event) -> None:
    """An EventSource: connect, and reconnect (with Last-Event-ID) after a dropped stream."""
    while not stop.is_set():
        try:
            outcome = await stream_once(client, port, connect_gate)
        except asyncio.CancelledError:
            raise
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            prefix = "stream dropped" if client.connected else "connect failed"
            outcome = f"{prefix}: {type(exc).__name__} {exc}"[:200]
        if stop.is_set():
            return
        client.errors.append(outcome)
        if client.failed or client.reconnects >= MAX_RECONNECTS:
            client.failed = True
            return
        client.reconnects += 1
        await asyncio.sleep(client.retry_ms / 1000)


async def numsub_total(redis_port: int) -> int:
    """Subscribers over the bench channels (PUBSUB NUMSUB), on a raw RESP connection."""
    names = [channel_name(i) for i in range(CHANNELS)]
    parts = [b"PUBSUB", b"NUMSUB", *(n.encode() for n in names)]
    command = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
    reader, writer = await asyncio.open_connection("127.0.0.1", redis_port)
    try:
        writer.write(command)
        await writer.drain()
        header = await reader.readline()  # *100
        total = 0
        for _ in range(int(header[1:])):
            kind = await reader.readline()
            if kind.startswith(b"$"):
                await reader.readline()
            else:
                total += int(kind[1:])
        return total
    finally:
        writer.close()


async def wait_process(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while process.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


async def run_phase(kind: str, web_port: int, worker_pid: int, redis_port: int, clients_n: int,
                    tokens: list[str], seconds: float, rate: float, tmp: Path,
                    env: dict[str, str]) -> dict[str, Any]:
    """Connect the clients, publish, drain, and return the phase's figures."""
    clients = [Client(i, i % CHANNELS, tokens[i // STREAMS_PER_USER] if tokens else None)
               for i in range(clients_n)]
    stop = asyncio.Event()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    started = time.monotonic()
    tasks = [asyncio.create_task(run_client(c, web_port, gate, stop)) for c in clients]
    phase_errors: list[str] = []
    try:
        # 1. every client connected (ours: has its first bytes; flask-sse: subscribed) or failed
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        last_report = 0.0
        while time.monotonic() < deadline:
            failed = sum(c.failed for c in clients)
            if kind == "ours":
                ready = sum(c.ready for c in clients)
            else:
                try:
                    ready = await numsub_total(redis_port)
                except OSError:
                    ready = 0
            if ready + failed >= clients_n:
                break
            if time.monotonic() - last_report > 5:
                last_report = time.monotonic()
                log(f"{kind}: {ready} connected, {failed} failed of {clients_n}")
            await asyncio.sleep(0.2)
        if kind != "ours":
            # flask-sse sends no headers before an event: a subscribed client is a connected one.
            # Which ones are not subscribed cannot be told apart, so all count (and lose).
            subscribed = await numsub_total(redis_port)
            if subscribed < clients_n - sum(c.failed for c in clients):
                log(f"{kind}: only {subscribed} subscribed after {CONNECT_TIMEOUT_S}s")
            for c in clients:
                c.ready = not c.failed
        participants = [c for c in clients if c.ready and not c.failed]
        late = [c for c in clients if not (c.ready and not c.failed)]
        for c in late:
            if not c.errors:
                c.errors.append(f"not connected: after {CONNECT_TIMEOUT_S}s")
        connect_s = time.monotonic() - started
        log(f"{kind}: {len(participants)} of {clients_n} clients connected in {connect_s:.1f}s; "
            f"publishing {rate:g}/s for {seconds:g}s")

        # 2. publish, with the worker sampled meanwhile
        sample_out, publish_out = tmp / f"{kind}-sample.json", tmp / f"{kind}-published.json"
        child = [sys.executable, str(Path(__file__).resolve())]
        # (Popen returns at once; both are waited for by polling, without blocking the loop)
        sampler = subprocess.Popen(child + ["--sample", str(worker_pid), str(redis_port),  # noqa: ASYNC220
                                            str(sample_out), str(seconds + 2)],
                                   cwd=ROOT, env=env, stdout=sys.stderr)
        publisher = subprocess.Popen(child + ["--publish", kind, str(seconds), str(rate),  # noqa: ASYNC220
                                              str(publish_out)],
                                     cwd=ROOT, env=env, stdout=sys.stderr)
        await wait_process(publisher, seconds + 30)
        published = (json.loads(publish_out.read_text()) if publish_out.exists()
                     else {"sent": [], "failures": None, "elapsed_s": None})
        if not publish_out.exists():
            phase_errors.append("publisher wrote nothing")

        # 3. drain: every participant has every event of its channel, or DRAIN_S passed
        expected: dict[int, set[int]] = collections.defaultdict(set)
        for seq, channel, _t, _receivers in published["sent"]:
            expected[channel].add(seq)
        drain_deadline = time.monotonic() + DRAIN_S
        while time.monotonic() < drain_deadline:
            if all(c.failed or expected[c.channel] <= set(c.seqs) for c in participants):
                break
            await asyncio.sleep(0.2)
        await wait_process(sampler, 5)
        sample = json.loads(sample_out.read_text()) if sample_out.exists() else {}
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    lost = duplicated = unexpected = 0
    latencies: list[float] = []
    for c in participants:
        got = collections.Counter(c.seqs)
        lost += len(expected[c.channel] - set(got))
        duplicated += sum(n - 1 for n in got.values() if n > 1)
        unexpected += len(set(got) - expected[c.channel])
        latencies.extend(c.latencies_ms)
    kinds = collections.Counter(error_kind(e) for c in clients for e in c.errors)
    examples: dict[str, str] = {}
    for c in clients:
        for e in c.errors:
            examples.setdefault(error_kind(e), e)
    receivers = [r for *_rest, r in published["sent"] if r is not None]
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    result = {
        "clients": clients_n,
        "clients_connected": len(participants),
        "clients_failed": sum(c.failed for c in clients),
        "connect_s": round(connect_s, 1),
        "events_published": len(published["sent"]),
        "publish_failures": published["failures"],
        "deliveries": len(latencies),
        "deliveries_expected": sum(len(expected[c.channel]) for c in participants),
        "p50_ms": None if p50 is None else round(p50, 1),
        "p99_ms": None if p99 is None else round(p99, 1),
        "max_ms": round(max(latencies), 1) if latencies else None,
        "redis_connections": sample.get("redis_connections"),
        "web_rss_mb": round(sample["rss_mb"], 1) if "rss_mb" in sample else None,
        "samples": sample.get("samples", 0),
        "errors": sum(kinds.values()) + len(phase_errors),
        "error_kinds": dict(kinds.most_common(6)),
        "error_examples": dict(list(examples.items())[:4]),
        "lost": lost,
        "duplicated": duplicated,
        "unexpected": unexpected,
        "reconnects": sum(c.reconnects for c in clients),
        "heartbeats": sum(c.heartbeats for c in clients),
        "publish_receivers_mean": round(sum(receivers) / len(receivers), 1) if receivers else None,
    }
    log(f"{kind}: {json.dumps(result)}")
    return result


# --- the servers ----------------------------------------------------------------------------------

def gunicorn_binary() -> str:
    beside = Path(sys.executable).parent / "gunicorn"
    return str(beside if beside.exists() else ROOT / ".venv" / "bin" / "gunicorn")


def start_gunicorn(app: str, port: int, env: dict[str, str], logfile: Path,
                   chdir: Path | None = None) -> subprocess.Popen[bytes]:
    command = [gunicorn_binary(), "--worker-class", "gevent", "--workers", "1",
               "--worker-connections", "3000", "--bind", f"127.0.0.1:{port}",
               "--log-level", "warning"]
    if chdir is not None:
        command += ["--chdir", str(chdir)]
    command.append(app)
    with logfile.open("ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out,
                                preexec_fn=raise_nofile)  # noqa: PLW1509 - no threads yet


def wait_web(port: int, process: subprocess.Popen[bytes], timeout_s: float = 60) -> int:
    """Wait until /healthz answers; return the pid of the (single) worker process."""
    import psutil

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    children = psutil.Process(process.pid).children()
                    if len(children) == 1:
                        return children[0].pid
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"web on {port} did not answer /healthz in {timeout_s}s")


def stop_gunicorn(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)  # quick shutdown: open streams are not waited for
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def log_summary(logfile: Path) -> dict[str, int]:
    """Count the exception lines a server wrote (its last line of each traceback)."""
    if not logfile.exists():
        return {}
    counts: collections.Counter[str] = collections.Counter()
    for line in logfile.read_text(errors="replace").splitlines():
        stripped = line.strip()
        head = stripped.split(":", 1)[0]
        if (head.endswith(("Error", "Exception", "Exit")) and " " not in head) or "WORKER TIMEOUT" in line:
            counts[stripped[:160]] += 1
    return dict(counts.most_common(5))


def create_tokens(users: int) -> list[str]:
    """Create `users` users (one password hash computed once) with a bearer token each."""
    from datetime import timedelta

    from werkzeug.security import generate_password_hash

    from core.db import session_scope
    from core.models import ApiToken, User
    from core.models.types import utcnow
    from core.users import create_token, create_user, token_digest

    create_user("bench", "bench-password-123")
    tokens = [create_token("bench", "bench sse")]
    password_hash = generate_password_hash("bench-password-123")
    with session_scope() as session:
        rows = [User(username=f"bench-{n:04d}", name=f"Bench {n}", password_hash=password_hash,
                     role="loja", active=True) for n in range(1, users)]
        session.add_all(rows)
        session.flush()
        for user in rows:
            token = secrets.token_urlsafe(32)
            session.add(ApiToken(user_id=user.id, label="bench sse", token_sha256=token_digest(token),
                                 expires_at=utcnow() + timedelta(days=1)))
            tokens.append(token)
    return tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, default=1_000)
    parser.add_argument("--seconds", type=float, default=20.0, help="publishing time per side")
    parser.add_argument("--rate", type=float, default=100.0, help="events per second, all channels")
    parser.add_argument("--skip-flask-sse", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.clients <= 5_000 or not 0 < args.seconds <= 120 or not 0 < args.rate <= 1_000:
        parser.error("bounded: 1..5000 clients, seconds in (0, 120], rate in (0, 1000]")

    raise_nofile()
    from standins import embedded_redis

    tmp = Path(tempfile.mkdtemp(prefix="stockflow-bench-sse-"))
    redis_port = embedded_redis.free_port()
    redis_process = embedded_redis.start(redis_port, tmp / "redis", appendonly=False)
    env = {**os.environ, "STOCKFLOW_ENV": "development",
           "STOCKFLOW_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
           "STOCKFLOW_DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
           "STOCKFLOW_VAR_DIR": str(tmp / "var"), "STOCKFLOW_SSE_HEARTBEAT_S": str(HEARTBEAT_S),
           "STOCKFLOW_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}
    env.pop("STOCKFLOW_BROKER_URL", None)
    os.environ.update(env)
    web: subprocess.Popen[bytes] | None = None
    result: dict[str, Any] = {"clients": args.clients}
    try:
        subprocess.run([sys.executable, "-m", "core.migrate"], cwd=ROOT, env=env, check=True,
                       stdout=sys.stderr)
        users = math.ceil(args.clients / STREAMS_PER_USER)
        started = time.monotonic()
        tokens = create_tokens(users)
        log(f"{users} users with a token each in {time.monotonic() - started:.1f}s")

        # ours
        port = embedded_redis.free_port()
        ours_log = tmp / "web-ours.log"
        web = start_gunicorn("web:create_app()", port, env, ours_log)
        worker = wait_web(port, web)
        log(f"ours: gunicorn worker {worker} on :{port}; {args.clients} clients over {CHANNELS} channels")
        ours = asyncio.run(run_phase("ours", port, worker, redis_port, args.clients, tokens,
                                     args.seconds, args.rate, tmp, env))
        if web.poll() is not None or not psutil_alive(worker):
            ours["errors"] += 1
            ours["error_kinds"]["web worker died"] = 1
        stop_gunicorn(web)
        web = None
        ours["server_log"] = log_summary(ours_log)
        if ours["server_log"]:
            log(f"ours: server log: {ours['server_log']}")
        result.update({k: ours[k] for k in ("p50_ms", "p99_ms", "redis_connections", "web_rss_mb",
                                            "errors", "lost", "duplicated")})
        result.update({f"ours_{k}": v for k, v in ours.items()
                       if k not in result and k != "clients"})

        # stock flask-sse, same clients, channels and rate
        if not args.skip_flask_sse:
            port = embedded_redis.free_port()
            base_log = tmp / "web-flask-sse.log"
            web = start_gunicorn("sse:flask_sse_app()", port, env, base_log, chdir=ROOT / "bench")
            worker = wait_web(port, web)
            log(f"flask-sse: gunicorn worker {worker} on :{port}")
            base = asyncio.run(run_phase("flask-sse", port, worker, redis_port, args.clients, [],
                                         args.seconds, args.rate, tmp, env))
            stop_gunicorn(web)
            web = None
            base["server_log"] = log_summary(base_log)
            result.update({f"flask_sse_{k}": v for k, v in base.items() if k != "clients"})
        result["targets"] = TARGETS
        result["meets_targets"] = bool(
            result["p99_ms"] is not None and result["p99_ms"] < TARGETS["p99_ms"]
            and result["redis_connections"] is not None
            and result["redis_connections"] <= TARGETS["redis_connections"]
            and result["web_rss_mb"] is not None and result["web_rss_mb"] <= TARGETS["web_rss_mb"]
            and result["errors"] == 0 and result["lost"] == 0 and result["duplicated"] == 0
            and result.get("ours_unexpected", 0) == 0
            and result.get("ours_clients_connected") == args.clients)
    finally:
        if web is not None:
            stop_gunicorn(web)
        redis_process.terminate()
        redis_process.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result), flush=True)


def psutil_alive(pid: int) -> bool:
    import psutil

    return psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--publish":
        publisher_main(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), Path(sys.argv[5]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--sample":
        sampler_main(int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]), float(sys.argv[5]))
    else:
        main()
