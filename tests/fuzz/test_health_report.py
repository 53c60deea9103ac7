"""Fuzzing the health report parser (core/health/report.py) and the bridge's body handling with
Hypothesis: whatever arrives, the parser returns a row the database can take or raises its own
InvalidReport with a reason code; nothing else escapes. Cases found are kept as @example."""
from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import BigInteger, Boolean, Float, Integer, String

from core.health.report import InvalidReport, decode_body, parse_report
from core.models import DeviceStatus
from core.models.types import JSONType, UTCDateTime
from processes.health_bridge import with_amqp_timestamp
from tests.health.support import seed_report

CODES = {"missing_id", "invalid", "too_large", "not_json", "not_object"}
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RECEIVED_AT = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
# Text with the awkward characters too: control characters, emoji, lone surrogates.
texts = st.text(st.characters() | st.characters(categories=["Cs"]), max_size=70)
numbers = st.integers() | st.integers(min_value=2**31 - 2, max_value=2**64) | st.floats()
# Any JSON value, with the awkward ones: NaN and infinities, huge integers, odd text.
json_values = st.recursive(st.none() | st.booleans() | numbers | texts,
                           lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(texts, inner, max_size=4), max_leaves=12)
instants = st.builds(lambda at, offset: at.replace(tzinfo=timezone(timedelta(minutes=offset))),
                     st.datetimes(), st.integers(min_value=-24 * 60 + 1, max_value=24 * 60 - 1))
timestamps = instants.map(datetime.isoformat) | st.datetimes().map(datetime.isoformat) | numbers
# Per field: values of its own type (edges included), so reports get past the type checks
# and reach the mapping and the columns; sometimes any JSON value at all.
TYPED = {
    "id": texts, "reported_at": timestamps, "spool_oldest_at": timestamps,
    "cpu_temp": numbers | texts, "mem_usage": numbers | texts | st.builds("{}%".format, numbers),
    "spi_buses": st.lists(texts, max_size=3), "i2c_buses": st.lists(texts, max_size=3),
    "net_ifaces": st.lists(st.dictionaries(st.sampled_from(["name", "ip", "state", "mac", "rx"]),
                                           json_values, max_size=4), max_size=3),
    "leds": st.dictionaries(texts, numbers, max_size=3),
    "led_internal_status": st.booleans(), "led_external_status": st.booleans(),
}
FIELDS = sorted(set(seed_report()) | set(TYPED) | {
    "gpio_used_count", "usb_devices_count", "net_bytes_sent", "net_bytes_recv", "cpu_percent",
    "store_key", "agent_version", "uptime_s", "spool_depth", "wifi_signal_dbm", "mem_percent",
    "wifi_status"})


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def field_values(name: str) -> st.SearchStrategy[Any]:
    return TYPED.get(name, numbers | texts) | json_values


reports = st.builds(
    lambda base, changes: {**base, **changes},
    st.builds(seed_report, st.text(min_size=1, max_size=64)),
    st.sets(st.sampled_from(FIELDS), max_size=6).flatmap(
        lambda keys: st.fixed_dictionaries({key: field_values(key) for key in keys})))


def assert_storable(row: dict[str, Any]) -> None:
    """Every value fits its device_status column on SQLite and MariaDB alike."""
    for column in DeviceStatus.__table__.columns:
        if column.name not in row or row[column.name] is None:
            continue
        value, kind = row[column.name], column.type
        if isinstance(kind, String):
            assert isinstance(value, str) and len(value) <= kind.length, column.name
            value.encode("utf-8")  # no lone surrogate
        elif isinstance(kind, Boolean):
            assert isinstance(value, bool), column.name
        elif isinstance(kind, BigInteger):
            assert isinstance(value, int) and -2**63 <= value < 2**63, column.name
        elif isinstance(kind, Integer):
            assert isinstance(value, int) and -2**31 <= value < 2**31, column.name
        elif isinstance(kind, Float):
            assert math.isfinite(value) and abs(value) <= 3.4e38, column.name  # MariaDB's FLOAT
        elif isinstance(kind, UTCDateTime):
            assert value.utcoffset() == timedelta(0) and 2000 <= value.year <= 9999, column.name
        elif kind is JSONType or column.name in ("spi_buses", "i2c_buses", "net_ifaces", "leds"):
            json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    assert row["reported_at"] <= RECEIVED_AT + timedelta(minutes=2)


def parse_or_reject(raw: Any) -> None:
    try:
        row = parse_report(raw, received_at=RECEIVED_AT)
    except InvalidReport as error:
        assert error.code in CODES and error.reason
        return
    assert_storable(row)


@FUZZ
@given(reports)
@example(seed_report(reported_at="0001-01-01T00:00:00+14:00"))  # OverflowError (issue 12)
@example(seed_report(reported_at="9999-12-31T23:59:59-14:00"))  # past 9999 in UTC
@example(seed_report(spool_oldest_at="0001-01-01T00:00:00+14:00"))
@example(seed_report(reported_at="1970-01-01T00:00:00"))  # a Pi whose clock was never set
@example(seed_report(cpu_temp=1e300))  # MariaDB's FLOAT refused it
@example(seed_report(gpio_used_count=2**40))  # INT refused it
@example(seed_report(net_ifaces=[{"name": "wlan0", "rx": float("nan")}]))  # MariaDB's JSON check
@example(seed_report(wifi_status="\ud800"))  # a lone surrogate: no UTF-8 for the database
@example(seed_report(mem_usage="9" * 31 + "%"))  # a percentage of 1e31
def test_any_report_is_parsed_or_rejected_with_a_code(raw: dict[str, Any]) -> None:
    parse_or_reject(raw)


@FUZZ
@given(json_values)
def test_any_json_value_is_parsed_or_rejected_with_a_code(raw: Any) -> None:
    parse_or_reject(raw)


@FUZZ
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
@example(b"[" * 20_000 + b"]" * 20_000)  # RecursionError (issue 12)
@example(b"1" * 5_000)  # past Python's 4,300-digit int limit: ValueError
@example(b'{"id": "pi-\xff"}')
@example(b'{"id": "pi", "cpu_percent": NaN}')
def test_any_body_is_decoded_and_parsed_or_rejected(body: bytes) -> None:
    try:
        raw = decode_body(body)
    except InvalidReport as error:
        assert error.code in CODES and error.reason
        return
    parse_or_reject(raw)


@FUZZ
@given(st.integers() | st.floats() | st.none())
@example(int(RECEIVED_AT.timestamp() * 1000))  # milliseconds (issue 12)
@example(-(2**63))
def test_any_amqp_timestamp_is_taken_or_rejected(timestamp: Any) -> None:
    message = seed_report()
    del message["reported_at"]
    try:
        raw = with_amqp_timestamp(message, timestamp)
    except InvalidReport as error:
        assert error.code == "invalid" and "AMQP timestamp" in error.reason
        return
    parse_or_reject(raw)


def test_a_report_too_deep_to_encode_is_rejected() -> None:
    # A plain test: Hypothesis cannot print an example this deep. RecursionError before the fix.
    with pytest.raises(InvalidReport) as caught:
        parse_report({"id": "pi", "x": nested(5_000)}, received_at=RECEIVED_AT)
    assert caught.value.code == "invalid" and "RecursionError" in caught.value.reason
