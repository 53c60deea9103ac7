"""The Celery faults that matter, each run on Redis and on RabbitMQ (the `broker` fixture):
the broker away mid-burst and Beat scheduling through it; a worker killed mid-baixa and retries
spent into a dead letter on RabbitMQ (their Redis twins are in tests/baixa/test_faults.py)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from core import dead_letters
from core.celery_app import QUEUES
from core.db import make_engine
from core.dead_letters import PARKED_KEY, move_parked
from core.models import Produto
from core.redis_client import get_redis
from edge_agent.spool import Spool
from tests.baixa.support import (
    Agent,
    outcomes,
    removals_by_product,
    scan_message,
    seed_products,
    shelf_count,
    stop_process,
)
from tests.baixa.tcp_proxy import TcpProxy
from tests.support.brokers import (
    Broker,
    SupervisedWorker,
    platform_app,
    rabbitmqctl,
    spawn_worker_on,
)
from tests.support.environment import ROOT
from tests.support.waiting import wait_until
from tests.support.workers import kill_pool


def queue_types(broker: Broker) -> dict[str, str]:
    """RabbitMQ: queue name -> type (classic, quorum) in the broker's vhost."""
    vhost = broker.url.rsplit("/", 1)[1]
    lines = rabbitmqctl("list_queues", "-p", vhost, "--quiet", "--no-table-headers",
                        "name", "type").splitlines()
    return dict(line.split("\t")[:2] for line in lines if "\t" in line)


def active_tasks(app: Any, name: str) -> int:
    """How many tasks the worker `name` is running now (broker-neutral: remote control)."""
    replies = app.control.inspect(destination=[name], timeout=1).active() or {}
    return len(replies.get(name, []))


# Redis: tests/baixa/test_faults.py has the same test on its own Redis.
RABBITMQ_ONLY = pytest.mark.parametrize("broker", ["rabbitmq"], indirect=True)


@RABBITMQ_ONLY
@pytest.mark.mariadb_only  # SQLite's lock is the same wait; MariaDB is production's
def test_kill_9_worker_mid_baixa_redelivers_and_removes_once(broker: Broker, db: str) -> None:
    # What must survive: the scan whose worker process died mid-transaction is redelivered
    # from its quorum queue (acks_late + reject_on_worker_lost; RabbitMQ requeues at once)
    # and the product is written off exactly once.
    seed_products("LOJA-001", [900_001])
    name = f"test-kill-{time.monotonic_ns()}@localhost"
    worker = spawn_worker_on(broker, concurrency=1, name=name)
    app = platform_app(broker)
    blocker = make_engine(db).connect()
    try:
        # every worker declares every feature queue, durable quorum queues
        assert {name: kind for name, kind in queue_types(broker).items()
                if name in QUEUES} == dict.fromkeys(QUEUES, "quorum")
        transaction = blocker.begin()  # SQLite: BEGIN IMMEDIATE; MariaDB: the row lock below
        blocker.execute(select(Produto).where(Produto.id == 900_001).with_for_update())
        app.send_task("baixa.registrar", kwargs=scan_message(900_001), queue="baixa")
        wait_until(lambda: active_tasks(app, name) == 1, 30, "the worker to take the task")
        time.sleep(0.3)  # into the transaction, waiting for the lock
        kill_pool(worker)  # SIGKILL the process running the baixa
        transaction.rollback()
        wait_until(lambda: removals_by_product([900_001]), 60, "the redelivered baixa")
    finally:
        blocker.close()
        stop_process(worker)
    assert removals_by_product([900_001]) == {900_001: 1}
    assert [o.outcome for o in outcomes()] == ["removed"]


def test_broker_away_mid_burst_nothing_lost(broker: Broker, tmp_path: Path, db: str) -> None:
    # What must survive: scans the agent accepted while the broker went away (Redis stopped;
    # RabbitMQ's every connection cut and new ones refused) and came back: the agent spools
    # and resends, the worker reconnects (or, when kombu kills it mid-ack, is started again as
    # its systemd unit does), each product is written off exactly once and the agent's spool
    # ends empty (every scan answered).
    ids = seed_products("LOJA-001", range(910_001, 910_041))
    worker = SupervisedWorker(broker, concurrency=2)
    agent = Agent(tmp_path / "agent", broker.url, env={
        "STOCKFLOW_AGENT_ACK_TIMEOUT_S": "3", "STOCKFLOW_AGENT_ACK_TIMEOUT_MAX_S": "6"})
    try:
        agent.start()
        accepted = [agent.scan(str(pid).encode()) for pid in ids[:20]]
        wait_until(lambda: len(removals_by_product(ids[:20])) >= 5, 60, "the burst under way")
        broker.outage()
        accepted += [agent.scan(str(pid).encode()) for pid in ids[20:]]
        assert all(answer["accepted"] for answer in accepted)
        spool = Spool(agent.spool_dir / "spool.sqlite3")
        time.sleep(2)  # the agent and the worker find the broker gone and retry
        assert len(removals_by_product(ids)) < len(ids)
        broker.back()
        wait_until(lambda: spool.depth() == 0, 120,
                   lambda: f"the spool to empty: {spool.counts()}, "
                           f"{len(removals_by_product(ids))} written off, "
                           f"worker restarted {worker.restarts} times")
        spool.close()
        assert agent.stop() == 0
    finally:
        if agent.process is not None and agent.process.poll() is None:
            agent.stop()
        worker.stop(stop_process)
    assert set(removals_by_product(ids).values()) == {1} and len(removals_by_product(ids)) == 40
    assert shelf_count(ids) == 0
    assert sorted(o.scan_id for o in outcomes()) == sorted(a["scan_id"] for a in accepted)


def via_proxy(url: str, proxy: TcpProxy) -> str:
    return make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


@RABBITMQ_ONLY
@pytest.mark.mariadb_only  # the outage is a cut of MariaDB's TCP connection
def test_retries_spent_land_in_dead_letter(broker: Broker, db: str) -> None:
    # What must survive: a scan whose retries (countdowns: on RabbitMQ, Celery's native
    # delayed delivery through quorum queues) all failed while the database was down is kept
    # as a dead letter, not written off and not lost. The worker reaches MariaDB through a
    # TCP proxy we cut.
    seed_products("LOJA-001", [900_200])
    real = make_url(db)
    proxy = TcpProxy(real.host or "127.0.0.1", real.port or 3306)
    worker = spawn_worker_on(broker, concurrency=1, extra_env={
        "STOCKFLOW_DATABASE_URL": via_proxy(db, proxy), "STOCKFLOW_BAIXA_MAX_RETRIES": "2",
        "STOCKFLOW_BAIXA_RETRY_BASE_S": "1"})
    message = scan_message(900_200)
    try:
        proxy.cut()
        platform_app(broker).send_task("baixa.registrar", kwargs=message, queue="baixa")
        # parked in Redis, since the dead-letter table is down too
        wait_until(lambda: get_redis().llen(PARKED_KEY) == 1, 90, "the parked entry")
        proxy.restore()
        assert move_parked() == 1
    finally:
        stop_process(worker)
        proxy.close()
    [entry] = dead_letters.list_open("baixa.registrar")
    assert entry.reference == message["scan_id"] and "BaixaUnavailable" in entry.error
    assert shelf_count([900_200]) == 1  # nothing written off, nothing lost either


def due_now(entry_name: str) -> None:
    """Store Beat's entry in RedBeat (the session's Redis) as last run 10 minutes ago."""
    from celery.schedules import schedule
    from redbeat import RedBeatSchedulerEntry

    from core.celery_app import celery_app

    entry = RedBeatSchedulerEntry(entry_name, entry_name, schedule(60.0), app=celery_app)
    entry.save()
    entry.reschedule(last_run_at=datetime.now(timezone.utc) - timedelta(minutes=10))


def test_beat_schedules_through_the_broker(broker: Broker, tmp_path: Path, db: str) -> None:
    # What must hold: Beat (RedBeat) sends its periodic tasks through either broker and a
    # worker runs them: a failure parked in Redis reaches the dead-letter table by Beat's
    # `dead_letters.move_parked`, whose last run RedBeat finds 10 minutes old: due at once.
    due_now("dead_letters.move_parked")
    dead_letters.park("baixa.registrar", [], {"scan_id": "s-beat"}, "BaixaUnavailable: teste",
                      reference="s-beat")
    worker = spawn_worker_on(broker, queues="default", concurrency=1)
    log = tmp_path / "beat.log"
    with log.open("wb") as out:
        beat = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tasks", "beat", "-S", "redbeat.RedBeatScheduler",
             "--loglevel", "INFO", "--pidfile", "", "--schedule", str(tmp_path / "beat-schedule")],
            cwd=ROOT, env={**os.environ, **broker.env()}, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: dead_letters.list_open("baixa.registrar"), 90,
                   lambda: f"the parked failure moved by Beat's task; beat log {log.read_text()[-1500:]}")
    finally:
        stop_process(beat)
        stop_process(worker)
    assert get_redis().llen(PARKED_KEY) == 0
    assert "Sending due task dead_letters.move_parked" in log.read_text()
