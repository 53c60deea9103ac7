"""The health queue's batch worker on the real Redis broker: reports sent as the Pis send them
are stored; poison messages kept in the dead letters while the worker goes on; a row the
database refuses isolated from its batch; foreign tasks dead-lettered; a database outage loses
nothing; a worker killed with -9 mid-stream loses nothing. Each test reads a queue of its own,
so the session's Celery worker (which reads `health`) does not compete."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kombu import Queue

from core import dead_letters
from core.dead_letters import PARKED_KEY
from core.health.report import rejection_counts
from core.health.store import DatabaseUnavailable
from core.redis_client import get_redis
from processes import health_batch_worker as batch_worker
from processes.health_batch_worker import HealthBatchWorker
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
from tests.support.environment import ROOT
from tests.support.waiting import wait_until


@pytest.fixture
def queue() -> Iterator[str]:
    name = f"health-test-{uuid.uuid4().hex[:10]}"
    yield name
    get_redis().delete(name, f"_kombu.binding.{name}", f"_kombu.binding_permanent.{name}")


def send(queue: str, report: Any, task: str = "health.report") -> None:
    """Publish as the agent does: by task name, JSON, no result kept."""
    from core.celery_app import celery_app

    celery_app.send_task(task, args=[report], queue=queue, ignore_result=True)


def send_raw(queue: str, body: bytes, task: str = "health.report") -> None:
    """Publish a body as it is (no serializer), headed as a Celery task message."""
    from core.celery_app import celery_app

    with celery_app.producer_or_acquire() as producer:
        producer.publish(body, exchange="", routing_key=queue, declare=[Queue(queue)],
                         content_type="application/json", content_encoding="utf-8",
                         headers={"task": task, "id": str(uuid.uuid4())})


def drained(queue: str) -> bool:
    redis = get_redis()
    return redis.llen(queue) == 0 and redis.hlen("unacked") == 0


@pytest.fixture
def run_worker(queue: str) -> Iterator[Callable[[], threading.Thread]]:
    """Start the batch worker on `queue` in a thread (call it), stopped at the end."""
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def start() -> threading.Thread:
        worker = HealthBatchWorker(batch_max=50, queue=queue)
        thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        thread.start()
        threads.append(thread)
        return thread

    yield start
    stop.set()
    for thread in threads:
        thread.join(timeout=15)
        assert not thread.is_alive()


@pytest.mark.mariadb
def test_reports_are_stored_in_batches_and_bad_ones_rejected(
        db: str, queue: str, run_worker: Callable[[], None]) -> None:
    for n in range(120):
        send(queue, seed_report(f"pi-{n % 40:02d}", at=ago(100 - n), cpu_percent=float(n % 100)))
    send(queue, {"wifi_status": "connected"})
    send(queue, seed_report("pi-bad", cpu_percent="alto"))
    send(queue, "not json {")
    send(queue, {"scan_id": "x"}, task="baixa.registrar")  # a foreign task on the health queue
    run_worker()

    wait_until(lambda: sample_count() == 120 and drained(queue), what="120 reports stored, queue drained")
    assert device_count() == 40
    row = device_row("pi-00")
    assert row is not None and row.cpu_percent == 80.0  # its newest report (n = 80)
    assert rejection_counts() == {"missing_id": 1, "invalid": 1, "not_object": 1, "total": 3}
    assert sorted(entry["error"].split(":")[0] for entry in kept("health.batch_worker")) == [
        "invalid", "missing_id", "not_object"]
    # kept for a person to replay (to its own queue), not dropped and not run here
    assert [entry.task_name for entry in dead_letters.list_open("baixa.registrar")] == ["baixa.registrar"]


def deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


# (body as published, the reason code and a word of the reason each must be kept with)
POISON_BODIES = {
    "20,000-deep JSON": ('[[{"id": "pi-deep", "x": ' + deep_json(20_000) + "}], {}, {}]", "not_json",
                         "recursion"),
    "5,000-digit number": ('[[{"id": "pi-big", "n": ' + "1" * 5_000 + "}], {}, {}]", "not_json", "digits"),
    "not JSON": ("{this is not json", "not_json", "Expecting property name"),
    "not UTF-8": (b'[[{"id": "pi-\xff\xfe"}], {}, {}]', "not_json", "'utf-8' codec"),
    "not a task call": ('{"id": "pi-seed"}', "not_a_task", "protocol 2"),
}
POISON_REPORTS = {
    "reported_at overflow": (seed_report("pi-overflow", reported_at="0001-01-01T00:00:00+14:00"), "invalid",
                             "reported_at"),
    "reported_at past 9999 in UTC": (seed_report("pi-9999", reported_at="9999-12-31T23:59:59-14:00"), "invalid",
                                     "reported_at"),
    "invalid field": (seed_report("pi-invalid", cpu_percent="alto"), "invalid", "cpu_percent"),
}


def test_batch_worker_keeps_poison_messages_and_goes_on(
        db: str, queue: str, run_worker: Callable[[], threading.Thread]) -> None:
    # What must survive a queue of good, poison, good messages: every good report stored, every
    # poison one in the dead letters (as it arrived, with its reason), the queue drained, the
    # worker still running and storing what comes next.
    send(queue, seed_report("pi-good-1"))
    for body, _, _ in POISON_BODIES.values():
        send_raw(queue, body.encode() if isinstance(body, str) else body)
    for report, _, _ in POISON_REPORTS.values():
        send(queue, report)
    send(queue, seed_report("pi-good-2", at=ago(5)))
    thread = run_worker()

    total = len(POISON_BODIES) + len(POISON_REPORTS)
    wait_until(lambda: device_count() == 2 and len(kept("health.batch_worker")) == total and drained(queue),
               what=lambda: f"2 devices, {total} dead letters, the queue drained; got {device_count()}, "
                            f"{[e['error'][:60] for e in kept('health.batch_worker')]}")
    entries = kept("health.batch_worker")
    by_message = {entry["message"]: entry for entry in entries}
    for name, (body, code, word) in POISON_BODIES.items():
        entry = by_message[body.encode() if isinstance(body, str) else body]  # kept byte for byte
        assert entry["error"].startswith(f"{code}: ") and word in entry["error"], (name, entry["error"])
    assert by_message[POISON_BODIES["not UTF-8"][0]]["encoding"] == "base64"
    by_device = {json.loads(entry["message"]).get("id"): entry for entry in entries
                 if entry["encoding"] == "utf-8" and entry["message"].startswith(b'{"id": "pi-')}
    for name, (report, code, word) in POISON_REPORTS.items():
        entry = by_device[report["id"]]
        assert json.loads(entry["message"]) == report  # the report itself, replayable
        assert entry["error"].startswith(f"{code}: ") and word in entry["error"], (name, entry["error"])

    assert thread.is_alive()
    send(queue, seed_report("pi-good-3"))
    wait_until(lambda: device_count() == 3 and drained(queue), what="the report after the poison ones")


@pytest.mark.mariadb
def test_batch_worker_isolates_the_row_the_database_refuses(
        db: str, queue: str, run_worker: Callable[[], threading.Thread]) -> None:
    # What must survive one report the database refuses inside a batch (its transaction fails
    # whole): every other report of the batch stored, only that one dead-lettered, and stored
    # by its replay (read by this worker too) once the database takes it.
    from core.celery_app import celery_app

    with refusing_device("pi-refused"):
        for n in range(40):
            send(queue, seed_report(f"pi-{n:02d}"))
            if n == 25:
                send(queue, seed_report("pi-refused"))
        run_worker()  # after sending: the 41 come in one batch
        wait_until(lambda: device_count() == 40 and len(kept("health.batch_worker")) == 1 and drained(queue),
                   what="40 stored, 1 dead letter, the queue drained")
    [entry] = kept("health.batch_worker")
    assert entry["reference"] == "pi-refused:refused" and "pi-refused refused" in entry["error"]
    assert json.loads(entry["message"])["id"] == "pi-refused"
    assert device_row("pi-refused") is None and sample_count() == 40

    [letter] = dead_letters.list_open("health.batch_worker")
    celery_app.send_task(letter.task_name, args=letter.args, kwargs=letter.kwargs, queue=queue)
    wait_until(lambda: device_row("pi-refused") is not None and drained(queue),
               what="the replayed report stored")


def test_database_failure_requeues_the_batch_and_loses_nothing(
        db: str, queue: str, run_worker: Callable[[], None], monkeypatch: pytest.MonkeyPatch) -> None:
    # What must survive a failed write: every report of the failed batch, stored on a later try.
    real_apply = batch_worker.apply_reports_isolating
    failures = []

    def flaky_apply(rows: list[dict[str, Any]]) -> list[Any]:
        if not failures:
            failures.append(len(rows))
            raise DatabaseUnavailable("database went away")
        return real_apply(rows)

    monkeypatch.setattr(batch_worker, "apply_reports_isolating", flaky_apply)
    for n in range(30):
        send(queue, seed_report(f"pi-{n:02d}"))
    run_worker()
    wait_until(lambda: device_count() == 30 and drained(queue), what="all 30 stored after the failure")
    assert failures and failures[0] > 0
    assert sample_count() == 30
    assert not dead_letters.list_open()


@pytest.mark.mariadb_only  # the outage is a cut of MariaDB's TCP connection
def test_batch_worker_database_outage_loses_nothing(
        db: str, queue: str, run_worker: Callable[[], None], caplog: pytest.LogCaptureFixture) -> None:
    # What must survive a database outage: every report, stored once the database is back, none
    # of them dead-lettered (the outage is no report's fault); a poison message arriving during
    # the outage parked in Redis and moved into the dead letters afterwards.
    with database_through_proxy(db) as proxy:
        proxy.cut()
        run_worker()
        for n in range(10):
            send(queue, seed_report(f"pi-{n}"))
        send(queue, seed_report("pi-bad", cpu_percent="alto"))
        wait_until(lambda: get_redis().llen(PARKED_KEY) == 1, what="the poison report parked")
        wait_until(lambda: "DatabaseUnavailable" in caplog.text, what="the worker pausing")
        proxy.restore()
        wait_until(lambda: device_count() == 10 and drained(queue), timeout_s=60,
                   what="every report stored after the outage")
    from tasks.maintenance import move_parked_dead_letters

    assert move_parked_dead_letters() == 1  # what Beat runs every minute
    [entry] = kept("health.batch_worker")
    assert entry["reference"] == "pi-bad:invalid" and json.loads(entry["message"])["id"] == "pi-bad"


def spawn(queue: str, db: str) -> subprocess.Popen[bytes]:
    # A short visibility timeout, so a restarted worker takes back what a killed one held.
    env = {**os.environ, "STOCKFLOW_DATABASE_URL": db, "STOCKFLOW_VISIBILITY_TIMEOUT_S": "2",
           "STOCKFLOW_LOG_LEVEL": "WARNING", "STOCKFLOW_HEALTH_BATCH_MAX": "50"}
    return subprocess.Popen([sys.executable, "-m", "processes.health_batch_worker", "--queue", queue],
                            cwd=ROOT, env=env)


def stop_process(process: subprocess.Popen[bytes], signum: int) -> int:
    process.send_signal(signum)
    try:
        return process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.mariadb
def test_batch_worker_stopped_mid_stream_loses_nothing(db: str, queue: str) -> None:
    # What must survive a stop (SIGTERM, as systemd and honcho send) in the middle of the
    # stream: every report ends in the database exactly once; nothing stays unacked.
    total = 1500
    for n in range(total):
        send(queue, seed_report(f"pi-{n:05d}", at=ago(1)))
    worker = spawn(queue, db)
    try:
        wait_until(lambda: device_count() > 0, what="the first commit")
    finally:
        assert stop_process(worker, signal.SIGTERM) == 0
    assert device_count() < total, "the stop came too late to be mid-stream"
    assert get_redis().hlen("unacked") == 0  # what it held went back to the queue

    worker = spawn(queue, db)
    try:
        wait_until(lambda: device_count() == total and drained(queue), timeout_s=60,
                   what="every report stored after the restart")
    finally:
        stop_process(worker, signal.SIGTERM)
    assert sample_count() == total


@pytest.mark.mariadb
def test_batch_worker_killed_mid_stream_loses_at_most_the_report_in_flight(db: str, queue: str) -> None:
    # What must survive kill -9 in the middle of the stream: every report the worker had taken
    # (kombu's unacked set) is redelivered and stored. On the Redis transport kombu pops a
    # message (BRPOP) before recording it as unacked, so the one message inside that window
    # at the kill is gone; Celery workers on Redis share this (kombu#305). On RabbitMQ none is.
    total = 1500
    for n in range(total):
        send(queue, seed_report(f"pi-{n:05d}", at=ago(1)))
    worker = spawn(queue, db)
    try:
        wait_until(lambda: device_count() > 0, what="the first commit")
    finally:
        stop_process(worker, signal.SIGKILL)
    held = get_redis().hlen("unacked")
    assert device_count() < total, "the kill came too late to be mid-stream"
    assert held > 0  # reports taken but not yet stored when it died
    # Killed during kombu's restore sweep, a worker may leave its mutex behind; kombu lets it
    # expire after 5 minutes (unacked_mutex_expire). Stand in for those minutes.
    get_redis().delete("unacked_mutex")

    worker = spawn(queue, db)
    try:
        wait_until(lambda: drained(queue) and device_count() >= total - 1, timeout_s=60,
                   what="every held report stored after the restart")
    finally:
        stop_process(worker, signal.SIGTERM)
    assert device_count() >= total - 1
    assert sample_count() == device_count()  # no duplicate from the redelivery
