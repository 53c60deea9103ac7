"""Helpers shared by the baixa and edge-agent tests: the agent as a real process, a Redis of
our own that can be stopped, workers on it, and products to scan."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from core.db import session_scope
from core.models import BaixaLeitura, Produto, ProdutoRemovido
from core.models.types import utcnow
from standins import embedded_redis
from tests.support.environment import ROOT
from tests.support.workers import wait_for_ping


def seed_products(store_key: str, ids: Iterable[int]) -> list[int]:
    """Put products on the shelf of a store and return their ids."""
    ids = list(ids)
    with session_scope() as session:
        session.add_all(Produto(id=pid, store_key=store_key, descricao=f"Produto {pid}",
                                codigo_barras=f"789{pid:010d}", preco=Decimal("9.90"),
                                lote="L1", validade=None, created_at=utcnow()) for pid in ids)
    return ids


def removals_by_product(ids: Iterable[int]) -> dict[int, int]:
    """Return product id -> how many tb_produto_removido rows it has."""
    ids = list(ids)
    with session_scope() as session:
        rows = session.execute(select(ProdutoRemovido.id, func.count())
                               .where(ProdutoRemovido.id.in_(ids)).group_by(ProdutoRemovido.id))
        return {int(pid): int(n) for pid, n in rows}


def shelf_count(ids: Iterable[int]) -> int:
    with session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(Produto)
                                  .where(Produto.id.in_(list(ids)))) or 0)


def outcomes() -> list[BaixaLeitura]:
    """Return every recorded scan outcome, in processing order."""
    with session_scope() as session:
        return list(session.scalars(select(BaixaLeitura).order_by(BaixaLeitura.id)))


def scan_message(product_id: Any, store_key: str = "LOJA-001", device_id: str = "pi-test",
                 scan_id: str | None = None) -> dict[str, Any]:
    """Return a baixa.registrar message as the agent builds it."""
    return {"scan_id": scan_id or str(uuid.uuid4()), "product_id": str(product_id),
            "store_key": store_key, "device_id": device_id,
            "scanned_at": datetime.now(timezone.utc).isoformat()}


class OwnRedis:
    """A redis-server of the test's own (AOF on), which the test may stop and start again."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = embedded_redis.free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.process = embedded_redis.start(self.port, self.data_dir, appendonly=True)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url, decode_responses=True)


def sender(broker_url: str) -> Any:
    """A Celery app that sends to `broker_url` (and pings workers there)."""
    from celery import Celery

    app = Celery("tests-sender", broker=broker_url, set_as_current=False)
    app.conf.update(task_serializer="json", accept_content=["json"])
    return app


def spawn_worker_on(broker_url: str, queues: str = "baixa", concurrency: int = 2,
                    extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start `celery -A tasks worker` (prefork) on another broker; return once it answers a ping."""
    name = f"test-baixa-{time.monotonic_ns()}@localhost"
    env = {**os.environ, "STOCKFLOW_REDIS_URL": broker_url, **(extra_env or {})}
    env.pop("STOCKFLOW_BROKER_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--queues", queues,
         "--concurrency", str(concurrency), "--pool", "prefork", "--hostname", name,
         "--loglevel", "WARNING", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=env)
    wait_for_ping(process, sender(broker_url), name)
    return process


def stop_process(process: subprocess.Popen[Any], timeout_s: float = 20) -> None:
    """SIGTERM, then SIGKILL if it does not exit in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Agent:
    """`python -m edge_agent run --stdin` as a real process: scans go in on stdin, the
    agent's acknowledgements (one JSON line per scan, after the spool commit) come out."""

    def __init__(self, workdir: Path, broker_url: str, store_key: str = "LOJA-001",
                 env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.printers_json = workdir / "printers.json"
        if not self.printers_json.exists():
            self.printers_json.write_text(json.dumps({"store_key": store_key}))
        self.spool_dir = workdir / "spool"
        self.broker_url = broker_url
        self.env = {"STOCKFLOW_AGENT_RECONNECT_BASE_S": "0.2", "STOCKFLOW_AGENT_RECONNECT_MAX_S": "1",
                    "STOCKFLOW_AGENT_DEVICE_ID": "pi-test",
                    # health reports (edge_agent/health.py) are another area's tests' business
                    "STOCKFLOW_AGENT_HEALTH_INTERVAL_S": "3600", **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.stderr_path = workdir / "agent.log"

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "edge_agent", "--printers-json", str(self.printers_json),
                "--spool-dir", str(self.spool_dir), "--broker-url", self.broker_url, *args]

    def start(self) -> "Agent":
        stderr = self.stderr_path.open("ab")
        self.process = subprocess.Popen(self.command("run", "--stdin"), cwd=ROOT,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=stderr, env={**os.environ, **self.env})
        return self

    def send(self, line: bytes) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(line + b"\n")
        self.process.stdin.flush()

    def ack(self) -> dict[str, Any]:
        """Read the agent's answer to the next line (blocks until it is spooled or rejected)."""
        assert self.process is not None and self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(f"agent exited; log:\n{self.stderr_path.read_text()[-3000:]}")
        return json.loads(line)

    def scan(self, line: bytes) -> dict[str, Any]:
        self.send(line)
        return self.ack()

    def kill9(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> int:
        assert self.process is not None
        stop_process(self.process)
        return int(self.process.returncode)

    def status(self) -> dict[str, Any]:
        out = subprocess.run(self.command("status", "--json"), cwd=ROOT, capture_output=True,
                             env={**os.environ, **self.env}, timeout=30, check=True)
        return json.loads(out.stdout)

    def log(self) -> str:
        return self.stderr_path.read_text()
