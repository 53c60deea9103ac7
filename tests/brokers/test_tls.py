"""Brokers over TLS with a CA the test makes: rediss:// to a redis-server of the test's own
(TLS only, an ACL user, client certificates required), and amqps:// to RabbitMQ through a TLS
front the test runs (the shared server's own TLS listener cannot be configured without
restarting it). Each runs a scan end to end: the real agent, a worker, the outcome back."""
from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from core.settings import Settings
from edge_agent.config import AgentConfig
from edge_agent.publisher import Publisher
from edge_agent.scan import make_scan
from edge_agent.spool import Spool
from tests.baixa.support import Agent, removals_by_product, seed_products, stop_process
from tests.support.brokers import (
    TlsFront,
    celery_app_on,
    make_certificates,
    rabbitmq_vhost,
    spawn_worker_with,
    start_tls_redis,
)
from tests.support.environment import REDIS_URL
from tests.support.waiting import wait_until

PASSWORD = "s3cret-test-only"


@pytest.fixture
def certs(tmp_path: Path) -> dict[str, Path]:
    return make_certificates(tmp_path / "certs")


@pytest.fixture
def tls_redis(tmp_path: Path, certs: dict[str, Path]) -> Iterator[str]:
    """rediss:// URL (with the ACL user) of a TLS-only redis-server of this test."""
    process, port = start_tls_redis(tmp_path / "redis-tls", certs, "stockflow", PASSWORD)
    yield f"rediss://stockflow:{PASSWORD}@127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


def tls_env(certs: dict[str, Path], prefix: str = "STOCKFLOW_") -> dict[str, str]:
    return {f"{prefix}TLS_CA_FILE": str(certs["ca"]), f"{prefix}TLS_CERT_FILE": str(certs["client_cert"]),
            f"{prefix}TLS_KEY_FILE": str(certs["client_key"])}


def client(url: str, **tls: Any) -> redis.Redis:
    settings = Settings(redis_url=url, **tls)
    return redis.Redis.from_url(settings.effective_redis_url, socket_timeout=5,
                                **settings.redis_ssl_options())


def test_rediss_verifies_the_server_and_needs_the_acl_user(tls_redis: str, certs: dict[str, Path],
                                                           tmp_path: Path) -> None:
    ok = {"tls_ca_file": str(certs["ca"]), "tls_cert_file": str(certs["client_cert"]),
          "tls_key_file": str(certs["client_key"])}
    assert client(tls_redis, **ok).ping()
    other_ca = make_certificates(tmp_path / "other")["ca"]
    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        client(tls_redis, **{**ok, "tls_ca_file": str(other_ca)}).ping()
    with pytest.raises(redis.ConnectionError):  # the server requires a client certificate
        client(tls_redis, tls_ca_file=str(certs["ca"])).ping()
    with pytest.raises(redis.AuthenticationError):  # no ACL user: the default user is off
        client(tls_redis.replace(f"stockflow:{PASSWORD}@", ""), **ok).ping()


def run_a_scan_through(broker_url: str, worker_env: dict[str, str], use_ssl: dict[str, Any] | None,
                       agent_env: dict[str, str], tmp_path: Path) -> None:
    """A worker on the broker, then the real agent: one scan is written off and answered."""
    seed_products("LOJA-001", [930_001])
    worker = spawn_worker_with(worker_env, celery_app_on(broker_url, use_ssl))
    agent = Agent(tmp_path / "agent", broker_url, env=agent_env)
    try:
        agent.start()
        assert agent.scan(b"930001")["accepted"]
        spool = Spool(agent.spool_dir / "spool.sqlite3")
        wait_until(lambda: spool.depth() == 0, 60,
                   lambda: f"the scan answered: {spool.counts()}; agent log {agent.log()[-800:]}")
        spool.close()
        assert agent.stop() == 0
    finally:
        if agent.process is not None and agent.process.poll() is None:
            agent.stop()
        stop_process(worker)
    assert removals_by_product([930_001]) == {930_001: 1}


def test_a_scan_end_to_end_over_rediss(tls_redis: str, certs: dict[str, Path], tmp_path: Path,
                                       db: str) -> None:
    # Redis is broker, results, SSE and RedBeat at once: everything goes over TLS with the
    # settings' CA and client certificate (Celery's broker_use_ssl, redis_backend_use_ssl,
    # redis-py's own client); the agent uses its STOCKFLOW_AGENT_TLS_* options.
    settings = Settings(redis_url=tls_redis, tls_ca_file=str(certs["ca"]),
                        tls_cert_file=str(certs["client_cert"]), tls_key_file=str(certs["client_key"]))
    run_a_scan_through(tls_redis, {"STOCKFLOW_REDIS_URL": tls_redis, "STOCKFLOW_BROKER_URL": "",
                                   **tls_env(certs)},
                       settings.broker_ssl_options(), tls_env(certs, "STOCKFLOW_AGENT_"), tmp_path)


@pytest.fixture
def amqps_url(certs: dict[str, Path]) -> Iterator[str]:
    """amqps:// URL of a vhost of this test, through the TLS front."""
    with rabbitmq_vhost() as url:
        front = TlsFront(certs)
        try:
            yield url.replace("amqp://", "amqps://").replace(":5672/", f":{front.port}/")
        finally:
            front.close()


def test_a_scan_end_to_end_over_amqps(amqps_url: str, certs: dict[str, Path], tmp_path: Path,
                                      db: str) -> None:
    ca = {"STOCKFLOW_TLS_CA_FILE": str(certs["ca"])}
    settings = Settings(broker_url=amqps_url, tls_ca_file=str(certs["ca"]))
    use_ssl = settings.broker_ssl_options()
    assert use_ssl is not None and use_ssl["cert_reqs"] == ssl.CERT_REQUIRED
    run_a_scan_through(amqps_url, {"STOCKFLOW_REDIS_URL": REDIS_URL, "STOCKFLOW_BROKER_URL": amqps_url,
                                   **ca},
                       use_ssl, {"STOCKFLOW_AGENT_TLS_CA_FILE": str(certs["ca"])}, tmp_path)


def test_amqps_refuses_a_server_the_ca_did_not_sign(amqps_url: str, tmp_path: Path) -> None:
    other_ca = make_certificates(tmp_path / "other")["ca"]
    config = AgentConfig(store_key="LOJA-001", broker_url=amqps_url, device_id="pi-tls",
                         spool_dir=tmp_path / "spool", tls_ca_file=str(other_ca))
    publisher = Publisher(config, Spool(config.spool_path))
    publisher.spool.add(make_scan("101", config))  # type: ignore[arg-type]
    with pytest.raises(Exception, match="certificate verify failed"):
        publisher.publish_pending()
    assert publisher.spool.counts() == (1, 0)
    publisher.spool.close()
