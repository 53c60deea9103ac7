"""The agent's configuration: `store_key` from printers.json plus STOCKFLOW_AGENT_* variables.

The agent runs on a Raspberry Pi and imports nothing from the server, so it has its own small
settings reader (documented in edge_agent/agent.env.example). Problems that a restart cannot
fix raise ConfigError / DevicePermissionError, whose exit codes systemd is told not to
restart on (RestartPreventExitStatus in platform/systemd/stockflow-edge-agent.service).
"""
from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_PREFIX = "STOCKFLOW_AGENT_"
DEFAULT_PRINTERS_JSON = Path("/home/stockflow/Stockflow/config/printers.json")
DEFAULT_SPOOL_DIR = Path("/var/lib/stockflow-edge-agent")
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"
DEFAULT_PRODUCT_ID_PATTERN = r"[0-9]+"
DEFAULT_PRODUCT_ID_MAX_LENGTH = 18  # fits a signed BIGINT (tb_produto.id)
DEFAULT_THROTTLED_FILE = "/sys/devices/platform/soc/soc:firmware/get_throttled"
DEFAULT_THROTTLED_COMMAND = "vcgencmd get_throttled"

# sysexits.h: systemd's RestartPreventExitStatus lists these two.
EXIT_NOPERM = 77
EXIT_CONFIG = 78


class ConfigError(Exception):
    """The configuration is missing, unreadable or invalid; a restart will not fix it."""

    exit_code = EXIT_CONFIG


class DevicePermissionError(ConfigError):
    """The scanner device exists but this user may not read it (group `input` missing)."""

    exit_code = EXIT_NOPERM


@dataclass(frozen=True)
class AgentConfig:
    """Everything the agent needs: where it is, where to send, what to read, where to spool."""

    store_key: str
    broker_url: str
    device_id: str
    spool_dir: Path
    # This device's signing secret (`flask devices add` prints it): every scan and health
    # report is signed with it (edge_agent/signing.py). Empty: sent unsigned, which a server
    # requiring the device registry refuses.
    device_secret: str | None = None
    printers_json: Path = DEFAULT_PRINTERS_JSON
    # Scanner selection, first match wins: a path (/dev/input/eventN or a /dev/input/by-id
    # link), a "vvvv:pppp" USB vendor:product id (hex), or a substring of the device name.
    device_path: str | None = None
    device_vendor_product: tuple[int, int] | None = None
    device_name: str | None = None
    # Grab the device so scans do not also type into the console.
    device_grab: bool = True
    # Seconds a scanner may stay unreadable at start (udev still applying the group) before
    # the agent gives up with EXIT_NOPERM.
    device_permission_grace_s: float = 10.0
    product_id_pattern: str = DEFAULT_PRODUCT_ID_PATTERN
    product_id_max_length: int = DEFAULT_PRODUCT_ID_MAX_LENGTH
    task_name: str = "baixa.registrar"
    queue: str = "baixa"
    # Seconds before a publish or broker connection attempt gives up (the spool keeps the scan).
    publish_timeout_s: float = 3.0
    # Reconnect backoff: base and cap, in seconds (exponential, with jitter).
    reconnect_base_s: float = 1.0
    reconnect_max_s: float = 60.0
    # A sent scan with no outcome from the server after this many seconds is sent again; the
    # wait doubles with every send of that scan, up to the cap (the broker's visibility
    # timeout: past it Redis would have redelivered an unacked message itself).
    ack_timeout_s: float = 60.0
    ack_timeout_max_s: float = 3600.0
    # The server answers each scan on the queue prefix + device_id (a contract, like the task
    # name: core/baixa/outcomes.py's OUTCOME_QUEUE_PREFIX).
    outcome_queue_prefix: str = "baixa.outcomes."
    # TLS for a rediss:// or amqps:// broker URL: the PEM CA that signed the broker's
    # certificate (empty: the system's CAs) and, when the broker asks for one, this Pi's
    # client certificate and key. The broker's certificate is always verified.
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    # Read by edge_agent/health.py: seconds between health reports.
    health_interval_s: float = 30.0
    # Where the health probe reads the firmware's power and throttling word: this file
    # (under the probe's root), else this command's output ("throttled=0x50005"); empty: neither.
    throttled_file: str = DEFAULT_THROTTLED_FILE
    throttled_command: str = DEFAULT_THROTTLED_COMMAND
    log_level: str = "INFO"

    @property
    def spool_path(self) -> Path:
        return self.spool_dir / "spool.sqlite3"

    @property
    def outcome_queue(self) -> str:
        """The broker queue where the server answers this device's scans."""
        return self.outcome_queue_prefix + self.device_id


def read_store_key(printers_json: Path) -> str:
    """Return `store_key` from printers.json, or raise ConfigError saying what is wrong."""
    try:
        text = printers_json.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {printers_json} does not exist") from None
    except PermissionError:
        raise ConfigError(f"config file {printers_json} is not readable by uid {os.getuid()} "
                          "(check its owner and mode)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {printers_json} cannot be read: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config file {printers_json} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {printers_json} must hold a JSON object")
    store_key = data.get("store_key")
    if not isinstance(store_key, str) or not store_key.strip():
        raise ConfigError(f"config file {printers_json} has no store_key (a non-empty string)")
    store_key = store_key.strip()
    if len(store_key) > 64:
        raise ConfigError(f"store_key in {printers_json} is longer than 64 characters")
    try:  # JSON may escape a lone surrogate (\ud800), which no database can store
        store_key.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(f"config file {printers_json}: store_key is not valid text (a lone "
                          "surrogate escape)") from None
    return store_key


def parse_vendor_product(value: str) -> tuple[int, int]:
    """Parse "0c2e:0b61" into (0x0c2e, 0x0b61), or raise ConfigError."""
    match = re.fullmatch(r"\s*([0-9a-fA-F]{1,4}):([0-9a-fA-F]{1,4})\s*", value)
    if not match:
        raise ConfigError(f"device vendor:product {value!r} must look like 0c2e:0b61 (hex)")
    return int(match.group(1), 16), int(match.group(2), 16)


def load_config(env: Mapping[str, str] | None = None, **overrides: object) -> AgentConfig:
    """Build the AgentConfig from the environment (STOCKFLOW_AGENT_*) and keyword overrides.

    Raises ConfigError for anything a restart cannot fix.
    """
    env = os.environ if env is None else env

    def get(name: str, default: str | None = None) -> str | None:
        value = overrides.get(name)
        if value is not None:
            return str(value)
        raw = env.get(ENV_PREFIX + name.upper())
        return raw if raw not in (None, "") else default

    def number(name: str, default: float) -> float:
        raw = get(name)
        try:
            return float(raw) if raw is not None else default
        except ValueError:
            raise ConfigError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not a number") from None

    def optional(name: str, default: str) -> str:
        """A source the Pi may lack: "none" turns it off."""
        value = get(name, default) or default
        return "" if value.strip().lower() == "none" else value

    printers_json = Path(get("printers_json", str(DEFAULT_PRINTERS_JSON)) or "")
    # systemd's StateDirectory= exports STATE_DIRECTORY; use it when nothing else is set.
    spool_default = env.get("STATE_DIRECTORY", "").split(":")[0] or str(DEFAULT_SPOOL_DIR)
    vendor_product = get("device_vendor_product")
    pattern = get("product_id_pattern", DEFAULT_PRODUCT_ID_PATTERN) or DEFAULT_PRODUCT_ID_PATTERN
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"{ENV_PREFIX}PRODUCT_ID_PATTERN {pattern!r} is invalid: {exc}") from None
    max_length = int(number("product_id_max_length", DEFAULT_PRODUCT_ID_MAX_LENGTH))
    if not 1 <= max_length <= 64:
        raise ConfigError(f"{ENV_PREFIX}PRODUCT_ID_MAX_LENGTH must be between 1 and 64")
    ack_timeout_s = number("ack_timeout_s", 60.0)
    ack_timeout_max_s = number("ack_timeout_max_s", 3600.0)
    if not 0 < ack_timeout_s <= ack_timeout_max_s:
        raise ConfigError(f"{ENV_PREFIX}ACK_TIMEOUT_S must be above 0 and at most "
                          f"{ENV_PREFIX}ACK_TIMEOUT_MAX_S")
    return AgentConfig(
        store_key=read_store_key(printers_json),
        broker_url=get("broker_url", DEFAULT_BROKER_URL) or DEFAULT_BROKER_URL,
        device_id=(get("device_id") or socket.gethostname())[:64],
        device_secret=get("device_secret"),
        spool_dir=Path(get("spool_dir", spool_default) or spool_default),
        printers_json=printers_json,
        device_path=get("device"),
        device_vendor_product=parse_vendor_product(vendor_product) if vendor_product else None,
        device_name=get("device_name"),
        device_grab=(get("device_grab", "true") or "true").lower() not in ("0", "false", "no"),
        device_permission_grace_s=number("device_permission_grace_s", 10.0),
        product_id_pattern=pattern,
        product_id_max_length=max_length,
        publish_timeout_s=number("publish_timeout_s", 3.0),
        reconnect_base_s=number("reconnect_base_s", 1.0),
        reconnect_max_s=number("reconnect_max_s", 60.0),
        ack_timeout_s=ack_timeout_s,
        ack_timeout_max_s=ack_timeout_max_s,
        tls_ca_file=get("tls_ca_file"),
        tls_cert_file=get("tls_cert_file"),
        tls_key_file=get("tls_key_file"),
        health_interval_s=number("health_interval_s", 30.0),
        throttled_file=optional("throttled_file", DEFAULT_THROTTLED_FILE),
        throttled_command=optional("throttled_command", DEFAULT_THROTTLED_COMMAND),
        log_level=(get("log_level", "INFO") or "INFO").upper(),
    )
