"""The Pi's health probe and reporter: read /proc and /sys, send `health.report` every interval.

`collect()` is a pure reading of a filesystem root (tests pass a fake tree): every sensor
that is missing or unreadable is None, never an exception. The report keeps seed 002's
fields (id, wifi_status, mem_usage, cpu_temp, cpu_percent, gpio_used_count, spi_buses,
i2c_buses, usb_devices_count, net_bytes_sent, net_bytes_recv, net_ifaces) and adds
store_key, agent_version, uptime_s, spool_depth, spool_oldest_at, wifi_signal_dbm,
mem_percent, leds, throttled (the firmware's get_throttled word: power and throttling) and
reported_at (UTC) so the server can drop out-of-order reports.

`start_reporter()` runs the loop in a thread. While the broker is away only the latest
report is kept (in memory): health never queues up behind, or crowds out, the scans.
"""
from __future__ import annotations

import ipaddress
import logging
import re
import shlex
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import edge_agent
from edge_agent.config import AgentConfig
from edge_agent.publisher import backoff_delay, make_celery, publish_options
from edge_agent.signing import signed_report
from edge_agent.spool import Spool

log = logging.getLogger("edge_agent.health")

TASK_NAME = "health.report"
THROTTLED_FILE = "sys/devices/platform/soc/soc:firmware/get_throttled"
THROTTLED_COMMAND_TIMEOUT_S = 2.0
QUEUE = "health"
AGENT_VERSION = str(getattr(edge_agent, "__version__", "dev"))

T = TypeVar("T")


@dataclass(frozen=True)
class CpuTimes:
    """Jiffies from /proc/stat's `cpu` line: busy and total since boot."""

    busy: int
    total: int


def collect(root: Path = Path("/"), *, device_id: str | None = None, store_key: str | None = None,
            cpu_baseline: CpuTimes | None = None, spool_depth: int | None = None,
            spool_oldest_at: str | None = None, now: datetime | None = None,
            throttled_file: str = THROTTLED_FILE, throttled_command: str = "") -> dict[str, Any]:
    """Return one health report read from `root` (CPU % since `cpu_baseline`, else since boot;
    the throttling word from `throttled_file` under `root`, else `throttled_command`)."""
    wifi = _safe(lambda: read_wifi(root)) or {}
    interfaces = _safe(lambda: read_interfaces(root))
    traffic = _safe(lambda: read_net_bytes(root)) or (None, None)
    memory = _safe(lambda: read_memory(root)) or (None, None)
    leds = _safe(lambda: read_leds(root))
    cpu_now = _safe(lambda: read_cpu_times(root))
    return {
        "id": device_id or _safe(lambda: read_hostname(root)),
        "wifi_status": wifi.get("status"),
        "mem_usage": memory[0],
        "cpu_temp": _safe(lambda: read_cpu_temp(root)),
        "cpu_percent": cpu_percent(cpu_baseline or CpuTimes(0, 0), cpu_now) if cpu_now else None,
        "gpio_used_count": _safe(lambda: read_gpio_used(root)),
        "spi_buses": _safe(lambda: read_spi_buses(root)),
        "i2c_buses": _safe(lambda: read_i2c_buses(root)),
        "usb_devices_count": _safe(lambda: read_usb_count(root)),
        "net_bytes_sent": traffic[0],
        "net_bytes_recv": traffic[1],
        "net_ifaces": interfaces,
        "store_key": store_key,
        "agent_version": AGENT_VERSION,
        "uptime_s": _safe(lambda: read_uptime(root)),
        "spool_depth": spool_depth,
        "spool_oldest_at": spool_oldest_at,
        "wifi_signal_dbm": wifi.get("signal_dbm"),
        "mem_percent": memory[1],
        "leds": leds,
        "led_internal_status": _internal_led(leds),
        "throttled": _safe(lambda: read_throttled(root, throttled_file, throttled_command)),
        "reported_at": (now or datetime.now(timezone.utc)).isoformat(),
    }


# --- the readers: each raises on a missing file; collect() turns that into None ------------

def read_hostname(root: Path) -> str:
    return (root / "etc/hostname").read_text().strip() or socket.gethostname()


def read_cpu_temp(root: Path) -> float:
    """Return the CPU temperature in °C (the cpu-thermal zone, else the first zone)."""
    zones = sorted((root / "sys/class/thermal").glob("thermal_zone*"))
    cpu_zones = [z for z in zones if "cpu" in _read(z / "type", "").lower()]
    for zone in cpu_zones + zones:
        try:
            return round(int((zone / "temp").read_text().strip()) / 1000, 1)
        except (OSError, ValueError):
            continue
    raise FileNotFoundError("no readable thermal zone")


def read_cpu_times(root: Path) -> CpuTimes:
    fields = [int(v) for v in (root / "proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields)
    return CpuTimes(busy=total - idle, total=total)


def cpu_percent(before: CpuTimes, after: CpuTimes) -> float | None:
    """Return the busy share between two readings, in percent (None when no time passed)."""
    elapsed = after.total - before.total
    if elapsed <= 0:
        return None
    return round(max(0.0, min(100.0, 100 * (after.busy - before.busy) / elapsed)), 1)


def read_memory(root: Path) -> tuple[str, float]:
    """Return seed 002's mem_usage text ("412 MB" used) and the used percentage."""
    info = {}
    for line in (root / "proc/meminfo").read_text().splitlines():
        key, _, rest = line.partition(":")
        if rest.split():
            info[key] = int(rest.split()[0])  # kB
    total = info["MemTotal"]
    available = info.get("MemAvailable", info.get("MemFree", 0) + info.get("Cached", 0))
    used = max(0, total - available)
    return f"{used // 1024} MB", round(100 * used / total, 1)


def read_wifi(root: Path) -> dict[str, Any]:
    """Return the wireless interface's status ("connected" / "disconnected") and signal in dBm."""
    signals: dict[str, int] = {}
    wireless = root / "proc/net/wireless"
    if wireless.exists():
        for line in wireless.read_text().splitlines()[2:]:
            name, _, rest = line.partition(":")
            parts = rest.split()
            if len(parts) >= 3:
                signals[name.strip()] = int(float(parts[2]))
    names = set(signals) | {p.parent.name for p in (root / "sys/class/net").glob("*/wireless")}
    if not names:
        return {}
    name = sorted(names)[0]
    state = _read(root / "sys/class/net" / name / "operstate", "unknown")
    return {"iface": name, "status": "connected" if state == "up" else "disconnected",
            "signal_dbm": signals.get(name)}


def read_net_bytes(root: Path) -> tuple[int, int]:
    """Return (bytes sent, bytes received) over every interface but loopback."""
    sent = received = 0
    for line in (root / "proc/net/dev").read_text().splitlines()[2:]:
        name, _, rest = line.partition(":")
        fields = rest.split()
        if name.strip() == "lo" or len(fields) < 9:
            continue
        received += int(fields[0])
        sent += int(fields[8])
    return sent, received


def read_interfaces(root: Path) -> list[dict[str, Any]]:
    """Return [{"name", "ip", "state", "mac"}] for every interface but loopback.

    Addresses come from /proc/net/fib_trie (local /32 host entries) matched to interfaces by
    /proc/net/route, which works on any root, unlike ioctl(SIOCGIFADDR) on live sockets.
    """
    addresses = _safe(lambda: _local_ipv4_by_iface(root)) or {}
    names = sorted(p.name for p in (root / "sys/class/net").iterdir() if p.name != "lo")
    return [{"name": name, "ip": addresses.get(name),
             "state": _read(root / "sys/class/net" / name / "operstate", None),
             "mac": _read(root / "sys/class/net" / name / "address", None)} for name in names]


def read_usb_count(root: Path) -> int:
    """Return how many USB devices are plugged in (root hubs and interfaces not counted)."""
    entries = [p.name for p in (root / "sys/bus/usb/devices").iterdir()]
    return sum(1 for name in entries if ":" not in name and not name.startswith("usb"))


def read_gpio_used(root: Path) -> int:
    """Return the GPIO lines in use: debugfs's list when readable (root), else exported sysfs lines."""
    try:
        text = (root / "sys/kernel/debug/gpio").read_text()
    except OSError:
        return sum(1 for p in (root / "sys/class/gpio").iterdir() if re.fullmatch(r"gpio\d+", p.name))
    labels = re.findall(r"^\s*gpio-\d+\s+\((.*?)\)", text, re.MULTILINE)
    if not any("|" in label for label in labels):
        return len(labels)  # old kernels list only the requested lines, "(consumer)"
    # New kernels list every line as "(line name|consumer)"; a line in use has a consumer.
    return sum(1 for label in labels if "|" in label and label.split("|", 1)[1].strip())


def read_spi_buses(root: Path) -> list[str]:
    return _bus_names(root, "sys/bus/spi/devices", r"spi\d+\.\d+", "dev", "spidev*",
                      lambda name: "spi" + name.removeprefix("spidev"))


def read_i2c_buses(root: Path) -> list[str]:
    return _bus_names(root, "sys/bus/i2c/devices", r"i2c-\d+", "dev", "i2c-*", lambda name: name)


def read_leds(root: Path) -> dict[str, int]:
    """Return {led name: brightness} from /sys/class/leds."""
    leds = {}
    for led in sorted((root / "sys/class/leds").iterdir()):
        value = _read(led / "brightness", None)
        if value is not None and value.isdigit():
            leds[led.name] = int(value)
    return leds


def read_uptime(root: Path) -> int:
    return int(float((root / "proc/uptime").read_text().split()[0]))


def read_throttled(root: Path, file: str, command: str) -> int:
    """Return the firmware's get_throttled word: the sysfs file when there is one (no process
    to start), else `vcgencmd get_throttled`'s answer."""
    if file and (root / file.lstrip("/")).is_file():
        return parse_throttled((root / file.lstrip("/")).read_text())
    if not command:
        raise FileNotFoundError("no get_throttled source configured")
    answer = subprocess.run(shlex.split(command), capture_output=True, text=True, check=True,
                            timeout=THROTTLED_COMMAND_TIMEOUT_S)
    return parse_throttled(answer.stdout)


def parse_throttled(text: str) -> int:
    """Return the word `vcgencmd get_throttled` prints ("throttled=0x50005") or the sysfs file
    holds (hex, "50005"); ValueError on anything else, so a garbled answer is null, not a guess."""
    value = text.strip()
    if value.startswith("throttled="):
        value = value.removeprefix("throttled=")
        if not value[:2].lower() == "0x":
            raise ValueError(f"get_throttled answer without 0x: {text.strip()[:40]!r}")
    digits = value[2:] if value[:2].lower() == "0x" else value
    if not re.fullmatch(r"[0-9a-fA-F]{1,8}", digits):
        raise ValueError(f"get_throttled answer is not a 32-bit hex word: {text.strip()[:40]!r}")
    return int(digits, 16)


# --- the reporter ---------------------------------------------------------------------------

class HealthReporter:
    """Collects a report every interval and sends it; while the broker is away keeps only the latest."""

    def __init__(self, config: AgentConfig, spool: Spool, root: Path = Path("/"),
                 send: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.config = config
        self.spool = spool
        self.root = root
        self.latest: dict[str, Any] | None = None
        self._send = send or self._send_task
        self._app = make_celery(config) if send is None else None
        self._connection: Any = None
        self._cpu_baseline = _safe(lambda: read_cpu_times(root))

    def make_report(self) -> dict[str, Any]:
        """Return a fresh report of this Pi, its store and its spool."""
        depth, oldest = _safe(self.spool.backlog) or (None, None)
        report = collect(self.root, device_id=self.config.device_id, store_key=self.config.store_key,
                         cpu_baseline=self._cpu_baseline, spool_depth=depth,
                         spool_oldest_at=oldest, throttled_file=self.config.throttled_file,
                         throttled_command=self.config.throttled_command)
        self._cpu_baseline = _safe(lambda: read_cpu_times(self.root)) or self._cpu_baseline
        return report

    def send_latest(self) -> bool:
        """Try to send the kept report; return True when nothing is left to send."""
        if self.latest is None:
            return True
        try:
            self._send(self.latest)
        except Exception as exc:  # noqa: BLE001 - broker away: keep this one report, retry later
            log.warning("health report not sent (kept until the next one) error=%s",
                        f"{type(exc).__name__}: {exc}")
            self._reset_connection()
            return False
        self.latest = None
        return True

    def run(self, stop: threading.Event) -> None:
        """Report every `health_interval_s` until `stop`; retry a failed send with backoff meanwhile."""
        interval = max(1.0, self.config.health_interval_s)
        next_report = time.monotonic()
        failures = 0
        while not stop.is_set():
            if time.monotonic() >= next_report:
                self.latest = self.make_report()  # replaces an unsent older one
                next_report = time.monotonic() + interval
            if self.send_latest():
                failures, wait = 0, next_report - time.monotonic()
            else:
                failures += 1
                wait = min(next_report - time.monotonic(),
                           backoff_delay(failures, self.config.reconnect_base_s, interval))
            stop.wait(max(0.05, wait))

    def _send_task(self, report: dict[str, Any]) -> None:
        assert self._app is not None
        if self._connection is None:
            connection = self._app.connection_for_write()
            connection.ensure_connection(max_retries=0, timeout=self.config.publish_timeout_s)
            self._connection = connection
        self._app.send_task(TASK_NAME, args=[signed_report(report, self.config.device_secret)],
                            queue=QUEUE, connection=self._connection,
                            retry=False, ignore_result=True,
                            **publish_options(self.config.broker_url, QUEUE))

    def _reset_connection(self) -> None:
        if self._connection is not None:
            try:
                self._connection.collect()
            except Exception:  # noqa: BLE001 - the connection is being thrown away
                pass
        self._connection = None


def start_reporter(config: AgentConfig, spool: Spool, stop: threading.Event) -> threading.Thread:
    """Start the health reporter thread (daemon) and return it; it ends when `stop` is set."""
    reporter = HealthReporter(config, spool)
    thread = threading.Thread(target=reporter.run, args=(stop,), name="health-reporter", daemon=True)
    thread.start()
    return thread


# --- helpers -----------------------------------------------------------------------------------

def _safe(read: Callable[[], T]) -> T | None:
    """Return read(), or None when the sensor is missing, unreadable or malformed."""
    try:
        return read()
    except Exception as exc:  # noqa: BLE001 - a missing sensor is null, never a crash
        log.debug("sensor unavailable: %s", exc)
        return None


def _read(path: Path, default: Any) -> Any:
    try:
        return path.read_text().strip()
    except OSError:
        return default


def _bus_names(root: Path, sys_dir: str, pattern: str, dev_dir: str, dev_glob: str,
               from_dev: Callable[[str], str]) -> list[str]:
    directory = root / sys_dir
    if directory.is_dir():
        return sorted(p.name for p in directory.iterdir() if re.fullmatch(pattern, p.name))
    if not (root / dev_dir).is_dir():
        raise FileNotFoundError(f"neither {sys_dir} nor {dev_dir} exists")
    return [from_dev(p.name) for p in sorted((root / dev_dir).glob(dev_glob))]


def _internal_led(leds: dict[str, int] | None) -> bool | None:
    # The Pi's green activity LED: "ACT" on recent kernels, "led0" on older ones.
    for name in ("ACT", "led0"):
        if leds and name in leds:
            return leds[name] > 0
    return None


def _hex_ipv4(value: str) -> int:
    # /proc/net/route prints the address's network-order bytes as a little-endian integer,
    # the same number int.from_bytes(packed, "little") gives for an address.
    return int(value, 16)


def _local_ipv4_by_iface(root: Path) -> dict[str, str]:
    local: list[str] = []
    last = None
    for line in (root / "proc/net/fib_trie").read_text().splitlines():
        entry = re.match(r"^[\s|]*[|+]-- (\d+\.\d+\.\d+\.\d+)", line)
        if entry:
            last = entry.group(1)
        elif last and "/32 host LOCAL" in line and last not in local:
            local.append(last)
    routes = []
    for line in (root / "proc/net/route").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8:
            mask = _hex_ipv4(fields[7])
            routes.append((bin(mask).count("1"), fields[0], _hex_ipv4(fields[1]), mask))
    found: dict[str, str] = {}
    for address in local:
        if ipaddress.IPv4Address(address).is_loopback:
            continue
        number = int.from_bytes(ipaddress.IPv4Address(address).packed, "little")
        matching = [r for r in routes if r[3] and (number & r[3]) == r[2]]
        if matching:
            found.setdefault(max(matching)[1], address)
    return found
