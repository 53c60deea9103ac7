"""A Pi's Redis ACL user, issued by `flask devices add`, on a Redis 7 of the test's own: the
real edge agent publishes its scans and health reports and reads its replies with it; the
same credentials are refused whatever else they try; after `devices revoke` they no longer
connect. What Redis cannot stop (which device or store a message names) the worker checks."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import select

from core.db import session_scope
from core.models import DeviceStatus
from tests.baixa.support import (
    Agent,
    outcomes,
    removals_by_product,
    seed_products,
    spawn_worker_on,
    stop_process,
)
from tests.devices.support import AclRedis, issue, require_registry, revoke, secret_of
from tests.support.waiting import wait_until


@pytest.fixture
def acl_redis(tmp_path: Path) -> Iterator[AclRedis]:
    server = AclRedis(tmp_path / "redis")
    yield server
    server.stop()


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch, acl_redis: AclRedis) -> dict[str, str]:
    """The registry required, devices issued on the test's Redis."""
    return require_registry(monkeypatch, redis_admin_url=acl_redis.url, broker_url=acl_redis.url)


def refused(client: Any, *command: Any) -> bool:
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.execute_command(*command)
    return True


def test_a_device_user_carries_the_real_agent_and_nothing_more(
        app: Any, db: str, acl_redis: AclRedis, registry: dict[str, str], tmp_path: Path) -> None:
    env = issue(app, "pi-a", "--store", "LOJA-001", "--broker", "redis")
    assert env["STOCKFLOW_AGENT_DEVICE_ID"] == "pi-a"
    url = env["STOCKFLOW_AGENT_BROKER_URL"]
    assert url.startswith("redis://device-pi-a:") and url.endswith(f"@127.0.0.1:{acl_redis.port}/0")
    assert "user device-pi-a on" in acl_redis.aclfile.read_text()  # ACL SAVE: kept on restart
    seed_products("LOJA-001", [940_001, 940_002])
    seed_products("LOJA-002", [940_003])
    worker = spawn_worker_on(acl_redis.url, queues="baixa,health", extra_env=registry)
    assert env["STOCKFLOW_AGENT_DEVICE_SECRET"]
    honest = Agent(tmp_path / "honest", url, store_key="LOJA-001", env={
        **env, "STOCKFLOW_AGENT_HEALTH_INTERVAL_S": "1"})
    # The same credentials on a Pi claiming another store: Redis lets the scan in (it cannot
    # read messages); the worker refuses it and the reply still reaches this device's queue.
    forger = Agent(tmp_path / "forger", url, store_key="LOJA-002", env=env)
    try:
        honest.start()
        assert honest.scan(b"940001")["accepted"] and honest.scan(b"940002")["accepted"]
        wait_until(lambda: honest.status()["spool_depth"] == 0, 60,
                   lambda: f"the spool to drain; {honest.log()[-1500:]}")
        wait_until(lambda: _device_reported("pi-a"), 30, "a health report of pi-a stored")
        honest.stop()  # one agent at a time on pi-a's reply queue
        forger.start()
        assert forger.scan(b"940003")["accepted"]
        wait_until(lambda: forger.status()["spool_depth"] == 0, 60,
                   lambda: f"the forger's spool to drain; {forger.log()[-1500:]}")
    finally:
        for agent in (honest, forger):
            if agent.process is not None and agent.process.poll() is None:
                agent.stop()
        stop_process(worker)
    assert acl_redis.acl_log() == []  # nothing the agent does was refused
    assert removals_by_product([940_001, 940_002, 940_003]) == {940_001: 1, 940_002: 1}
    assert {(o.product_id, o.outcome, o.reason) for o in outcomes() if o.outcome != "removed"} == {
        ("940003", "refused", "Leitura recusada: dispositivo pi-a não está autorizado na loja LOJA-002.")}
    assert "scan outcome" in forger.log() and "outcome=refused" in forger.log()

    with acl_redis.client(url) as device:
        assert device.lpush("baixa", json.dumps({"not": "a task"}))  # Redis cannot tell
        assert device.ping()
        for command in (("BRPOP", "baixa", 1), ("RPOP", "baixa"), ("LRANGE", "baixa", 0, -1),
                        ("DEL", "baixa"), ("LTRIM", "baixa", 1, 0), ("LPUSH", "ruptura", "x"),
                        ("LPUSH", "baixa.outcomes.pi-b", "forged reply"),
                        ("BRPOP", "baixa.outcomes.pi-b", 1), ("LLEN", "baixa.outcomes.pi-b"),
                        ("DEL", "baixa.outcomes.pi-a"), ("HGETALL", "unacked"),
                        ("HDEL", "unacked", "x"), ("ZREM", "unacked_index", "x"),
                        ("GET", "stockflow:health:rejected"), ("KEYS", "*"), ("FLUSHDB",),
                        ("CONFIG", "GET", "*"), ("ACL", "LIST"),
                        ("PUBLISH", "store:LOJA-001", "x")):
            assert refused(device, *command), command

    with acl_redis.client(url) as held:
        held.ping()
        assert "revogado" in revoke(app, "pi-a")
        with pytest.raises(redis.exceptions.ConnectionError):
            held.ping()  # its open connection was killed
    with pytest.raises(redis.exceptions.AuthenticationError):
        acl_redis.client(url).ping()
    assert "device-pi-a" not in acl_redis.aclfile.read_text()
    acl_redis.stop()
    acl_redis.start()  # what the aclfile kept survives a restart: the user stays gone
    with pytest.raises(redis.exceptions.AuthenticationError):
        acl_redis.client(url).ping()


def secret(app: Any, device_id: str, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["devices", "secret", device_id, *args])
    assert result.exit_code == 0, result.output
    name, value = result.stdout.strip().split("=", 1)
    assert name == "STOCKFLOW_AGENT_DEVICE_SECRET"
    return value


def _device_reported(device_id: str) -> bool:
    with session_scope() as session:
        return session.scalar(select(DeviceStatus).where(
            DeviceStatus.raspberry_id == device_id)) is not None


def test_issue_list_revoke_and_issue_again(app: Any, db: str, acl_redis: AclRedis,
                                           registry: dict[str, str]) -> None:
    first = issue(app, "pi-c", "--store", "LOJA-001", "--store", "LOJA-002")
    again = app.test_cli_runner().invoke(args=["devices", "add", "pi-c", "--store", "LOJA-001"])
    assert again.exit_code != 0 and "já está ativo" in again.output
    bad = app.test_cli_runner().invoke(args=["devices", "add", "pi c*", "--store", "LOJA-001"])
    assert bad.exit_code != 0 and "device_id deve ter" in bad.output
    wrong = app.test_cli_runner().invoke(
        args=["devices", "add", "pi-d", "--store", "LOJA-001", "--broker", "rabbitmq"])
    assert wrong.exit_code != 0 and "--broker rabbitmq" in wrong.output

    listed = app.test_cli_runner().invoke(args=["devices", "list"]).output.split("\t")
    assert listed[:5] == ["pi-c", "active", "LOJA-001,LOJA-002", "redis", "device-pi-c"]
    revoke(app, "pi-c")
    assert "revoked" in app.test_cli_runner().invoke(args=["devices", "list"]).output
    revoke(app, "pi-c")  # idempotent: the user is already gone

    second = issue(app, "pi-c", "--store", "LOJA-003", "--store", "LOJA-001")  # issued anew
    assert second["STOCKFLOW_AGENT_BROKER_URL"] != first["STOCKFLOW_AGENT_BROKER_URL"]
    # A new signing secret too (a new generation); `devices secret` recomputes it, --rotate
    # replaces it.
    assert second["STOCKFLOW_AGENT_DEVICE_SECRET"] != first["STOCKFLOW_AGENT_DEVICE_SECRET"]
    assert secret(app, "pi-c") == second["STOCKFLOW_AGENT_DEVICE_SECRET"] == secret_of("pi-c")
    rotated = secret(app, "pi-c", "--rotate")
    assert rotated not in (first["STOCKFLOW_AGENT_DEVICE_SECRET"],
                           second["STOCKFLOW_AGENT_DEVICE_SECRET"]) and rotated == secret_of("pi-c")
    unknown = app.test_cli_runner().invoke(args=["devices", "secret", "pi-zz"])
    assert unknown.exit_code != 0 and "não está ativo" in unknown.output
    with pytest.raises(redis.exceptions.AuthenticationError):
        acl_redis.client(first["STOCKFLOW_AGENT_BROKER_URL"]).ping()
    assert acl_redis.client(second["STOCKFLOW_AGENT_BROKER_URL"]).ping()
    listed = app.test_cli_runner().invoke(args=["devices", "list"]).output.split("\t")
    assert listed[:3] == ["pi-c", "active", "LOJA-001,LOJA-003"]
