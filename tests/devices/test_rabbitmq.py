"""A Pi's RabbitMQ user, issued by `flask devices add --broker rabbitmq` (rabbitmqctl), on a
virtual host the test makes on the real RabbitMQ and deletes after: it may publish to the
task exchanges and read its own reply queue, nothing else; after revoke it cannot connect.
What RabbitMQ cannot stop (which device or store a message names) the worker checks."""
from __future__ import annotations

import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from amqp.exceptions import AccessRefused, NotFound, PreconditionFailed
from kombu import Connection, Queue

from core.baixa.outcomes import outcome_queue, publish_outcome
from core.celery_app import task_queues
from edge_agent.config import AgentConfig
from edge_agent.outcomes import OutcomeListener
from edge_agent.publisher import publish_options
from edge_agent.spool import Spool
from tests.baixa.support import scan_message
from tests.devices.support import issue, require_registry, revoke
from tests.support.brokers import rabbitmq_vhost
from tests.support.waiting import wait_until

AMQP = "amqp://guest:guest@127.0.0.1:5672/"


@pytest.fixture
def device_id() -> Iterator[str]:
    """A device id of the test's own (RabbitMQ users are broker-wide), its user deleted after."""
    device_id = f"pi-r-{uuid.uuid4().hex[:8]}"
    yield device_id
    subprocess.run(["rabbitmqctl", "delete_user", f"device-{device_id}"],  # may not exist
                   capture_output=True, timeout=120)


@pytest.fixture
def vhost() -> Iterator[str]:
    """A virtual host of the test's own, with the task queues on it as the workers declare them."""
    with rabbitmq_vhost() as url:
        with Connection(url, connect_timeout=5) as server:
            for queue in task_queues(amqp=True):
                queue(server.default_channel).declare()
            outcome_queue("pi-b")(server.default_channel).declare()
        yield url.rsplit("/", 1)[1]


def refused(url: str, action: Any) -> bool:
    """Whether the broker refuses `action(channel)` (403, or 404 for a passive look)."""
    with Connection(url, connect_timeout=5) as connection:
        channel = connection.channel()
        with pytest.raises((AccessRefused, NotFound)):
            action(channel)
    return True


def test_a_rabbitmq_device_user_may_publish_tasks_and_read_its_replies_only(
        app: Any, db: str, vhost: str, device_id: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    require_registry(monkeypatch, broker_url=f"amqp://127.0.0.1:5672/{vhost}")
    env = issue(app, device_id, "--store", "LOJA-001", "--broker", "rabbitmq")
    url = env["STOCKFLOW_AGENT_BROKER_URL"]
    assert url.startswith(f"amqp://device-{device_id}:") and url.endswith(f"@127.0.0.1:5672/{vhost}")

    with Connection(url, connect_timeout=5, transport_options={"confirm_publish": True}) as device:
        producer = device.Producer()
        for queue in ("baixa", "health"):  # the task exchanges: confirmed by the broker
            producer.publish({"scan": 1}, retry=False,
                             **publish_options(url, queue))  # as the agent: user_id its own user
        # RabbitMQ validates user_id: another device's user is refused, the message dropped.
        with pytest.raises(PreconditionFailed, match="user_id property set to 'device-pi-b'"):
            producer.publish({"scan": 2}, exchange="baixa", routing_key="baixa", retry=False,
                             user_id="device-pi-b")
    with Connection(AMQP + vhost) as server:
        taken = Queue("baixa")(server.default_channel).get(no_ack=True)
        assert taken.properties["user_id"] == f"device-{device_id}"
        assert Queue("baixa")(server.default_channel).queue_declare(passive=True).message_count == 0

    # Its own reply queue, read by the real agent code.
    config = AgentConfig(store_key="LOJA-001", broker_url=url, device_id=device_id,
                         spool_dir=tmp_path, reconnect_base_s=0.2, reconnect_max_s=1)
    spool = Spool(config.spool_path)
    scan = scan_message(1, device_id=device_id)
    spool.add(scan)
    spool.mark_sent(spool.pending(), 60, 3600)
    stop = threading.Event()
    listener = threading.Thread(target=OutcomeListener(config, spool).run, args=(stop,))
    listener.start()
    try:
        with Connection(AMQP + vhost) as server:
            publish_outcome(server.Producer(), scan["scan_id"], device_id, "removed", "ok")
        wait_until(lambda: spool.depth() == 0, 30, "the answered scan to leave the spool")
    finally:
        stop.set()
        listener.join(timeout=10)

    def publish(exchange: str, key: str) -> Any:
        return lambda ch: _confirmed(ch, exchange, key)

    for action in (
            publish("", "baixa.outcomes.pi-b"),  # the default exchange: a forged reply
            publish("", "baixa"),
            publish("ruptura", "ruptura"),  # another task's exchange
            lambda ch: ch.basic_consume("baixa", callback=print),  # read the scans queue
            lambda ch: ch.basic_get("baixa"),
            lambda ch: ch.basic_consume("baixa.outcomes.pi-b", callback=print),
            lambda ch: ch.queue_purge("baixa"),
            lambda ch: ch.queue_delete("baixa"),
            lambda ch: ch.queue_declare("baixa", durable=True),
            lambda ch: ch.queue_bind(f"baixa.outcomes.{device_id}", "baixa", "baixa"),  # copies
            lambda ch: ch.exchange_declare("baixa", "topic", durable=True),
            lambda ch: ch.exchange_delete("baixa"),
            lambda ch: ch.queue_declare("stolen", auto_delete=True)):
        assert refused(url, action)

    with Connection(url, connect_timeout=5) as held:
        held.default_channel  # an open connection
        revoke(app, device_id)
        wait_until(lambda: _closed(held), 30, "the revoked user's connection to be closed")
    with pytest.raises(Exception) as not_again:
        with Connection(url, connect_timeout=5) as connection:
            connection.ensure_connection(max_retries=0)
    assert "ACCESS_REFUSED" in repr(not_again.value) or "403" in repr(not_again.value)


def test_the_real_agent_publishes_with_its_device_user(app: Any, db: str, vhost: str, device_id: str,
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What must arrive: the agent's own scans and health report, sent by its Publisher and
    HealthReporter with the device's RabbitMQ user, which may write to the task exchanges only
    (a bare Celery `queue=` publishes to the default exchange, which that user is refused)."""
    from edge_agent.health import HealthReporter
    from edge_agent.publisher import Publisher

    require_registry(monkeypatch, broker_url=f"amqp://127.0.0.1:5672/{vhost}")
    env = issue(app, device_id, "--store", "LOJA-001", "--broker", "rabbitmq")
    config = AgentConfig(store_key="LOJA-001", broker_url=env["STOCKFLOW_AGENT_BROKER_URL"],
                         device_id=device_id, device_secret=env["STOCKFLOW_AGENT_DEVICE_SECRET"],
                         spool_dir=tmp_path)
    publisher = Publisher(config, Spool(config.spool_path))
    for n in (1, 2, 3):
        publisher.spool.add(scan_message(n, device_id=device_id))
    assert publisher.publish_pending() == 3
    reporter = HealthReporter(config, publisher.spool)
    reporter.latest = reporter.make_report()
    assert reporter.send_latest(), "the health report was refused"
    with Connection(AMQP + vhost) as server:
        channel = server.default_channel
        assert channel.queue_declare("baixa", passive=True).message_count == 3
        assert channel.queue_declare("health", passive=True).message_count == 1
        taken = Queue("baixa")(channel).get(no_ack=True)
        assert taken.headers["task"] == "baixa.registrar"
        assert taken.properties["user_id"] == f"device-{device_id}"


def _confirmed(channel: Any, exchange: str, key: str) -> None:
    """Publish with publisher confirms, so a refusal comes back here."""
    channel.confirm_select()
    channel.basic_publish_confirm(channel.prepare_message(b"{}"), exchange=exchange,
                                  routing_key=key)


def _closed(connection: Any) -> bool:
    try:
        connection.drain_events(timeout=0.2)
    except TimeoutError:
        return False
    except Exception:  # noqa: BLE001 - the broker closed it: what we wait for
        return True
    return False
