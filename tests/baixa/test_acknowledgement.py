"""End-to-end acknowledgement: a scan leaves the Pi's spool only when its outcome is recorded
on the server, and is sent again until then. The worker answers each scan on its device's
queue (`baixa.outcomes.<device_id>`); the broker losing messages or a worker killed with
kill -9 loses no baixa."""
from __future__ import annotations

import logging
import os
import threading
import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest
from kombu import Connection
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text

from core import dead_letters
from core.baixa.outcomes import outcome_queue, publish_outcome
from core.celery_app import celery_app
from core.db import get_engine
from core.dead_letters import PARKED_KEY
from core.redis_client import get_redis
from core.settings import reset_settings
from edge_agent.config import AgentConfig
from edge_agent.outcomes import OutcomeListener
from edge_agent.spool import Spool
from tests.baixa.support import (
    Agent,
    OwnRedis,
    outcomes,
    removals_by_product,
    scan_message,
    seed_products,
    shelf_count,
    spawn_worker_on,
    stop_process,
)
from tests.support.environment import REDIS_URL, service_unavailable
from tests.support.waiting import wait_until

AMQP_URL = os.environ.get("STOCKFLOW_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def send(message: dict[str, Any]) -> Any:
    return celery_app.send_task("baixa.registrar", kwargs=message)


def take_replies(device_id: str, count: int, broker_url: str = REDIS_URL,
                 timeout_s: float = 30) -> list[dict[str, Any]]:
    """Read `count` replies off a device's outcome queue, as its agent would."""
    taken: list[dict[str, Any]] = []
    with Connection(broker_url) as connection:
        queue = outcome_queue(device_id)(connection.default_channel)

        def enough() -> bool:
            while (message := queue.get(no_ack=True)) is not None:
                taken.append(message.decode())
            return len(taken) >= count

        wait_until(enough, timeout_s, lambda: f"{count} replies on {queue.name}, got {taken}")
    return taken


def reply_queues() -> list[str]:
    return sorted(get_redis().scan_iter("baixa.outcomes.*"))


def kill_9(worker: Any) -> None:
    """SIGKILL a prefork worker: its main process (mid-pop, tasks unacked) and its children."""
    main = psutil.Process(worker.pid)
    children = main.children(recursive=True)
    main.kill()
    for child in children:
        child.kill()
    worker.wait()
    psutil.wait_procs(children, timeout=10)


def test_every_recorded_outcome_is_answered_to_its_device(worker: Any) -> None:
    seed_products("LOJA-001", [810_001])
    scans = [scan_message(810_001, device_id="pi-a"), scan_message(424_242, device_id="pi-a"),
             scan_message("12ab", device_id="pi-a")]
    for message in scans:
        send(message).get(timeout=30)
    send(scans[0]).get(timeout=30)  # the same scan sent again: its first outcome, answered again

    replies = take_replies("pi-a", 4)
    assert [r["scan_id"] for r in replies] == [s["scan_id"] for s in scans] + [scans[0]["scan_id"]]
    assert [r["outcome"] for r in replies] == ["removed", "not_found", "invalid", "removed"]
    assert "dígitos" in replies[2]["reason"]
    assert removals_by_product([810_001]) == {810_001: 1}


def test_a_scan_without_device_id_is_recorded_and_not_answered(worker: Any) -> None:
    seed_products("LOJA-001", [810_101])
    message = scan_message(810_101)
    message["device_id"] = None
    assert send(message).get(timeout=30)["outcome"] == "removed"
    assert send(scan_message(810_102, device_id="x" * 65)).get(timeout=30)["outcome"] == "invalid"
    assert [o.outcome for o in outcomes()] == ["removed", "invalid"]
    assert reply_queues() == []  # nobody to address


def test_a_reply_that_cannot_be_sent_neither_fails_nor_repeats_the_baixa(
        worker: Any, caplog: pytest.LogCaptureFixture) -> None:
    # What must hold: the write-off is done once and the task succeeds; the Pi's resend
    # later brings the reply.
    seed_products("LOJA-001", [810_201])
    get_redis().set("baixa.outcomes.pi-broken", "not a list")  # every push to it fails
    message = scan_message(810_201, device_id="pi-broken")
    with caplog.at_level(logging.WARNING):
        assert send(message).get(timeout=30)["outcome"] == "removed"
    assert "outcome reply not sent" in caplog.text
    assert "task retry" not in caplog.text and "task failed" not in caplog.text
    assert removals_by_product([810_201]) == {810_201: 1}

    get_redis().delete("baixa.outcomes.pi-broken")
    assert send(message).get(timeout=30)["outcome"] == "removed"  # the agent's resend
    assert [(r["scan_id"], r["outcome"]) for r in take_replies("pi-broken", 1)] == [
        (message["scan_id"], "removed")]
    assert len(outcomes()) == 1 and removals_by_product([810_201]) == {810_201: 1}


def rename(table: str, to: str) -> None:
    with get_engine().begin() as conn:
        conn.execute(text(f"ALTER TABLE {table} RENAME TO {to}"))


def test_a_given_up_scan_is_answered_once_its_dead_letter_is_in_the_table(
        worker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The baixa cannot be recorded (its table is away) and no retry is left; the dead-letter
    # table is away too, so the failure is parked in Redis: not recorded yet, no reply (the
    # Pi keeps the scan). Once Beat's move_parked records the dead letter, where a person
    # replays it, the Pi is answered and may forget the scan.
    monkeypatch.setenv("STOCKFLOW_BAIXA_MAX_RETRIES", "0")
    reset_settings()
    message = scan_message(810_301, device_id="pi-dl")
    rename("tb_baixa_leitura", "tb_baixa_leitura_away")
    rename("dead_letters", "dead_letters_away")
    try:
        with pytest.raises(Exception):
            send(message).get(timeout=30)
        wait_until(lambda: get_redis().llen(PARKED_KEY) == 1, 10, "the parked failure")
        assert reply_queues() == []
        rename("dead_letters_away", "dead_letters")
        assert celery_app.send_task("dead_letters.move_parked").get(timeout=30) == 1
        [reply] = take_replies("pi-dl", 1)
    finally:
        for table in ("dead_letters", "tb_baixa_leitura"):
            if table + "_away" in sa_inspect(get_engine()).get_table_names():
                rename(table + "_away", table)
        monkeypatch.delenv("STOCKFLOW_BAIXA_MAX_RETRIES")
        reset_settings()
    assert (reply["scan_id"], reply["outcome"]) == (message["scan_id"], "dead_letter")
    assert reply["reason"]
    [entry] = dead_letters.list_open("baixa.registrar")
    assert entry.reference == message["scan_id"]


def test_the_agent_drops_a_scan_only_on_its_outcome_and_ignores_bad_replies(tmp_path: Path) -> None:
    # No worker: the broker took both scans, yet they stay spooled until answered. Replies
    # that are garbage or name a scan it does not hold change nothing and stop nothing.
    redis = OwnRedis(tmp_path / "redis")
    agent = Agent(tmp_path / "agent", redis.url).start()
    try:
        first, second = agent.scan(b"1001"), agent.scan(b"1002")
        spool = Spool(agent.spool_dir / "spool.sqlite3")
        wait_until(lambda: spool.counts() == (0, 2), 30, "both scans sent, waiting for outcomes")
        with Connection(redis.url) as connection:
            producer = connection.Producer()
            queue = outcome_queue("pi-test")

            def reply(body: Any, **options: Any) -> None:
                producer.publish(body, exchange="", routing_key=queue.name, declare=[queue],
                                 **options)

            reply(b"\x80\x03not json", content_type="application/x-python-serialize",
                  content_encoding="binary")
            reply(["a", "list"], serializer="json")
            reply({"outcome": "removed"}, serializer="json")
            reply({"scan_id": "6a1c2c4e-0000-4000-8000-000000000000", "outcome": "removed"},
                  serializer="json")
            reply({"scan_id": first["scan_id"], "outcome": "not_found", "reason": "x"},
                  serializer="json")
        wait_until(lambda: spool.counts() == (0, 1), 30, "the answered scan to leave the spool")
        assert [p.scan["scan_id"] for p in spool.pending(now=float("inf"))] == [second["scan_id"]]
        spool.close()
        assert agent.process is not None and agent.process.poll() is None
    finally:
        assert agent.stop() == 0
        redis.stop()
    log = agent.log()
    assert "unreadable outcome reply dropped" in log and "without a scan_id dropped" in log
    assert f"scan outcome scan_id={first['scan_id']} outcome=not_found" in log


def test_on_rabbitmq_the_agent_takes_the_replies_the_worker_publishes(tmp_path: Path) -> None:
    # Broker-generic: the same kombu code on RabbitMQ (where issue 13 takes the Pis).
    try:
        with Connection(AMQP_URL, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001 - any failure to connect: no RabbitMQ here
        service_unavailable("RabbitMQ", AMQP_URL, repr(exc))
    device = f"pi-amqp-{uuid.uuid4().hex[:8]}"  # a queue of this test's own on a shared broker
    config = AgentConfig(store_key="LOJA-001", broker_url=AMQP_URL, device_id=device,
                         spool_dir=tmp_path, reconnect_base_s=0.2, reconnect_max_s=1)
    spool = Spool(config.spool_path)
    scans = [scan_message(n, device_id=device) for n in (1, 2, 3)]
    for message in scans:
        spool.add(message)
    spool.mark_sent(spool.pending(), 60, 3600)  # as the publisher does once the broker took them
    stop = threading.Event()
    listener = threading.Thread(target=OutcomeListener(config, spool).run, args=(stop,))
    try:
        with Connection(AMQP_URL) as connection:
            producer = connection.Producer()
            for message in scans[:2]:  # before the agent listens: the queue keeps them
                publish_outcome(producer, message["scan_id"], device, "removed", "ok")
        listener.start()
        wait_until(lambda: spool.depth() == 1, 30, "the two answered scans to leave the spool")
    finally:
        stop.set()
        if listener.is_alive():
            listener.join(timeout=10)
        with Connection(AMQP_URL) as connection:
            outcome_queue(device)(connection.default_channel).delete()
    assert [p.scan["scan_id"] for p in spool.pending(now=float("inf"))] == [scans[2]["scan_id"]]


@pytest.mark.mariadb_only
def test_broker_loses_every_queued_scan_and_a_worker_dies_each_is_written_off_once(
        tmp_path: Path, db: str) -> None:
    # What must survive: 500 scans the agent accepted, though the broker lost every queued
    # message (the `baixa` list deleted: what an `everysec` AOF loses on power loss, for
    # every scan at once) and a worker was killed with kill -9 mid-burst (the tasks in its
    # hands, and any caught between kombu's pop and its unacked record, kombu#305). Each is
    # written off exactly once and the spool ends empty: the agent sent again what had no
    # outcome.
    ids = seed_products("LOJA-001", range(820_001, 820_501))
    redis = OwnRedis(tmp_path / "redis")
    client = redis.client()
    agent = Agent(tmp_path / "agent", redis.url, env={
        "STOCKFLOW_AGENT_ACK_TIMEOUT_S": "2", "STOCKFLOW_AGENT_ACK_TIMEOUT_MAX_S": "4"})
    workers: list[Any] = []
    try:
        agent.start()
        assert agent.process is not None and agent.process.stdin is not None
        agent.process.stdin.write(b"".join(f"{pid}\n".encode() for pid in ids))
        agent.process.stdin.flush()
        accepted = [agent.ack() for _ in ids]
        assert all(a["accepted"] for a in accepted)
        spool = Spool(agent.spool_dir / "spool.sqlite3")
        wait_until(lambda: spool.counts() == (0, 500), 60, lambda: f"all sent: {spool.counts()}")
        assert client.llen("baixa") >= 500
        client.delete("baixa")  # the broker loses what it had accepted

        workers.append(spawn_worker_on(redis.url, concurrency=2))
        wait_until(lambda: len(removals_by_product(ids)) >= 150, 90, "a third written off")
        kill_9(workers.pop())
        assert len(removals_by_product(ids)) < 500  # killed mid-burst
        workers.append(spawn_worker_on(redis.url, concurrency=2))
        wait_until(lambda: spool.depth() == 0, 120,
                   lambda: f"the spool to empty: {spool.counts()}, "
                           f"{len(removals_by_product(ids))} written off")
        spool.close()
        assert agent.stop() == 0
    finally:
        for worker in workers:
            stop_process(worker)
        if agent.process is not None and agent.process.poll() is None:
            agent.stop()
        redis.stop()
    assert set(removals_by_product(ids).values()) == {1} and len(removals_by_product(ids)) == 500
    assert shelf_count(ids) == 0
    recorded = outcomes()
    assert sorted(o.scan_id for o in recorded) == sorted(a["scan_id"] for a in accepted)
    assert {o.outcome for o in recorded} == {"removed"}
    assert "sent again" in agent.log()
