"""Fault tests: a worker killed mid-baixa, and MariaDB down during scans."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from core import dead_letters
from core.celery_app import celery_app
from core.db import make_engine
from core.dead_letters import PARKED_KEY, move_parked
from core.models import Produto
from core.redis_client import get_redis
from core.settings import reset_settings
from tests.baixa.support import (
    OwnRedis,
    outcomes,
    removals_by_product,
    scan_message,
    seed_products,
    sender,
    shelf_count,
    spawn_worker_on,
    stop_process,
)
from tests.baixa.tcp_proxy import TcpProxy
from tests.support.database import use_database
from tests.support.waiting import wait_until
from tests.support.workers import kill_pool


@pytest.mark.mariadb
def test_kill_9_worker_mid_baixa_redelivers_and_removes_once(tmp_path: Path, db: str) -> None:
    # What must survive: the scan whose worker process died mid-transaction is redelivered
    # (acks_late + reject_on_worker_lost) and the product is written off exactly once.
    seed_products("LOJA-001", [900_001])
    redis = OwnRedis(tmp_path / "redis")
    worker = spawn_worker_on(redis.url, concurrency=1)
    blocker = make_engine(db).connect()
    try:
        transaction = blocker.begin()  # SQLite: BEGIN IMMEDIATE; MariaDB: the row lock below
        blocker.execute(select(Produto).where(Produto.id == 900_001).with_for_update())
        sender(redis.url).send_task("baixa.registrar", kwargs=scan_message(900_001), queue="baixa")
        client = redis.client()
        # unacked + empty queue: a pool process holds the task, stuck in the baixa transaction
        wait_until(lambda: client.hlen("unacked") == 1 and client.llen("baixa") == 0, 30,
                 "the worker to take the task")
        time.sleep(0.3)
        kill_pool(worker)  # SIGKILL the process running the baixa
        transaction.rollback()
        wait_until(lambda: removals_by_product([900_001]), 60, "the redelivered baixa")
    finally:
        blocker.close()
        stop_process(worker)
        redis.stop()
    assert removals_by_product([900_001]) == {900_001: 1}
    assert [o.outcome for o in outcomes()] == ["removed"]


def via_proxy(url: str, proxy: TcpProxy) -> str:
    return make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


@pytest.mark.mariadb_only  # the outage is a cut of MariaDB's TCP connection
def test_mariadb_down_during_scans_nothing_lost(tmp_path: Path, db: str) -> None:
    """MariaDB down during scans: nothing is lost, all are written off after it returns.

    The shared MariaDB is NOT stopped (other people use it): the subprocess worker reaches it
    through a TCP proxy started here, and the proxy is cut (connections dropped, new ones
    refused) and restored.
    """
    real = make_url(db)
    proxy = TcpProxy(real.host or "127.0.0.1", real.port or 3306)
    ids = seed_products("LOJA-001", range(900_100, 900_120))
    redis = OwnRedis(tmp_path / "redis")
    worker = spawn_worker_on(redis.url, concurrency=2, extra_env={
        "STOCKFLOW_DATABASE_URL": via_proxy(db, proxy), "STOCKFLOW_BAIXA_RETRY_BASE_S": "0.5"})
    app = sender(redis.url)
    client = redis.client()
    try:
        for pid in ids[:5]:
            app.send_task("baixa.registrar", kwargs=scan_message(pid), queue="baixa")
        wait_until(lambda: len(removals_by_product(ids[:5])) == 5, 30, "scans before the outage")

        proxy.cut()
        for pid in ids[5:]:
            app.send_task("baixa.registrar", kwargs=scan_message(pid), queue="baixa")
        # every scan was taken and is waiting for a retry while the database is away
        wait_until(lambda: client.llen("baixa") == 0 and client.hlen("unacked") >= 2, 30,
                 "the worker to hold the scans for retry")
        time.sleep(3)  # a few retry rounds fail
        assert shelf_count(ids[5:]) == 15

        proxy.restore()
        wait_until(lambda: len(removals_by_product(ids)) == 20, 90, "every scan after the outage")
    finally:
        stop_process(worker)
        proxy.close()
        redis.stop()
    assert set(removals_by_product(ids).values()) == {1}
    assert sorted(int(o.product_id) for o in outcomes()) == ids
    assert {o.outcome for o in outcomes()} == {"removed"}
    assert not dead_letters.list_open("baixa.registrar")


@pytest.mark.mariadb_only  # the outage is a cut of MariaDB's TCP connection
def test_retries_spent_land_in_dead_letter_and_replay_removes(db: str, worker: Any,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The database stays down longer than the retries: the scan is parked (Redis, since the
    dead-letter table is down too), reaches the dead-letter table when MariaDB returns, and a
    replay writes it off. The in-process worker reaches MariaDB through a TCP proxy we cut."""
    seed_products("LOJA-001", [900_200])
    real = make_url(db)
    proxy = TcpProxy(real.host or "127.0.0.1", real.port or 3306)
    monkeypatch.setenv("STOCKFLOW_BAIXA_MAX_RETRIES", "2")
    monkeypatch.setenv("STOCKFLOW_BAIXA_RETRY_BASE_S", "0.2")
    use_database(via_proxy(db, proxy))  # the in-process worker now goes through the proxy
    message = scan_message(900_200)
    try:
        proxy.cut()
        result = celery_app.send_task("baixa.registrar", kwargs=message)
        with pytest.raises(Exception):
            result.get(timeout=60)  # retries spent
        wait_until(lambda: get_redis().llen(PARKED_KEY) == 1, 10, "the parked entry")
        proxy.restore()
        assert move_parked() == 1
        [entry] = dead_letters.list_open("baixa.registrar")
        assert entry.reference == message["scan_id"] and "BaixaUnavailable" in entry.error
        assert shelf_count([900_200]) == 1  # nothing written off yet, nothing lost either
        assert dead_letters.replay(entry.id, "admin")
        wait_until(lambda: removals_by_product([900_200]), 30, "the replayed baixa")
    finally:
        proxy.close()
        use_database(db)
        monkeypatch.delenv("STOCKFLOW_BAIXA_MAX_RETRIES")
        reset_settings()
    assert removals_by_product([900_200]) == {900_200: 1}
    assert [o.scan_id for o in outcomes()] == [message["scan_id"]]
    assert not dead_letters.list_open("baixa.registrar")
