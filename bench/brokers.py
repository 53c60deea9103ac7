"""Redis against RabbitMQ as the Celery broker: the same end-to-end baixa run through each, the
agent's confirmed publish rate, and how soon a lost worker host's tasks run elsewhere.

End to end (as bench/baixa.py): N scans spooled by the agent's real spool and publisher, 2
worker processes on MariaDB; baixas per second = N / (last commit - start of the drain). On
RabbitMQ the tasks go to durable quorum queues and the agent waits for each publisher confirm.
Confirmed publishes: the agent's publisher sending N scans into the RabbitMQ `baixa` queue
(no consumer): N / seconds until the last confirm.
Host loss: worker A (2 processes) holds 2 unacked baixas (their products row-locked); its
connection to RabbitMQ goes through a proxy here. A is killed whole (kill -9 of its process
group) and the proxy goes silent without closing anything, as when a host loses power: RabbitMQ
notices by missed heartbeats (STOCKFLOW_BROKER_HEARTBEAT_S, 10 s: about 2 beats) and gives the
tasks to worker B. Seconds from the kill until B committed both. A kill -9 alone (the kernel
closes the socket) is reported too. On Redis the same loss waits for the visibility timeout
(STOCKFLOW_VISIBILITY_TIMEOUT_S, an hour) and is not measured here.

Last line: JSON with redis_baixas_per_s, rabbitmq_baixas_per_s, ratio_rabbitmq_vs_redis,
agent_confirmed_publish_per_s, redelivery_after_host_loss_s_rabbitmq (plus details).
Needs MariaDB (STOCKFLOW_BENCH_MYSQL_URL, else root@127.0.0.1:3306, database
stockflow_bench_brokers) and RabbitMQ at 127.0.0.1:5672 (guest; a vhost of this run, made and
deleted with rabbitmqctl, so run as root). Run: .venv/bin/python bench/brokers.py
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.baixa import (  # noqa: E402
    STORE,
    committed,
    prepare_database,
    seed,
)
from standins import embedded_redis  # noqa: E402

BURST = int(os.environ.get("BENCH_BURST", 2_000))
PUBLISHES = int(os.environ.get("BENCH_PUBLISHES", 1_000))
RABBITMQ = ("127.0.0.1", 5672)


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "--quiet", *args], check=True, capture_output=True, timeout=120)


@contextmanager
def rabbitmq_vhost() -> Iterator[str]:
    vhost = f"stockflow_bench_{os.getpid()}"
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield vhost
    finally:
        rabbitmqctl("delete_vhost", vhost)


def amqp_url(vhost: str, port: int = RABBITMQ[1]) -> str:
    return f"amqp://guest:guest@127.0.0.1:{port}/{vhost}"


class SilentProxy:
    """Forwards 127.0.0.1:<port> to RabbitMQ; silence() stops forwarding but closes nothing,
    so the broker sees a peer that went quiet (a host lost), not a closed connection."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.silent = threading.Event()
        self.sockets: list[socket.socket] = []  # held: a collected socket would close
        threading.Thread(target=self._accept, daemon=True).start()

    def silence(self) -> None:
        self.silent.set()
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(RABBITMQ)
            self.sockets += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while (data := source.recv(65536)) and not self.silent.is_set():
                target.sendall(data)
        except OSError:
            pass
        if not self.silent.is_set():
            for sock in (source, target):
                sock.close()


def start_worker(env: dict[str, str], broker_url: str, name: str) -> subprocess.Popen[bytes]:
    """`celery -A tasks worker` on the baixa queue, 2 processes, in its own process group."""
    from celery import Celery

    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--queues", "baixa",
         "--concurrency", "2", "--pool", "prefork", "--hostname", name, "--loglevel", "ERROR",
         "--without-mingle", "--without-gossip"], cwd=ROOT, env=env, stdout=sys.stderr,
        start_new_session=True)
    app = Celery(broker=broker_url, set_as_current=False)
    deadline = time.monotonic() + 90
    while not app.control.ping(destination=[name], timeout=0.5):
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"worker {name} did not start")
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def agent(broker_url: str, spool_dir: Path) -> Any:
    from edge_agent.config import AgentConfig
    from edge_agent.publisher import Publisher
    from edge_agent.spool import Spool

    config = AgentConfig(store_key=STORE, broker_url=broker_url, device_id="pi-bench",
                         spool_dir=spool_dir)
    return Publisher(config, Spool(config.spool_path))


def end_to_end(env: dict[str, str], broker_url: str, ids: list[int], work: Path) -> float:
    """Baixas per second for `ids` scanned, through the agent and 2 worker processes."""
    from edge_agent.scan import make_scan

    worker = start_worker(env, broker_url, f"bench-brokers-{ids[0]}@localhost")
    try:
        publisher = agent(broker_url, work / f"spool-{ids[0]}")
        for pid in ids:
            publisher.spool.add(make_scan(str(pid), publisher.config))
        started = time.monotonic()
        publisher.publish_pending()
        while committed(ids) < len(ids):  # processed_at has whole seconds only: poll
            if time.monotonic() - started > 300:
                raise TimeoutError(f"only {committed(ids)} of {len(ids)} committed")
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        publisher.spool.close()
        return len(ids) / elapsed
    finally:
        stop(worker)


def confirmed_publish_rate(broker_url: str, work: Path) -> float:
    """The agent's publishes per second into the quorum `baixa` queue (declared, no consumer)."""
    from kombu import Connection

    from core.celery_app import task_queues
    from edge_agent.scan import make_scan

    [baixa] = [queue for queue in task_queues(amqp=True) if queue.name == "baixa"]
    with Connection(broker_url) as connection:
        baixa(connection.default_channel).declare()
    publisher = agent(broker_url, work / "spool-confirms")
    for n in range(PUBLISHES):
        publisher.spool.add(make_scan(str(5_000_000 + n), publisher.config))
    started = time.perf_counter()
    assert publisher.publish_pending() == PUBLISHES
    rate = PUBLISHES / (time.perf_counter() - started)
    publisher.spool.close()
    with Connection(broker_url) as connection:
        baixa(connection.default_channel).purge()
    return rate


def redelivery_s(env: dict[str, str], vhost: str, first_id: int, host_lost: bool) -> float:
    """Seconds from worker A's death until worker B committed the 2 baixas A held."""
    from celery import Celery
    from sqlalchemy import select

    from core.celery_app import task_queues
    from core.db import get_engine
    from core.models import Produto

    ids = seed(first_id, 2)
    proxy = SilentProxy()
    a_url = amqp_url(vhost, proxy.port)
    a = start_worker({**env, "STOCKFLOW_BROKER_URL": a_url}, a_url, f"bench-a-{first_id}@localhost")
    b = None
    blocker = get_engine().connect()
    try:
        transaction = blocker.begin()
        blocker.execute(select(Produto).where(Produto.id.in_(ids)).with_for_update())
        sender = Celery(broker=amqp_url(vhost), set_as_current=False)
        sender.conf.update(task_queues=task_queues(amqp=True), task_serializer="json",
                           broker_transport_options={"confirm_publish": True})
        for pid in ids:
            sender.send_task("baixa.registrar", queue="baixa", kwargs={
                "scan_id": str(uuid.uuid4()), "product_id": str(pid), "store_key": STORE,
                "device_id": "pi-bench", "scanned_at": datetime.now(timezone.utc).isoformat()})
        inspector = Celery(broker=amqp_url(vhost), set_as_current=False).control.inspect(
            destination=[f"bench-a-{first_id}@localhost"], timeout=1)
        deadline = time.monotonic() + 60
        while len((inspector.active() or {}).get(f"bench-a-{first_id}@localhost", [])) < 2:
            if time.monotonic() > deadline:
                raise RuntimeError("worker A did not take both tasks")
        b = start_worker(env, amqp_url(vhost), f"bench-b-{first_id}@localhost")
        if host_lost:
            proxy.silence()
        killed_at = time.monotonic()
        os.killpg(a.pid, signal.SIGKILL)
        a.wait()
        transaction.rollback()
        while committed(ids) < len(ids):  # processed_at has whole seconds only: poll
            if time.monotonic() - killed_at > 180:
                raise TimeoutError("the lost worker's tasks never ran elsewhere")
            time.sleep(0.05)
        elapsed = time.monotonic() - killed_at
        assert set(outcomes(ids)) == {"removed"}, outcomes(ids)
        return elapsed
    finally:
        blocker.close()
        if b is not None:
            stop(b)


def outcomes(ids: list[int]) -> list[Any]:
    from sqlalchemy import select

    from core.db import session_scope
    from core.models import BaixaLeitura

    with session_scope() as session:
        return list(session.scalars(select(BaixaLeitura.outcome).where(
            BaixaLeitura.product_id.in_([str(pid) for pid in ids]))))


def main() -> None:
    mysql_url = os.environ.get("STOCKFLOW_BENCH_MYSQL_URL",
                               "mysql+mysqldb://root@127.0.0.1:3306/stockflow_bench_brokers")
    with tempfile.TemporaryDirectory(prefix="bench-brokers-") as tmp, rabbitmq_vhost() as vhost:
        work = Path(tmp)
        redis = embedded_redis.start(port := embedded_redis.free_port(), work / "redis",
                                     appendonly=False)
        broker_redis = embedded_redis.start(broker_port := embedded_redis.free_port(),
                                            work / "broker-redis", appendonly=True)
        os.environ.update({"STOCKFLOW_DATABASE_URL": mysql_url,
                           "STOCKFLOW_REDIS_URL": f"redis://127.0.0.1:{port}/0",
                           "STOCKFLOW_ENV": "test", "STOCKFLOW_VAR_DIR": str(work / "var"),
                           "STOCKFLOW_LOG_LEVEL": "WARNING"})
        os.environ.pop("STOCKFLOW_BROKER_URL", None)
        env = dict(os.environ)
        try:
            prepare_database(mysql_url)
            redis_url = f"redis://127.0.0.1:{broker_port}/0"
            redis_rate = end_to_end({**env, "STOCKFLOW_BROKER_URL": redis_url}, redis_url,
                                    seed(1_000_000, BURST), work)
            rabbit_rate = end_to_end({**env, "STOCKFLOW_BROKER_URL": amqp_url(vhost)},
                                     amqp_url(vhost), seed(2_000_000, BURST), work)
            publish_rate = confirmed_publish_rate(amqp_url(vhost), work)
            rabbit_env = {**env, "STOCKFLOW_BROKER_URL": amqp_url(vhost)}
            host_loss = redelivery_s(rabbit_env, vhost, 3_000_000, host_lost=True)
            process_kill = redelivery_s(rabbit_env, vhost, 3_000_010, host_lost=False)
            heartbeat = float(os.environ.get("STOCKFLOW_BROKER_HEARTBEAT_S", 10))
        finally:
            for server in (redis, broker_redis):
                server.terminate()
                server.wait(timeout=10)
    print(f"end to end (2 worker processes, MariaDB): Redis {redis_rate:,.0f} baixas/s, "
          f"RabbitMQ {rabbit_rate:,.0f} baixas/s ({rabbit_rate / redis_rate:.2f}x); agent "
          f"{publish_rate:,.0f} confirmed publishes/s; a lost worker host's tasks ran elsewhere "
          f"after {host_loss:.1f} s (heartbeat {heartbeat:g} s), a killed worker's after "
          f"{process_kill:.2f} s", file=sys.stderr)
    print(json.dumps({
        "redis_baixas_per_s": round(redis_rate, 1),
        "rabbitmq_baixas_per_s": round(rabbit_rate, 1),
        "ratio_rabbitmq_vs_redis": round(rabbit_rate / redis_rate, 2),
        "agent_confirmed_publish_per_s": round(publish_rate, 1),
        "redelivery_after_host_loss_s_rabbitmq": round(host_loss, 2),
        "redelivery_after_process_kill_s_rabbitmq": round(process_kill, 2),
        "broker_heartbeat_s": heartbeat, "burst": BURST, "publishes": PUBLISHES,
    }))


if __name__ == "__main__":
    main()
