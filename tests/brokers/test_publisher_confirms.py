"""The agent on RabbitMQ: a scan counts as sent only once the broker confirmed it."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from amqp.exceptions import MessageNacked
from kombu import Connection, Exchange, Queue

from edge_agent.config import AgentConfig
from edge_agent.publisher import Publisher
from edge_agent.scan import make_scan
from edge_agent.spool import Spool
from tests.support.brokers import rabbitmq_vhost


@pytest.fixture
def vhost_url() -> Iterator[str]:
    with rabbitmq_vhost() as url:
        yield url


def declare_baixa(url: str, **arguments: object) -> None:
    """Declare the `baixa` quorum queue behind its topic exchange, as the workers do, with
    extra queue arguments."""
    exchange = Exchange("baixa", type="topic", durable=True)
    queue = Queue("baixa", exchange, routing_key="baixa", durable=True,
                  queue_arguments={"x-queue-type": "quorum", **arguments})
    with Connection(url) as connection:
        queue(connection.default_channel).declare()


def queued(url: str) -> int:
    with Connection(url) as connection:
        return connection.default_channel.queue_declare("baixa", passive=True).message_count


def publisher_on(url: str, tmp_path: Path) -> Publisher:
    config = AgentConfig(store_key="LOJA-001", broker_url=url, device_id="pi-confirm",
                         spool_dir=tmp_path)
    publisher = Publisher(config, Spool(config.spool_path))
    for product_id in ("101", "102", "103"):
        publisher.spool.add(make_scan(product_id, config))  # type: ignore[arg-type]
    return publisher


def test_a_scan_the_broker_refuses_stays_unsent(vhost_url: str, tmp_path: Path) -> None:
    # What must survive: the scans RabbitMQ did not take. The queue is full after a message
    # and refuses the rest (reject-publish: a nack, as a broker short of disk or memory
    # answers); publish_pending must fail at the first refused scan and leave it and the next
    # unsent. Without waiting for confirms the publish would return and the spool count
    # every scan as sent.
    declare_baixa(vhost_url, **{"x-max-length": 1, "x-overflow": "reject-publish"})
    publisher = publisher_on(vhost_url, tmp_path)
    with pytest.raises(Exception) as raised:
        publisher.publish_pending()
    assert isinstance(raised.value.__cause__ or raised.value.__context__, MessageNacked)
    unsent, sent = publisher.spool.counts()
    # a quorum queue enforces its length a message late: it takes 1 or 2, refuses the rest;
    # the spool counts as sent exactly what the queue holds
    assert unsent >= 1 and sent == queued(vhost_url) >= 1
    publisher.spool.close()


def test_every_confirmed_scan_is_in_the_queue(vhost_url: str, tmp_path: Path) -> None:
    # The agent declares nothing on RabbitMQ (the workers own the quorum queues and the
    # topic exchanges): with the queue there, each confirmed scan is in it on return.
    declare_baixa(vhost_url)
    publisher = publisher_on(vhost_url, tmp_path)
    assert publisher.publish_pending() == 3
    assert publisher.spool.counts() == (0, 3)
    assert queued(vhost_url) == 3
    publisher.spool.close()


def test_without_the_servers_queues_nothing_counts_as_sent(vhost_url: str, tmp_path: Path) -> None:
    # Before any worker declared the exchange, the broker refuses the publish (404): the
    # scans stay unsent instead of vanishing into an unrouted exchange.
    publisher = publisher_on(vhost_url, tmp_path)
    with pytest.raises(Exception):
        publisher.publish_pending()
    assert publisher.spool.counts() == (3, 0)
    publisher.spool.close()
