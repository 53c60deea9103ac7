"""The Pi's probe on a fake /proc and /sys tree, and the reporter: the report the server accepts,
missing sensors as null, only the latest report kept while the broker is away."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from core.health.report import parse_report
from edge_agent import health
from edge_agent.config import AgentConfig
from edge_agent.spool import Spool
from tests.health.support import device_row
from tests.support.environment import REDIS_URL
from tests.support.waiting import wait_until

SEED_FIELDS = ("id", "wifi_status", "mem_usage", "cpu_temp", "cpu_percent", "gpio_used_count",
               "spi_buses", "i2c_buses", "usb_devices_count", "net_bytes_sent", "net_bytes_recv",
               "net_ifaces")

FIB_TRIE = """Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 192.168.0.0/24 2 0 2
        |-- 192.168.0.0
           /24 link UNICAST
        |-- 192.168.0.10
           /32 host LOCAL
        |-- 192.168.0.255
           /32 link BROADCAST
Local:
  +-- 0.0.0.0/0 3 0 5
     |-- 192.168.0.10
        /32 host LOCAL
"""
# 192.168.0.0/24 on wlan0 and the default route, as the kernel prints them (little-endian hex)
ROUTE = """Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
wlan0\t00000000\t0100A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0
wlan0\t0000A8C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\t0\t0\t0
"""
GPIO = """gpiochip0: GPIOs 512-565, parent: platform/fe200000.gpio, pinctrl-bcm2711:
 gpio-512 (ID_SDA              )
 gpio-529 (GPIO17              |sysfs               ) out hi
 gpio-530 (GPIO18              )
 gpio-554 (                    |led0                ) out lo ACTIVE LOW
 gpio-555 (GPIO27              |scanner-led         ) out hi
"""


def write(root: Path, relative: str, content: str = "") -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)


@pytest.fixture
def pi_root(tmp_path: Path) -> Path:
    """A fake root with what a Raspberry Pi 4 on Wi-Fi shows in /proc and /sys."""
    root = tmp_path / "pi"
    write(root, "etc/hostname", "pi-loja-001-caixa-01\n")
    write(root, "proc/stat", "cpu  400 0 100 1400 100 0 0 0 0 0\ncpu0 100 0 25 350 25 0 0 0 0 0\n")
    write(root, "proc/meminfo", "MemTotal:        3884300 kB\nMemFree:          900000 kB\n"
                                "MemAvailable:    2884300 kB\nCached:           500000 kB\n")
    write(root, "proc/uptime", "12345.67 40000.00\n")
    write(root, "proc/net/wireless",
          "Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE\n"
          " face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22\n"
          " wlan0: 0000   54.  -56.  -256        0      0      0      0     15        0\n")
    write(root, "proc/net/dev",
          "Inter-|   Receive                                                |  Transmit\n"
          " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
          "    lo:    5000      50    0    0    0     0          0         0     5000      50    0    0    0     0       0          0\n"
          " wlan0: 2000000    3000    0    0    0     0          0         0   700000    2000    0    0    0     0       0          0\n"
          "  eth0:    1000      10    0    0    0     0          0         0      300       3    0    0    0     0       0          0\n")
    write(root, "proc/net/fib_trie", FIB_TRIE)
    write(root, "proc/net/route", ROUTE)
    write(root, "sys/class/thermal/thermal_zone0/type", "cpu-thermal\n")
    write(root, "sys/class/thermal/thermal_zone0/temp", "48312\n")
    for name, state, mac in (("lo", "unknown", "00:00:00:00:00:00"), ("wlan0", "up", "dc:a6:32:01:02:03"),
                             ("eth0", "down", "dc:a6:32:01:02:04")):
        write(root, f"sys/class/net/{name}/operstate", f"{state}\n")
        write(root, f"sys/class/net/{name}/address", f"{mac}\n")
    (root / "sys/class/net/wlan0/wireless").mkdir()
    for name in ("usb1", "usb2", "1-0:1.0", "1-1", "1-1:1.0", "1-1.3", "1-1.3:1.0"):
        (root / "sys/bus/usb/devices" / name).mkdir(parents=True)
    write(root, "sys/kernel/debug/gpio", GPIO)
    (root / "sys/bus/spi/devices/spi0.0").mkdir(parents=True)
    (root / "sys/bus/spi/devices/spi0.1").mkdir(parents=True)
    for name in ("i2c-1", "i2c-20", "1-0050"):
        (root / "sys/bus/i2c/devices" / name).mkdir(parents=True)
    write(root, "sys/class/leds/ACT/brightness", "0\n")
    write(root, "sys/class/leds/PWR/brightness", "255\n")
    return root


def test_probe_reads_every_sensor_of_a_pi(pi_root: Path) -> None:
    report = health.collect(pi_root, store_key="LOJA-001", spool_depth=2,
                            spool_oldest_at="2026-11-22T10:00:00+00:00")
    assert set(SEED_FIELDS) <= set(report)
    assert report["id"] == "pi-loja-001-caixa-01"
    assert report["cpu_temp"] == 48.3
    assert report["cpu_percent"] == 25.0  # busy 500 of 2000 jiffies since boot (no baseline)
    assert (report["mem_usage"], report["mem_percent"]) == ("976 MB", 25.7)
    assert (report["wifi_status"], report["wifi_signal_dbm"]) == ("connected", -56)
    assert (report["net_bytes_sent"], report["net_bytes_recv"]) == (700300, 2001000)
    assert report["net_ifaces"] == [
        {"name": "eth0", "ip": None, "state": "down", "mac": "dc:a6:32:01:02:04"},
        {"name": "wlan0", "ip": "192.168.0.10", "state": "up", "mac": "dc:a6:32:01:02:03"}]
    assert report["usb_devices_count"] == 2  # 1-1 (a hub) and 1-1.3; root hubs and interfaces not
    assert report["gpio_used_count"] == 3
    assert report["spi_buses"] == ["spi0.0", "spi0.1"]
    assert report["i2c_buses"] == ["i2c-1", "i2c-20"]
    assert report["leds"] == {"ACT": 0, "PWR": 255} and report["led_internal_status"] is False
    assert report["uptime_s"] == 12345
    assert (report["store_key"], report["spool_depth"]) == ("LOJA-001", 2)
    assert report["reported_at"].endswith("+00:00")
    # the contract: the server accepts what the probe sends
    row = parse_report(report)
    assert row["raspberry_id"] == "pi-loja-001-caixa-01" and row["cpu_temp_c"] == 48.3


def test_cpu_percent_is_measured_since_the_baseline(pi_root: Path) -> None:
    before = health.read_cpu_times(pi_root)
    write(pi_root, "proc/stat", "cpu  460 0 140 1480 120 0 0 0 0 0\n")  # +100 busy, +200 total
    assert health.collect(pi_root, cpu_baseline=before)["cpu_percent"] == 50.0


def test_fallbacks_sysfs_gpio_and_dev_nodes(pi_root: Path) -> None:
    (pi_root / "sys/kernel/debug/gpio").unlink()  # debugfs needs root
    for name in ("gpiochip512", "gpio529", "gpio530"):
        (pi_root / "sys/class/gpio" / name).mkdir(parents=True)
    for bus in ("spi", "i2c"):
        for child in (pi_root / f"sys/bus/{bus}/devices").iterdir():
            child.rmdir()
        (pi_root / f"sys/bus/{bus}/devices").rmdir()
    for name in ("spidev0.0", "i2c-1", "null"):
        write(pi_root, f"dev/{name}")
    report = health.collect(pi_root)
    assert report["gpio_used_count"] == 2
    assert (report["spi_buses"], report["i2c_buses"]) == (["spi0.0"], ["i2c-1"])


def test_missing_sensors_are_null_never_a_crash(tmp_path: Path) -> None:
    empty = tmp_path / "nothing"
    empty.mkdir()
    write(empty, "proc/meminfo", "garbage without numbers\n")  # malformed, not only missing
    report = health.collect(empty, device_id="pi-x")
    assert report["id"] == "pi-x"
    for field in set(SEED_FIELDS) - {"id"}:
        assert report[field] is None, field
    assert report["uptime_s"] is None and report["leds"] is None and report["wifi_signal_dbm"] is None
    assert parse_report(report)["raspberry_id"] == "pi-x"


# --- the reporter ----------------------------------------------------------------------------

def agent_config(tmp_path: Path, broker_url: str, interval_s: float = 30.0) -> AgentConfig:
    return AgentConfig(store_key="LOJA-001", broker_url=broker_url, device_id="pi-reporter",
                       spool_dir=tmp_path / "spool", health_interval_s=interval_s,
                       publish_timeout_s=1.0, reconnect_base_s=0.05)


def test_broker_away_keeps_only_the_latest_report(tmp_path: Path, pi_root: Path) -> None:
    sent: list[dict[str, Any]] = []
    broker_up = False

    def send(report: dict[str, Any]) -> None:
        if not broker_up:
            raise ConnectionError("broker unreachable")
        sent.append(report)

    spool = Spool(tmp_path / "spool.sqlite3")
    spool.add({"scan_id": "00000000-0000-0000-0000-000000000001", "scanned_at": "2026-11-22T09:00:00+00:00",
               "product_id": "1001"})
    reporter = health.HealthReporter(agent_config(tmp_path, "redis://unused"), spool, root=pi_root, send=send)
    for _ in range(3):  # three intervals while the broker is away
        reporter.latest = reporter.make_report()
        assert reporter.send_latest() is False
    kept = reporter.latest
    assert kept is not None and sent == []
    broker_up = True
    assert reporter.send_latest() is True
    assert sent == [kept] and reporter.latest is None  # one report went: the latest, not three
    assert kept["spool_depth"] == 1 and kept["spool_oldest_at"] == "2026-11-22T09:00:00+00:00"


def test_unreachable_broker_fails_fast_without_raising(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    reporter = health.HealthReporter(agent_config(tmp_path, "redis://127.0.0.1:1/0"), spool)
    reporter.latest = reporter.make_report()
    assert reporter.send_latest() is False
    assert reporter.latest is not None


@pytest.mark.mariadb
def test_reporter_thread_reaches_the_database_through_a_real_worker(tmp_path: Path, worker: Any) -> None:
    stop = threading.Event()
    spool = Spool(tmp_path / "spool.sqlite3")
    thread = health.start_reporter(agent_config(tmp_path, REDIS_URL, interval_s=1.0), spool, stop)
    try:
        wait_until(lambda: device_row("pi-reporter"), 30, "the reporter's row in the database")
    finally:
        stop.set()
        thread.join(timeout=10)
    row = device_row("pi-reporter")
    assert row is not None and row.store_key == "LOJA-001" and row.spool_depth == 0
    assert not thread.is_alive()
