"""The RabbitMQ bridge against the real RabbitMQ (127.0.0.1:5672, guest/guest): seed 002's raw
JSON stored, bad messages moved to the dead-letter queue, a bridge killed with -9 mid-stream
losing nothing. Each test uses queues of its own, deleted afterwards."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from core.health.report import rejection_counts
from processes.health_bridge import HealthBridge, dead_queue_name
from tests.health.support import (
    ago,
    device_count,
    device_row,
    sample_count,
    seed_report,
)
from tests.support.environment import ROOT, service_unavailable
from tests.support.waiting import wait_until

AMQP_URL = os.environ.get("STOCKFLOW_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


@pytest.fixture
def rabbit() -> Iterator[Any]:
    """A channel on the real RabbitMQ (skipped outside CI when none answers; a failure in CI)."""
    pika = pytest.importorskip("pika")
    try:
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    except pika.exceptions.AMQPError as exc:
        service_unavailable("RabbitMQ", AMQP_URL, repr(exc))
    channel = connection.channel()
    channel.confirm_delivery()
    yield channel
    connection.close()


@pytest.fixture
def queue(rabbit: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A durable queue name of this test only (and its .dead twin), deleted afterwards."""
    from core.settings import reset_settings

    name = f"rasp_data.test-{uuid.uuid4().hex[:12]}"
    rabbit.queue_declare(name, durable=True)
    rabbit.queue_declare(dead_queue_name(name), durable=True)
    monkeypatch.setenv("STOCKFLOW_HEALTH_BRIDGE_QUEUE", name)
    monkeypatch.setenv("STOCKFLOW_HEALTH_BRIDGE_AMQP_URL", AMQP_URL)
    reset_settings()
    yield name
    rabbit.queue_delete(name)
    rabbit.queue_delete(dead_queue_name(name))
    monkeypatch.undo()
    reset_settings()


def publish(channel: Any, queue: str, body: bytes | str, **properties: Any) -> None:
    import pika

    channel.basic_publish("", queue, body.encode() if isinstance(body, str) else body,
                          pika.BasicProperties(delivery_mode=2, **properties))


def message_count(channel: Any, queue: str) -> int:
    return int(channel.queue_declare(queue, durable=True, passive=True).method.message_count)


@pytest.fixture
def bridge_thread(queue: str) -> Iterator[threading.Event]:
    """The bridge consuming `queue` in a thread of this process; stopped at the end."""
    stop = threading.Event()
    bridge = HealthBridge(AMQP_URL, queue, prefetch=20, batch_wait_s=0.05, reconnect_max_s=1)
    thread = threading.Thread(target=bridge.run, args=(stop,), daemon=True)
    thread.start()
    yield stop
    stop.set()
    thread.join(timeout=15)
    assert not thread.is_alive()


@pytest.mark.mariadb
def test_bridge_stores_seed_messages_and_dead_letters_bad_ones(
        db: str, rabbit: Any, queue: str, bridge_thread: threading.Event) -> None:
    seed_message = seed_report("raspberry-01")
    del seed_message["reported_at"]  # exactly seed 002's format
    publish(rabbit, queue, json.dumps(seed_message))
    publish(rabbit, queue, json.dumps(seed_report("raspberry-02", at=ago(5), cpu_temp="47°C")))
    publish(rabbit, queue, b"{this is not json", content_type="application/json")
    publish(rabbit, queue, json.dumps(seed_report("raspberry-03", cpu_percent="muito")))
    publish(rabbit, queue, json.dumps({"wifi_status": "connected"}))

    wait_until(lambda: device_count() == 2 and message_count(rabbit, dead_queue_name(queue)) == 3,
               what="2 devices stored and 3 dead letters")
    wait_until(lambda: message_count(rabbit, queue) == 0, what="the queue drained (all acked)")
    row = device_row("raspberry-01")
    assert row is not None and row.net_ifaces == [{"name": "wlan0", "ip": "192.168.0.10"}]
    assert device_row("raspberry-02").cpu_temp == "47°C"  # type: ignore[union-attr]
    assert rejection_counts() == {"not_json": 1, "invalid": 1, "missing_id": 1, "total": 3}

    # the dead letters keep the original body and say why they are there
    dead = []
    for _ in range(3):
        method, properties, body = rabbit.basic_get(dead_queue_name(queue), auto_ack=True)
        dead.append((properties.headers["x-rejected-code"], body))
    assert dead[0] == ("not_json", b"{this is not json")
    assert [code for code, _ in dead[1:]] == ["invalid", "missing_id"]


def test_bridge_redelivery_with_producer_timestamp_adds_no_sample(
        db: str, rabbit: Any, queue: str, bridge_thread: threading.Event) -> None:
    message = seed_report("raspberry-01")
    del message["reported_at"]
    stamp = int(time.time()) - 10
    for _ in range(2):  # the same message twice, as after a crash between commit and ack
        publish(rabbit, queue, json.dumps(message), timestamp=stamp)
    wait_until(lambda: message_count(rabbit, queue) == 0 and device_count() == 1, what="drained")
    wait_until(lambda: sample_count("raspberry-01") >= 1, what="sample")
    assert sample_count("raspberry-01") == 1
    row = device_row("raspberry-01")
    assert row is not None and int(row.reported_at.timestamp()) == stamp


def spawn_bridge(queue: str, db_url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "STOCKFLOW_DATABASE_URL": db_url, "STOCKFLOW_HEALTH_BRIDGE_QUEUE": queue,
           "STOCKFLOW_HEALTH_BRIDGE_AMQP_URL": AMQP_URL, "STOCKFLOW_HEALTH_BRIDGE_PREFETCH": "50",
           "STOCKFLOW_HEALTH_BRIDGE_BATCH_WAIT_S": "0.05", "STOCKFLOW_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-m", "processes.health_bridge"], cwd=ROOT, env=env)


@pytest.mark.mariadb
def test_bridge_killed_mid_stream_loses_nothing(db: str, rabbit: Any, queue: str) -> None:
    # What must survive a kill -9 of the bridge in the middle of the stream: every message
    # published (one device each) ends in the database, none stays in or leaves the queue
    # unstored, and none goes to the dead-letter queue.
    total = 1500
    for n in range(total):
        publish(rabbit, queue, json.dumps(seed_report(f"pi-{n:05d}", at=ago(1))))

    bridge = spawn_bridge(queue, db)
    try:
        wait_until(lambda: device_count() > 0, what="the bridge's first commit")
        bridge.send_signal(signal.SIGKILL)
        bridge.wait(timeout=10)
    finally:
        if bridge.poll() is None:
            bridge.kill()
    stored_at_kill = device_count()
    assert stored_at_kill < total, "the kill came too late to be mid-stream"

    bridge = spawn_bridge(queue, db)
    try:
        wait_until(lambda: device_count() == total, timeout_s=60, what="every device stored")
        wait_until(lambda: message_count(rabbit, queue) == 0, what="the queue drained")
        bridge.send_signal(signal.SIGTERM)
        assert bridge.wait(timeout=15) == 0  # a clean stop
    finally:
        if bridge.poll() is None:
            bridge.kill()
    assert message_count(rabbit, dead_queue_name(queue)) == 0
    assert sample_count() == total  # redelivered reports added no duplicate samples


def test_bridge_without_amqp_url_idles_until_stopped(db: str) -> None:
    env = {**os.environ, "STOCKFLOW_HEALTH_BRIDGE_AMQP_URL": ""}
    process = subprocess.Popen([sys.executable, "-m", "processes.health_bridge"], cwd=ROOT, env=env,
                               stderr=subprocess.PIPE)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(timeout=3)  # still running: honcho would stop everything on an exit
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert b"idles" in (process.stderr.read() if process.stderr else b"")
    finally:
        if process.poll() is None:
            process.kill()
