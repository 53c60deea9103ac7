"""Fleet status: silent devices become stale then offline (Beat's task, through a real worker),
changes are published on SSE, history is pruned, sick devices sort first."""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from core.health import fleet
from core.health.report import parse_report
from core.health.store import apply_reports
from core.models.types import utcnow
from core.redis_client import get_redis
from core.settings import get_settings
from core.sse import stream_key
from tests.health.support import ago, device_row, sample_count, seed_report


def heard_from(device: str, seconds_ago: float, **fields: Any) -> None:
    """Store a report as if the server had received it `seconds_ago`."""
    apply_reports([parse_report(seed_report(device, at=ago(seconds_ago), **fields),
                                received_at=ago(seconds_ago))])


def devices_events() -> list[dict[str, Any]]:
    return [json.loads(fields["data"]) for _, fields in get_redis().xrange(stream_key(fleet.CHANNEL))]


@pytest.mark.mariadb
def test_silent_devices_become_stale_then_offline_and_changes_are_published(db: str) -> None:
    interval = get_settings().health_interval_s  # 30 s: stale after 45 s, offline after 90 s
    heard_from("pi-fresh", interval * 0.5)
    heard_from("pi-quiet", interval * 2)
    heard_from("pi-gone", interval * 4)
    get_redis().delete(stream_key(fleet.CHANNEL))

    assert fleet.mark_silent_devices() == {"offline": 1, "stale": 1}
    statuses = {d: device_row(d).status for d in ("pi-fresh", "pi-quiet", "pi-gone")}  # type: ignore[union-attr]
    assert statuses == {"pi-fresh": "online", "pi-quiet": "stale", "pi-gone": "offline"}
    published = {d["id"]: d["status"] for e in devices_events() for d in e["devices"]}
    assert published == {"pi-quiet": "stale", "pi-gone": "offline"}

    # nothing changed since: nothing is published again
    get_redis().delete(stream_key(fleet.CHANNEL))
    assert fleet.mark_silent_devices() == {"offline": 0, "stale": 0}
    assert devices_events() == []

    # a minute later the stale one is past the offline limit and the fresh one turns stale
    later = utcnow() + timedelta(seconds=interval * 2)
    assert fleet.mark_silent_devices(now=later) == {"offline": 1, "stale": 1}


@pytest.mark.mariadb
def test_beat_task_marks_offline_through_a_real_worker(worker: Any) -> None:
    from tasks.health import mark_silent_devices

    heard_from("pi-gone", 600)
    assert mark_silent_devices.delay().get(timeout=30) == {"offline": 1, "stale": 0}
    row = device_row("pi-gone")
    assert row is not None and row.status == "offline"


@pytest.mark.mariadb
def test_history_older_than_kept_days_is_pruned(db: str) -> None:
    for days in (0, 2, 8, 9):
        apply_reports([parse_report(seed_report("pi-a", at=ago(days * 86_400 + 5)))])
    assert fleet.prune_history(keep_days=7, chunk=1) == 2
    assert sample_count("pi-a") == 2
    assert [round((utcnow() - s["at_dt"]).days) for s in _history_with_dates("pi-a", 24 * 7)] == [2, 0]


def _history_with_dates(device: str, hours: float) -> list[dict[str, Any]]:
    from datetime import datetime

    return [{**s, "at_dt": datetime.fromisoformat(s["at"])} for s in fleet.history(device, hours=hours)]


def test_sick_devices_sort_first(db: str) -> None:
    heard_from("pi-ok", 1, store_key="LOJA-001")
    heard_from("pi-hot", 1, cpu_temp="82°C", store_key="LOJA-001")
    heard_from("pi-backlog", 1, spool_depth=12, store_key="LOJA-002")
    heard_from("pi-offline", 600, store_key="LOJA-003")
    fleet.mark_silent_devices()
    order = [(d["id"], d["severity"]) for d in fleet.fleet()]
    assert order == [("pi-offline", 3), ("pi-hot", 2), ("pi-backlog", 2), ("pi-ok", 0)]
    hot = fleet.get_device("pi-hot")
    assert hot is not None and hot["problems"] == ["CPU quente (82 °C)"]
