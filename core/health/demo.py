"""Demo fleet: a dozen Pis in the demo stores with 24 h of history, a few of them sick or offline."""
from __future__ import annotations

import math
import random
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.baixa.demo import DEMO_STORES
from core.models import DeviceHealthSample, DeviceStatus
from core.models.types import utcnow

SAMPLE_EVERY = timedelta(minutes=5)

# (device suffix, what is wrong with it, minutes since its last report)
PROFILES = [
    ("caixa-01", None, 0), ("caixa-02", "hot", 0), ("deposito", "backlog", 0), ("recebimento", None, 0),
    ("caixa-01", None, 0), ("caixa-02", "memory", 0), ("deposito", "offline", 140), ("recebimento", "wifi", 0),
    ("caixa-01", "power", 0), ("caixa-02", "stale", 1), ("deposito", None, 0), ("recebimento", "offline", 26 * 60),
]


def load_devices(session: Session) -> str:
    """Insert the demo fleet and its history once (skipped when any device exists)."""
    if session.scalar(select(func.count()).select_from(DeviceStatus)):
        return "device_status já tem dados"
    rng = random.Random(6)
    now = utcnow()
    samples = 0
    for index, (suffix, trouble, silent_min) in enumerate(PROFILES):
        store = DEMO_STORES[index // 4]
        device_id = f"pi-{store.lower()}-{suffix}"
        last = now - timedelta(minutes=silent_min, seconds=rng.randrange(0, 20))
        points = _history(rng, trouble, now - timedelta(hours=24), last)
        session.add_all(DeviceHealthSample(raspberry_id=device_id, **point) for point in points)
        samples += len(points)
        latest = points[-1] if points else {"cpu_temp_c": 50.0, "cpu_percent": 5.0, "mem_percent": 40.0,
                                           "wifi_signal_dbm": -60, "spool_depth": 0}
        status = "offline" if trouble == "offline" else "stale" if trouble == "stale" else "online"
        session.add(DeviceStatus(
            raspberry_id=device_id, store_key=store, status=status, reported_at=last, last_update=last,
            first_seen=now - timedelta(days=30), agent_version="1.0.0", uptime_s=rng.randrange(3_600, 900_000),
            wifi_status="connected",
            wifi_signal_dbm=latest["wifi_signal_dbm"], cpu_temp_c=latest["cpu_temp_c"],
            cpu_temp=f"{latest['cpu_temp_c']:.1f}°C", cpu_percent=latest["cpu_percent"],
            mem_percent=latest["mem_percent"], mem_usage=f"{int(latest['mem_percent'] * 9.05)} MB",
            spool_depth=latest["spool_depth"],
            spool_oldest_at=now - timedelta(minutes=35) if latest["spool_depth"] else None,
            gpio_used_count=3, spi_buses=["spi0.0", "spi0.1"], i2c_buses=["i2c-1"], usb_devices_count=2,
            net_bytes_sent=rng.randrange(10**6, 10**9), net_bytes_recv=rng.randrange(10**6, 10**9),
            net_ifaces=[{"name": "wlan0", "ip": f"10.{index // 4 + 1}.0.{20 + index}", "state": "up"},
                        {"name": "eth0", "ip": None, "state": "down"}],
            leds={"ACT": rng.choice([0, 1]), "PWR": 1}, led_internal_status=True,
            # a weak power supply: undervoltage and throttling now and since boot
            throttled=0x50005 if trouble == "power" else 0))
    return f"{len(PROFILES)} dispositivos, {samples} amostras de histórico"


def _history(rng: random.Random, trouble: str | None, start: Any, end: Any) -> list[dict[str, Any]]:
    points = []
    at = start
    step = 0
    while at <= end:
        hours_left = (end - at).total_seconds() / 3600
        daily = math.sin(step / 288 * 2 * math.pi)  # warmer in the afternoon
        temp = 52 + 6 * daily + rng.uniform(-1.5, 1.5) + (20 * max(0.0, 1 - hours_left / 3) if trouble == "hot" else 0)
        memory = 38 + rng.uniform(-3, 3) + (58 * max(0.0, 1 - hours_left / 6) if trouble == "memory" else 0)
        backlog = int(max(0.0, 14 * (1 - hours_left / 0.6))) if trouble == "backlog" else 0
        signal = (-82 if trouble == "wifi" else -58) + rng.randrange(-4, 5)
        points.append({"reported_at": at, "cpu_temp_c": round(temp, 1),
                       "cpu_percent": round(rng.uniform(2, 25), 1), "mem_percent": round(min(memory, 97.0), 1),
                       "wifi_signal_dbm": signal, "spool_depth": backlog})
        at += SAMPLE_EVERY
        step += 1
    if points:
        points[-1]["reported_at"] = end
    return points
