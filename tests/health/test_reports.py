"""Health reports: create, update, redelivered and out-of-order reports through the domain
upsert and through a real worker; every kind of bad report rejected, counted, kept in the dead
letters, not retried; a row the database refuses isolated from its group commit; a database
down for longer than the retries leaving a replayable dead letter."""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from core import dead_letters
from core.dead_letters import PARKED_KEY
from core.health import report as health_report
from core.health.report import InvalidReport, decode_body, parse_report
from core.health.store import apply_reports
from core.models.types import utcnow
from core.redis_client import get_redis
from core.settings import reset_settings
from tests.health.support import (
    ago,
    database_through_proxy,
    device_count,
    device_row,
    kept,
    refusing_device,
    sample_count,
    seed_report,
)
from tests.support.waiting import wait_until


@pytest.mark.mariadb
def test_first_report_creates_the_device_with_seed_mapping(db: str) -> None:
    before = utcnow()
    assert apply_reports([parse_report(seed_report("pi-a", store_key="LOJA-001"))]) == [True]

    row = device_row("pi-a")
    assert row is not None
    assert (row.wifi_status, row.mem_usage, row.cpu_temp, row.cpu_percent) == ("connected", "512 MB", "48°C", 12.5)
    assert (row.gpio_used_count, row.usb_devices_count) == (3, 2)
    assert (row.net_bytes_sent, row.net_bytes_recv) == (102400, 204800)
    # lists stored as JSON, read back as lists
    assert row.spi_buses == ["spi0.0"] and row.i2c_buses == ["i2c-1"]
    assert row.net_ifaces == [{"name": "wlan0", "ip": "192.168.0.10"}]
    assert row.cpu_temp_c == 48.0 and row.store_key == "LOJA-001" and row.status == "online"
    # last_update is the server's UTC clock
    assert row.last_update.tzinfo is not None and before <= row.last_update <= utcnow()
    assert sample_count("pi-a") == 1


@pytest.mark.mariadb
def test_newer_report_updates_and_adds_a_sample(db: str) -> None:
    apply_reports([parse_report(seed_report("pi-a", at=ago(60)))])
    apply_reports([parse_report(seed_report("pi-a", at=ago(30), cpu_temp="61.5°C", spi_buses=[],
                                             wifi_status="disconnected"))])
    row = device_row("pi-a")
    assert row is not None
    assert (row.cpu_temp, row.cpu_temp_c, row.spi_buses, row.wifi_status) == ("61.5°C", 61.5, [], "disconnected")
    assert sample_count("pi-a") == 2 and device_count() == 1


@pytest.mark.mariadb
def test_redelivered_report_changes_nothing(db: str) -> None:
    report = parse_report(seed_report("pi-a", at=ago(10)))
    apply_reports([report])
    first = device_row("pi-a")
    # the same message again (acks_late redelivery), alone and twice in one batch
    assert apply_reports([report]) == [True]
    assert apply_reports([report, report]) == [True, True]
    again = device_row("pi-a")
    assert first is not None and again is not None
    assert again.reported_at == first.reported_at and again.cpu_temp == first.cpu_temp
    assert sample_count("pi-a") == 1 and device_count() == 1


@pytest.mark.mariadb
def test_older_report_never_overwrites_newer_state(db: str) -> None:
    newer = parse_report(seed_report("pi-a", at=ago(10), cpu_temp="50°C", spool_depth=0))
    older = parse_report(seed_report("pi-a", at=ago(100), cpu_temp="80°C", spool_depth=9))
    assert apply_reports([newer]) == [True]
    assert apply_reports([older]) == [False]
    row = device_row("pi-a")
    assert row is not None and (row.cpu_temp, row.spool_depth) == ("50°C", 0)
    assert row.reported_at == newer["reported_at"]
    # the late report still lands in the history
    assert sample_count("pi-a") == 2
    # and in one batch, out of order, the newest wins too
    newest = parse_report(seed_report("pi-a", at=ago(5), cpu_temp="55°C"))
    assert apply_reports([newest, older]) == [True, False]
    row = device_row("pi-a")
    assert row is not None and row.cpu_temp == "55°C"


@pytest.mark.mariadb
def test_offline_device_comes_back_online_with_a_report(db: str) -> None:
    from core.health.fleet import mark_silent_devices

    apply_reports([parse_report(seed_report("pi-a", at=ago(5)), received_at=ago(500))])
    assert mark_silent_devices()["offline"] == 1
    apply_reports([parse_report(seed_report("pi-a"))])
    row = device_row("pi-a")
    assert row is not None and row.status == "online"


def test_clock_ahead_is_clamped_to_server_time(db: str) -> None:
    # a Pi whose clock runs a day ahead must not lock its row against every later report
    row = parse_report(seed_report("pi-a", at=utcnow() + timedelta(days=1)))
    assert row["reported_at"] <= utcnow() + health_report.MAX_CLOCK_AHEAD


def test_numbers_for_seed_text_fields_are_accepted(db: str) -> None:
    row = parse_report(seed_report("pi-a", cpu_temp=47.25, mem_usage="81%"))
    assert (row["cpu_temp"], row["cpu_temp_c"], row["mem_percent"]) == ("47.25°C", 47.25, 81.0)


BAD_REPORTS = [
    pytest.param({"wifi_status": "connected"}, "missing_id", id="missing-id"),
    pytest.param(seed_report(id=""), "missing_id", id="empty-id"),
    pytest.param(seed_report(id=42), "missing_id", id="numeric-id"),
    pytest.param(seed_report(cpu_percent="12.5"), "invalid", id="cpu_percent-text"),
    pytest.param(seed_report(cpu_percent=250), "invalid", id="cpu_percent-over-100"),
    pytest.param(seed_report(gpio_used_count=2.5), "invalid", id="gpio-float"),
    pytest.param(seed_report(usb_devices_count=True), "invalid", id="usb-bool"),
    pytest.param(seed_report(net_bytes_sent=-1), "invalid", id="bytes-negative"),
    pytest.param(seed_report(spi_buses="spi0.0"), "invalid", id="spi-not-list"),
    pytest.param(seed_report(i2c_buses=[1]), "invalid", id="i2c-not-strings"),
    pytest.param(seed_report(net_ifaces=[{"ip": "1.2.3.4"}]), "invalid", id="iface-without-name"),
    pytest.param(seed_report(wifi_status=["connected"]), "invalid", id="wifi-list"),
    pytest.param(seed_report(reported_at="yesterday"), "invalid", id="reported_at-text"),
    pytest.param(seed_report(net_ifaces=[{"name": "x" * 1000}]), "invalid", id="long-iface-name"),
    pytest.param(seed_report(padding="x" * 1_000_000), "too_large", id="1MB"),
    pytest.param(["raspberry-01"], "not_object", id="list"),
    pytest.param("not json {", "not_object", id="string"),
]


@pytest.mark.parametrize(("raw", "code"), BAD_REPORTS)
def test_bad_report_is_rejected_with_its_reason(raw: Any, code: str) -> None:
    with pytest.raises(InvalidReport) as caught:
        parse_report(raw)
    assert caught.value.code == code and caught.value.reason


@pytest.mark.parametrize(("body", "code"), [
    (b"{not json", "not_json"),
    (b"\xff\xfe\x00", "not_json"),
    (json.dumps(seed_report(padding="x" * 1_000_000)).encode(), "too_large"),
])
def test_bad_raw_body_is_rejected(body: bytes, code: str) -> None:
    with pytest.raises(InvalidReport) as caught:
        decode_body(body)
    assert caught.value.code == code


# --- through a real worker (queue health) ----------------------------------------------------

@pytest.mark.mariadb
def test_worker_stores_reports_and_rejects_bad_ones_without_retrying(worker: Any) -> None:
    from tasks.health import report

    result = report.delay(seed_report("pi-w", at=ago(20), store_key="LOJA-002")).get(timeout=30)
    assert result == {"device": "pi-w", "applied": True}

    bad = [{"wifi_status": "x"}, seed_report("pi-w", cpu_percent="alto"),
           seed_report("pi-w", padding="x" * 1_000_000), "not json {"]
    outcomes = [report.delay(payload) for payload in bad]
    codes = [o.get(timeout=30)["rejected"] for o in outcomes]
    assert codes == ["missing_id", "invalid", "too_large", "not_object"]
    # rejected, not failed: no retry; each kept with its reason (a 1 MB one, its first 64 KB)
    assert all(o.state == "SUCCESS" for o in outcomes)
    assert health_report.rejection_counts() == {
        "missing_id": 1, "invalid": 1, "too_large": 1, "not_object": 1, "total": 4}
    entries = {e["error"].split(":")[0]: e for e in kept("health.report")}
    assert sorted(entries) == sorted(codes)
    assert json.loads(entries["invalid"]["message"]) == bad[1]
    assert len(entries["too_large"]["message"]) == 65_536
    assert "kept the first 65536" in entries["too_large"]["error"]

    # the worker keeps going; a late (older) report does not overwrite, a newer one does
    assert report.delay(seed_report("pi-w", at=ago(60), cpu_temp="90°C")).get(timeout=30)["applied"] is False
    assert report.delay(seed_report("pi-w", at=ago(1), cpu_temp="51°C")).get(timeout=30)["applied"] is True
    row = device_row("pi-w")
    assert row is not None and row.cpu_temp == "51°C"
    assert sample_count("pi-w") == 3


@pytest.mark.mariadb
def test_concurrent_reports_share_commits_and_none_is_lost(worker: Any) -> None:
    from celery import group

    from tasks.health import report

    # 10 devices x 6 reports each, sent at once and in shuffled order
    reports = [seed_report(f"pi-{d:02d}", at=ago(60 - n), cpu_percent=float(n))
               for n in range(6) for d in range(10)]
    reports.reverse()
    results = group(report.s(r) for r in reports).apply_async().get(timeout=60)
    assert all("device" in r for r in results)
    assert device_count() == 10 and sample_count() == 60
    for d in range(10):
        row = device_row(f"pi-{d:02d}")
        assert row is not None and row.cpu_percent == 5.0  # the newest of each device


@pytest.mark.mariadb
def test_worker_isolates_the_report_the_database_refuses(worker: Any) -> None:
    # What must survive one report the database refuses among concurrent ones sharing a commit:
    # every other report stored, that one answered "refused" and kept in the dead letters.
    from celery import group

    from tasks.health import report

    with refusing_device("pi-refused"):
        reports = [seed_report(f"pi-{n:02d}") for n in range(12)]
        reports.insert(6, seed_report("pi-refused"))
        results = group(report.s(r) for r in reports).apply_async().get(timeout=60)
    assert results[6]["rejected"] == "refused" and "pi-refused refused" in results[6]["reason"]
    assert [r["device"] for r in results if "device" in r] == [f"pi-{n:02d}" for n in range(12)]
    assert device_count() == 12
    [entry] = kept("health.report")
    assert entry["reference"] == "pi-refused:refused" and json.loads(entry["message"])["id"] == "pi-refused"


@pytest.mark.mariadb_only  # the outage is a cut of MariaDB's TCP connection
def test_database_down_past_the_retries_leaves_a_replayable_dead_letter(
        worker: Any, db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database stays down longer than health.report's retries: the reports are parked in
    Redis (the dead-letter table is down too) and reach the table when MariaDB returns, one
    entry per device holding its newest report; a replay stores it. The in-process worker
    reaches MariaDB through a TCP proxy we cut."""
    from tasks.health import report
    from tasks.maintenance import move_parked_dead_letters

    monkeypatch.setenv("STOCKFLOW_HEALTH_MAX_RETRIES", "2")
    monkeypatch.setenv("STOCKFLOW_HEALTH_RETRY_BASE_S", "0.2")
    reset_settings()
    newer, older = seed_report("pi-a", at=ago(30), cpu_temp="50°C"), seed_report("pi-a", at=ago(60))
    other = seed_report("pi-b", at=ago(30))
    try:
        with database_through_proxy(db) as proxy:
            proxy.cut()
            for message in (newer, older, other):  # as the Pis send them: no result kept
                report.apply_async(args=[message], ignore_result=True)
            wait_until(lambda: get_redis().llen(PARKED_KEY) == 3, 60, "the retries spent and parked")
            proxy.restore()
            assert move_parked_dead_letters() == 3  # what Beat runs every minute
            entries = {e.reference: e for e in dead_letters.list_open("health.report")}
            assert sorted(entries) == ["pi-a", "pi-b"]
            assert entries["pi-a"].args == [newer] and entries["pi-b"].args == [other]
            assert "DatabaseUnavailable" in entries["pi-a"].error
            assert device_count() == 0  # not stored, not lost either
            assert dead_letters.replay(entries["pi-a"].id, "admin")
            wait_until(lambda: device_row("pi-a") is not None, 30, "the replayed report")
    finally:
        monkeypatch.delenv("STOCKFLOW_HEALTH_MAX_RETRIES")
        monkeypatch.delenv("STOCKFLOW_HEALTH_RETRY_BASE_S")
        reset_settings()
    assert device_row("pi-a").cpu_temp == "50°C"  # type: ignore[union-attr]
    assert [e.reference for e in dead_letters.list_open("health.report")] == ["pi-b"]
