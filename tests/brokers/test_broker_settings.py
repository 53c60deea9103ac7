"""Production refuses a broker anyone on the network could use; TLS settings reach every
client (redis-py, Celery's broker and result backend, RedBeat)."""
from __future__ import annotations

import ssl

import pytest

from core.celery_app import broker_options, task_queues
from core.settings import ConfigurationError, Settings
from tests.support.settings import PRODUCTION


@pytest.mark.parametrize("field, url", [
    ("redis_url", "redis://redis:6379/0"),
    ("redis_url", "rediss://stockflow@redis:6379/0"),  # a user, no password
    ("broker_url", "amqp://rabbitmq:5672/stockflow"),
    ("broker_url", "redis://redis:6379/1"),
])
def test_production_refuses_a_broker_without_credentials(field: str, url: str) -> None:
    with pytest.raises(ConfigurationError, match=f"STOCKFLOW_{field.upper()} with a user and password"):
        Settings(**{**PRODUCTION, field: url})


def test_production_refuses_rabbitmqs_guest() -> None:
    with pytest.raises(ConfigurationError, match="not guest"):
        Settings(**{**PRODUCTION, "broker_url": "amqp://guest:guest@rabbitmq:5672/stockflow"})


@pytest.mark.parametrize("extra", [
    {"redis_url": "redis://:requirepass-secret@redis:6379/0"},
    {"redis_url": "rediss://stockflow:senha@redis:6380/0", "tls_ca_file": "/etc/stockflow/ca.pem"},
    {"broker_url": "amqps://stockflow:senha@rabbitmq:5671/stockflow"},
])
def test_production_takes_credentialed_brokers(extra: dict[str, str]) -> None:
    assert Settings(**{**PRODUCTION, **extra}).is_production


def test_rediss_options_reach_redis_py_celery_and_redbeat() -> None:
    settings = Settings(redis_url="rediss://u:p@redis:6380/0", tls_ca_file="/ca.pem",
                        tls_cert_file="/c.pem", tls_key_file="/c.key")
    expected = {"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_ca_certs": "/ca.pem",
                "ssl_certfile": "/c.pem", "ssl_keyfile": "/c.key"}
    assert settings.redis_ssl_options() == expected
    options = broker_options(settings)
    assert options["broker_use_ssl"] == options["redis_backend_use_ssl"] == expected
    assert options["redbeat_redis_use_ssl"] == expected


def test_amqps_options_are_py_amqps_and_redis_keeps_its_own() -> None:
    settings = Settings(redis_url="rediss://u:p@redis:6380/0", tls_ca_file="/ca.pem",
                        broker_url="amqps://u:p@rabbitmq:5671/stockflow")
    options = broker_options(settings)
    assert options["broker_use_ssl"] == {"cert_reqs": ssl.CERT_REQUIRED, "ca_certs": "/ca.pem",
                                         "certfile": None, "keyfile": None,
                                         "server_hostname": None}
    assert options["redbeat_redis_use_ssl"]["ssl_ca_certs"] == "/ca.pem"  # not py-amqp's keys
    assert options["broker_transport_options"] == {"confirm_publish": True}
    assert options["task_default_delivery_mode"] == "persistent"


def test_plain_urls_have_no_tls() -> None:
    settings = Settings(redis_url="redis://u:p@redis:6379/0", broker_url="amqp://u:p@r:5672/v")
    assert settings.redis_ssl_options() == {} and settings.broker_ssl_options() is None


def test_rabbitmq_task_queues_are_durable_quorum_queues_behind_topic_exchanges() -> None:
    for queue in task_queues(amqp=True):
        assert queue.durable and queue.queue_arguments == {"x-queue-type": "quorum"}
        assert queue.exchange.type == "topic" and queue.routing_key == queue.name
    assert all(not queue.queue_arguments for queue in task_queues(amqp=False))
