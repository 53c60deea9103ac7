"""Configuration problems stop the agent with an exit code systemd does not restart on;
scanner absence is waited out; status reports the spool; sd_notify reaches systemd."""
from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent import cli
from edge_agent.config import (
    EXIT_CONFIG,
    EXIT_NOPERM,
    AgentConfig,
    ConfigError,
    DevicePermissionError,
    load_config,
    parse_vendor_product,
)
from edge_agent.scanner import Scanner, check_permission
from tests.baixa.support import Agent
from tests.support.environment import ROOT

DEAD_BROKER = "redis://127.0.0.1:1/0"


@pytest.fixture(autouse=True)
def _keep_root_logging() -> Iterator[None]:
    """cli.main() installs the agent's stderr handler on the root logger; put pytest's back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def run_agent(tmp_path: Path, printers: Path, *args: str, user: str | None = None,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge_agent", "--printers-json", str(printers),
         "--spool-dir", str(tmp_path / "spool"), "--broker-url", DEAD_BROKER, *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60, user=user,
        env={**os.environ, "STOCKFLOW_AGENT_DEVICE_PERMISSION_GRACE_S": "0.5", **(env or {})},
        input="")


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"printer": "x"}', "no store_key"),
    ('{"store_key": ""}', "no store_key"),
    ('["LOJA-001"]', "JSON object"),
    ('{"store_key": "LOJA\\ud800"}', "not valid text"),  # a lone surrogate no database stores
])
def test_bad_printers_json_exits_with_config_code(tmp_path: Path, content: str, message: str) -> None:
    printers = tmp_path / "printers.json"
    printers.write_text(content)
    result = run_agent(tmp_path, printers, "run", "--stdin")
    assert result.returncode == EXIT_CONFIG
    assert message in result.stderr
    assert "] ERROR: config file" in result.stderr  # [timestamp] LEVEL: message


def test_missing_printers_json_exits_with_config_code(tmp_path: Path) -> None:
    result = run_agent(tmp_path, tmp_path / "absent.json", "run", "--stdin")
    assert result.returncode == EXIT_CONFIG and "does not exist" in result.stderr


def _deny(monkeypatch: pytest.MonkeyPatch, denied: Path) -> None:
    """Make `denied` unreadable for this process as EACCES would (tests may run as root,
    for whom chmod 000 changes nothing)."""
    real_access, real_read_text = os.access, Path.read_text
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p) == str(denied)
                        else real_access(p, mode, **kw))

    def read_text(self: Path, *args: object, **kwargs: object) -> str:
        if str(self) == str(denied):
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_text(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", read_text)


def test_unreadable_printers_json_exits_with_config_code(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    printers = tmp_path / "printers.json"
    printers.write_text('{"store_key": "LOJA-001"}')
    _deny(monkeypatch, printers)
    code = cli.main(["--printers-json", str(printers), "--spool-dir", str(tmp_path / "spool"),
                     "--broker-url", DEAD_BROKER, "run", "--stdin"])
    assert code == EXIT_CONFIG
    assert "not readable" in capsys.readouterr().err


def test_unreadable_scanner_exits_with_permission_code(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    printers = tmp_path / "printers.json"
    printers.write_text('{"store_key": "LOJA-001"}')
    device = tmp_path / "event7"  # stands in for /dev/input/eventN owned by root:input 0660
    device.write_bytes(b"")
    _deny(monkeypatch, device)
    monkeypatch.setenv("STOCKFLOW_AGENT_DEVICE_PERMISSION_GRACE_S", "0.3")
    code = cli.main(["--printers-json", str(printers), "--spool-dir", str(tmp_path / "spool"),
                     "--broker-url", DEAD_BROKER, "run", "--device", str(device)])
    assert code == EXIT_NOPERM
    assert "group 'input'" in capsys.readouterr().err


def test_permission_check_waits_for_udev(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # EACCES right after plug-in is udev still applying the group: wait, do not fail at once.
    device = tmp_path / "event3"
    device.write_bytes(b"")
    config = AgentConfig(store_key="L", broker_url=DEAD_BROKER, device_id="pi", spool_dir=tmp_path,
                         device_path=str(device), device_permission_grace_s=30)
    readable = {"now": False}
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, m: readable["now"] if str(p) == str(device)
                        else real_access(p, m))
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        readable["now"] = len(sleeps) >= 3  # udev finishes after three checks

    check_permission(config, sleep=sleep)
    assert len(sleeps) == 3
    config_now = AgentConfig(**{**config.__dict__, "device_permission_grace_s": 0})
    readable["now"] = False
    with pytest.raises(DevicePermissionError):
        check_permission(config_now, sleep=lambda s: None)


def test_absent_scanner_is_waited_for_and_logged_once(tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    # An unplugged scanner must not stop the agent nor spin: the loop sleeps between looks.
    config = AgentConfig(store_key="L", broker_url=DEAD_BROKER, device_id="pi", spool_dir=tmp_path,
                         device_path=str(tmp_path / "by-id" / "usb-scanner-event-kbd"))
    stop = threading.Event()
    waits: list[float] = []

    class CountingStop(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            waits.append(timeout or 0)
            if len(waits) >= 5:
                stop.set()
            return stop.is_set()

        def is_set(self) -> bool:
            return stop.is_set()

    with caplog.at_level("WARNING", logger="edge_agent.scanner"):
        Scanner(config, on_line=lambda line: None, stop=CountingStop()).run()
    assert len(waits) == 5 and all(w >= 1 for w in waits)
    assert sum("scanner unavailable" in r.message for r in caplog.records) == 1


def test_config_from_environment(tmp_path: Path) -> None:
    printers = tmp_path / "printers.json"
    printers.write_text(json.dumps({"store_key": " LOJA-002 ", "impressoras": []}))
    config = load_config({"STOCKFLOW_AGENT_PRINTERS_JSON": str(printers),
                          "STOCKFLOW_AGENT_BROKER_URL": "redis://broker:6379/0",
                          "STOCKFLOW_AGENT_DEVICE_VENDOR_PRODUCT": "0C2E:0b61",
                          "STOCKFLOW_AGENT_HEALTH_INTERVAL_S": "15",
                          "STOCKFLOW_AGENT_DEVICE_ID": "pi-caixa-1",
                          "STOCKFLOW_AGENT_ACK_TIMEOUT_S": "30",
                          "STATE_DIRECTORY": "/var/lib/stockflow-edge-agent"})
    assert config.store_key == "LOJA-002"
    assert (config.ack_timeout_s, config.ack_timeout_max_s) == (30.0, 3600.0)
    assert config.outcome_queue == "baixa.outcomes.pi-caixa-1"
    assert config.device_vendor_product == (0x0C2E, 0x0B61)
    assert config.health_interval_s == 15.0
    assert config.spool_dir == Path("/var/lib/stockflow-edge-agent")
    with pytest.raises(ConfigError):
        parse_vendor_product("scanner")
    with pytest.raises(ConfigError):
        load_config({"STOCKFLOW_AGENT_PRINTERS_JSON": str(printers),
                     "STOCKFLOW_AGENT_PRODUCT_ID_PATTERN": "([0-9]"})
    for timeouts in ({"ACK_TIMEOUT_S": "0"}, {"ACK_TIMEOUT_S": "90", "ACK_TIMEOUT_MAX_S": "60"}):
        with pytest.raises(ConfigError, match="ACK_TIMEOUT"):
            load_config({"STOCKFLOW_AGENT_PRINTERS_JSON": str(printers),
                         **{f"STOCKFLOW_AGENT_{k}": v for k, v in timeouts.items()}})


def test_status_reports_spool_and_unreachable_broker(tmp_path: Path) -> None:
    agent = Agent(tmp_path, DEAD_BROKER).start()
    first = agent.scan(b"1001")
    agent.scan(b"1002")
    report = agent.status()
    assert agent.stop() == 0
    assert report["spool_depth"] == 2
    assert (report["waiting_to_send"], report["waiting_for_outcome"]) == (2, 0)
    assert report["oldest_scan"]["scan_id"] == first["scan_id"]
    assert report["broker_reachable"] is False and report["last_publish_at"] is None
    drain = subprocess.run(agent.command("drain"), cwd=ROOT, capture_output=True, text=True,
                           timeout=30)
    assert drain.returncode == 1 and "left in spool 2" in drain.stdout


def test_sd_notify_ready_and_watchdog(tmp_path: Path) -> None:
    sock_path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(sock_path))
        sock.settimeout(20)
        agent = Agent(tmp_path, DEAD_BROKER, env={"NOTIFY_SOCKET": str(sock_path),
                                                  "WATCHDOG_USEC": "1000000"}).start()
        try:
            received = [sock.recv(100).decode() for _ in range(3)]
        finally:
            assert agent.stop() == 0
        assert received[0] == "READY=1"
        assert "WATCHDOG=1" in received[1:]
        assert sock.recv(100).decode() in ("WATCHDOG=1", "STOPPING=1")


def test_agent_imports_no_server_code() -> None:
    # The Pi has no SQLAlchemy, Flask or MySQL driver: the agent must not need them.
    probe = ("import sys, edge_agent.cli, edge_agent.scanner, edge_agent.health; "
             "print(sorted({m.split('.')[0] for m in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    loaded = set(json.loads(out.replace("'", '"')))
    assert not loaded & {"core", "tasks", "web", "sqlalchemy", "flask", "MySQLdb", "pydantic"}
