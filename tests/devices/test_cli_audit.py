"""`flask devices add | secret | revoke` each leave one audit row (the CLI's operating-system
user as actor, the device id as target), and neither the password nor the secret is in it."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from core import audit
from core.db import session_scope
from core.models import AuditEntry
from tests.devices.support import AclRedis, issue, require_registry, revoke


@pytest.fixture
def acl_redis(tmp_path: Path) -> Iterator[AclRedis]:
    server = AclRedis(tmp_path / "redis")
    yield server
    server.stop()


def device_audit() -> list[tuple[str, str, str, str, Any]]:
    """(action, target, outcome, actor, detail) of every device.* audit row, in order."""
    with session_scope() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action.like("device.%"))
                               .order_by(AuditEntry.id))
        return [(row.action, row.target, row.outcome, row.actor, row.detail) for row in rows]


def test_each_devices_command_is_audited_without_its_secrets(
        app: Any, db: str, acl_redis: AclRedis, monkeypatch: pytest.MonkeyPatch) -> None:
    require_registry(monkeypatch, redis_admin_url=acl_redis.url, broker_url=acl_redis.url)
    cli = app.test_cli_runner()
    env = issue(app, "pi-audit", "--store", "LOJA-002", "--store", "LOJA-001", "--broker", "redis")
    shown = cli.invoke(args=["devices", "secret", "pi-audit"])
    rotated = cli.invoke(args=["devices", "secret", "pi-audit", "--rotate"])
    assert shown.exit_code == 0 and rotated.exit_code == 0 and shown.stdout != rotated.stdout
    revoke(app, "pi-audit")
    actor = audit.cli_actor()
    assert device_audit() == [
        ("device.add", "pi-audit", "ok", actor, {"lojas": ["LOJA-001", "LOJA-002"],
                                                 "usuario_broker": "device-pi-audit"}),
        ("device.secret", "pi-audit", "ok", actor, {"troca": False}),
        ("device.secret", "pi-audit", "ok", actor, {"troca": True}),
        ("device.revoke", "pi-audit", "ok", actor, {"usuario_broker": "device-pi-audit"})]
    password = urlsplit(env["STOCKFLOW_AGENT_BROKER_URL"]).password
    secrets = [password, env["STOCKFLOW_AGENT_DEVICE_SECRET"],
               shown.stdout.strip().split("=", 1)[1], rotated.stdout.strip().split("=", 1)[1]]
    assert all(secrets)
    with session_scope() as session:
        trail = json.dumps([[row.detail, row.target] for row in session.scalars(select(AuditEntry))])
    assert not any(secret in trail for secret in secrets)


def test_a_refused_devices_command_is_audited_as_failed(app: Any, db: str) -> None:
    cli = app.test_cli_runner()
    assert cli.invoke(args=["devices", "secret", "pi-nada"]).exit_code == 2
    assert cli.invoke(args=["devices", "revoke", "pi-nada"]).exit_code == 2
    assert cli.invoke(args=["devices", "add", "pi mau", "--store", "LOJA-001"]).exit_code == 2
    assert [(action, target, outcome) for action, target, outcome, _, _ in device_audit()] == [
        ("device.secret", "pi-nada", "failed"), ("device.revoke", "pi-nada", "failed"),
        ("device.add", "pi mau", "failed")]
    assert device_audit()[1][4] == {"erro": "dispositivo pi-nada não está cadastrado"}
