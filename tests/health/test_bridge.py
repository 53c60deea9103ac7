"""The RabbitMQ bridge against the real RabbitMQ (127.0.0.1:5672, guest/guest): seed 002's raw
JSON stored; poison messages kept in the dead letters while the bridge goes on; a row the
database refuses isolated from its batch; a database outage losing nothing; a bridge killed
with -9 mid-stream losing nothing. Each test uses a queue of its own, deleted afterwards."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from core import dead_letters
from core.dead_letters import PARKED_KEY
from core.health.report import rejection_counts
from core.redis_client import get_redis
from processes.health_bridge import HealthBridge
from tests.health.support import (
    ago,
    database_through_proxy,
    device_count,
    device_row,
    kept,
    refusing_device,
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
    """A durable queue name of this test only, deleted afterwards."""
    from core.settings import reset_settings

    name = f"rasp_data.test-{uuid.uuid4().hex[:12]}"
    rabbit.queue_declare(name, durable=True)
    monkeypatch.setenv("STOCKFLOW_HEALTH_BRIDGE_QUEUE", name)
    monkeypatch.setenv("STOCKFLOW_HEALTH_BRIDGE_AMQP_URL", AMQP_URL)
    reset_settings()
    yield name
    rabbit.queue_delete(name)
    monkeypatch.undo()
    reset_settings()


def publish(channel: Any, queue: str, body: bytes | str, **properties: Any) -> None:
    import pika

    channel.basic_publish("", queue, body.encode() if isinstance(body, str) else body,
                          pika.BasicProperties(delivery_mode=2, **properties))


def message_count(channel: Any, queue: str) -> int:
    return int(channel.queue_declare(queue, durable=True, passive=True).method.message_count)


@pytest.fixture
def start_bridge(queue: str) -> Iterator[Callable[[], threading.Thread]]:
    """Start the bridge on `queue` in a thread of this process (call it); stopped at the end."""
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def start() -> threading.Thread:
        bridge = HealthBridge(AMQP_URL, queue, prefetch=20, batch_wait_s=0.05, reconnect_max_s=1)
        thread = threading.Thread(target=bridge.run, args=(stop,), daemon=True)
        thread.start()
        threads.append(thread)
        return thread

    yield start
    stop.set()
    for thread in threads:
        thread.join(timeout=15)
        assert not thread.is_alive()


@pytest.fixture
def bridge_thread(start_bridge: Callable[[], threading.Thread]) -> threading.Thread:
    """The bridge consuming the test's queue in a thread of this process."""
    return start_bridge()


def seed_message(device: str) -> dict[str, Any]:
    message = seed_report(device)
    del message["reported_at"]  # exactly seed 002's format
    return message


# (body, AMQP properties, the reason code and a word of the reason each must be kept with)
POISON = {
    "reported_at overflow": (json.dumps(seed_report("pi-overflow", reported_at="0001-01-01T00:00:00+14:00")),
                             {}, "invalid", "reported_at"),
    "20,000-deep JSON": ('{"id": "pi-deep", "x": ' + "[" * 20_000 + "]" * 20_000 + "}", {}, "not_json",
                         "RecursionError"),
    "millisecond AMQP timestamp": (json.dumps(seed_message("pi-ms")), {"timestamp": int(time.time() * 1000)},
                                   "invalid", "AMQP timestamp"),
    "not JSON": ("{this is not json", {"content_type": "application/json"}, "not_json", "JSONDecodeError"),
    "not UTF-8": (b'{"id": "pi-\xff\xfe"}', {}, "not_json", "UnicodeDecodeError"),
    "invalid field": (json.dumps(seed_report("pi-invalid", cpu_percent="muito")), {}, "invalid", "cpu_percent"),
    "no id": (json.dumps({"wifi_status": "connected"}), {}, "missing_id", "id"),
}


def as_bytes(body: bytes | str) -> bytes:
    return body.encode() if isinstance(body, str) else body


def test_bridge_keeps_poison_messages_and_goes_on(
        db: str, rabbit: Any, queue: str, bridge_thread: threading.Thread) -> None:
    # What must survive a queue of good, poison, good messages: every good report stored, every
    # poison one in the dead letters (as it arrived, with its reason), the queue empty, the
    # bridge still running and storing what comes next.
    publish(rabbit, queue, json.dumps(seed_message("raspberry-01")))
    for body, properties, _, _ in POISON.values():
        publish(rabbit, queue, body, **properties)
    publish(rabbit, queue, json.dumps(seed_report("raspberry-02", at=ago(5), cpu_temp="47°C")))

    wait_until(lambda: device_count() == 2 and len(kept("health.bridge")) == len(POISON),
               what=lambda: f"2 devices and {len(POISON)} dead letters, got {device_count()} and "
                            f"{[e['error'][:60] for e in kept('health.bridge')]}")
    wait_until(lambda: message_count(rabbit, queue) == 0, what="the queue drained (all acked)")
    row = device_row("raspberry-01")
    assert row is not None and row.net_ifaces == [{"name": "wlan0", "ip": "192.168.0.10"}]
    assert device_row("raspberry-02").cpu_temp == "47°C"  # type: ignore[union-attr]

    by_message = {entry["message"]: entry for entry in kept("health.bridge")}
    for name, (body, _, code, word) in POISON.items():
        entry = by_message[as_bytes(body)]  # kept byte for byte
        assert entry["error"].startswith(f"{code}: ") and word in entry["error"], (name, entry["error"])
    assert by_message[as_bytes(POISON["not UTF-8"][0])]["encoding"] == "base64"
    assert by_message[as_bytes(POISON["reported_at overflow"][0])]["reference"] == "pi-overflow:invalid"
    assert rejection_counts()["total"] == len(POISON)

    assert bridge_thread.is_alive()
    publish(rabbit, queue, json.dumps(seed_message("raspberry-03")))
    wait_until(lambda: device_count() == 3, what="the report after the poison ones stored")


@pytest.mark.mariadb
def test_bridge_isolates_the_row_the_database_refuses(
        db: str, rabbit: Any, queue: str, start_bridge: Callable[[], threading.Thread],
        worker: Any) -> None:
    # What must survive one report the database refuses inside a batch (its transaction fails
    # whole): every other report of the batch stored, only that one dead-lettered, and stored
    # by its replay once the database takes it.
    with refusing_device("pi-refused"):
        for n in range(16):
            publish(rabbit, queue, json.dumps(seed_report(f"pi-{n:02d}")))
            if n == 7:
                publish(rabbit, queue, json.dumps(seed_report("pi-refused")))
        start_bridge()  # after publishing: the 17 come in one batch
        wait_until(lambda: device_count() == 16 and len(kept("health.bridge")) == 1,
                   what="16 stored and 1 dead letter")
        wait_until(lambda: message_count(rabbit, queue) == 0, what="the queue drained")
    [entry] = kept("health.bridge")
    assert entry["reference"] == "pi-refused:refused" and "pi-refused refused" in entry["error"]
    assert json.loads(entry["message"])["id"] == "pi-refused"
    assert device_row("pi-refused") is None and sample_count() == 16

    [letter] = dead_letters.list_open("health.bridge")
    assert dead_letters.replay(letter.id, "admin")  # the health.bridge task, on a Celery worker
    wait_until(lambda: device_row("pi-refused") is not None, what="the replayed report stored")
    assert not dead_letters.list_open()


@pytest.mark.mariadb_only  # the outage is a cut of MariaDB's TCP connection
def test_bridge_database_outage_loses_nothing(
        db: str, rabbit: Any, queue: str, start_bridge: Callable[[], threading.Thread],
        caplog: pytest.LogCaptureFixture) -> None:
    # What must survive a database outage: every report, stored once the database is back, none
    # of them dead-lettered (the outage is no report's fault); a poison message arriving during
    # the outage parked in Redis and moved into the dead letters afterwards.
    with database_through_proxy(db) as proxy:
        proxy.cut()
        start_bridge()
        for n in range(5):
            publish(rabbit, queue, json.dumps(seed_report(f"pi-{n}")))
        publish(rabbit, queue, "{not json")
        wait_until(lambda: get_redis().llen(PARKED_KEY) == 1, what="the poison message parked")
        wait_until(lambda: "DatabaseUnavailable" in caplog.text, what="the bridge pausing")
        proxy.restore()
        wait_until(lambda: device_count() == 5, what="every report stored after the outage")
        wait_until(lambda: message_count(rabbit, queue) == 0, what="the queue drained")
    from tasks.maintenance import move_parked_dead_letters

    assert move_parked_dead_letters() == 1  # what Beat runs every minute
    [entry] = kept("health.bridge")
    assert entry["message"] == b"{not json" and entry["error"].startswith("not_json: ")


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
    assert not dead_letters.list_open()
    assert sample_count() == total  # redelivered reports added no duplicate samples


def test_bridge_without_amqp_url_idles_until_stopped(db: str) -> None:
    env = {**os.environ, "STOCKFLOW_HEALTH_BRIDGE_AMQP_URL": ""}
    process = subprocess.Popen([sys.executable, "-m", "processes.health_bridge"], cwd=ROOT, env=env,
                               stderr=subprocess.PIPE)
    try:
        # Wait for it to say it idles (its imports take seconds on a loaded machine), then check it
        # is still running: honcho would stop everything on an exit.
        assert process.stderr is not None
        said: list[bytes] = []
        reader = threading.Thread(target=lambda: said.extend(iter(process.stderr.readline, b"")), daemon=True)
        reader.start()
        deadline = time.monotonic() + 60
        while not any(b"idles" in line for line in said) and time.monotonic() < deadline:
            assert process.poll() is None, b"".join(said).decode(errors="replace")
            time.sleep(0.1)
        assert any(b"idles" in line for line in said), b"".join(said).decode(errors="replace")
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(timeout=1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
