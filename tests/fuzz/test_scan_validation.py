"""Fuzzing the scan validators: the server's checks on a `baixa.registrar` message
(core/baixa/registro.py) and the agent's on a line read from the scanner (edge_agent/scan.py).

Whatever a message holds, the server's checks return reasons and never raise; a message they
pass is one the database can store as it is, and a message they refuse is still stored as an
`invalid` outcome, so a redelivery finds it and nothing is a poison message. Whatever the
scanner types, the agent returns a scan or a rejection, and every scan it sends passes the
server's checks. Cases found are kept as @example."""
from __future__ import annotations

import re
import uuid
from datetime import timezone
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from core.baixa.registro import _parse_scanned_at, _problems, _text, registrar_baixa
from core.db import session_scope
from core.models import BaixaLeitura
from core.models.baixa import INVALID
from edge_agent.config import AgentConfig
from edge_agent.scan import Rejected, make_scan

FUZZ = settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)

# What a JSON message can carry (json.loads takes integers up to 4300 digits), with the awkward
# characters too: control characters, other scripts' digits, lone surrogates (JSON can carry
# "\ud800"; the database cannot store it).
texts = st.text(st.characters() | st.characters(categories=["Cs"]), max_size=70)
numbers = st.integers() | st.integers(min_value=10**17, max_value=10**19) | st.floats()
json_values = st.recursive(st.none() | st.booleans() | numbers | texts,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
                           max_leaves=6)
# Per field: values shaped like the real ones (so messages get past the first checks), or anything.
scan_ids = (st.uuids().map(str) | st.uuids().map(lambda u: str(u).upper()) | st.uuids().map(lambda u: u.hex)
            | st.uuids().map(lambda u: "{%s}" % u) | texts | json_values)
product_ids = (st.integers(min_value=-1, max_value=10**19) | st.integers(min_value=0, max_value=10**19).map(str)
               | st.from_regex(r"[0-9\u0660-\u0669\u00b2]{1,20}", fullmatch=True) | json_values)
store_keys = texts | json_values
instants = (st.datetimes().map(lambda d: d.isoformat())
            | st.builds(lambda d, h: d.isoformat() + h, st.datetimes(), st.sampled_from(["+14:00", "-14:00", "Z", "+23:59"]))
            | texts | json_values)
scans = st.fixed_dictionaries({"scan_id": scan_ids, "product_id": product_ids, "store_key": store_keys,
                               "device_id": st.none() | store_keys, "scanned_at": instants})


def storable(text: str) -> bool:
    """Whether MariaDB's utf8mb4 and SQLite take the text (no lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@FUZZ
@given(scan=scans)
@example(scan={"scan_id": str(uuid.uuid4()), "product_id": "7", "store_key": "loja-1", "device_id": None,
               "scanned_at": "0001-01-01T00:00:00+14:00"})  # before year 1 in UTC
@example(scan={"scan_id": str(uuid.uuid4()), "product_id": "7", "store_key": "loja-1", "device_id": None,
               "scanned_at": "9999-12-31T23:59:59-14:00"})  # after year 9999 in UTC
@example(scan={"scan_id": str(uuid.uuid4()), "product_id": "7", "store_key": "loja\ud800", "device_id": "pi\udfff",
               "scanned_at": "2026-01-01T00:00:00+00:00"})  # lone surrogates
@example(scan={"scan_id": "urn:" + uuid.uuid4().hex, "product_id": "7", "store_key": "loja-1", "device_id": None,
               "scanned_at": "2026-01-01T00:00:00+00:00"})  # 36 characters, not a UUID as written
@example(scan={"scan_id": "١" * 32 + "----", "product_id": "7", "store_key": "loja-1", "device_id": None,
               "scanned_at": "2026-01-01T00:00:00+00:00"})  # int() reads Arabic-Indic digits as hex digits
def test_server_checks_never_raise_and_pass_only_storable_scans(scan: dict[str, Any]) -> None:
    problems = _problems(**scan)
    assert isinstance(problems, list) and all(isinstance(p, str) and p for p in problems)
    # What registrar_baixa stores, valid or not, must be storable.
    scanned_at = _parse_scanned_at(scan["scanned_at"])
    assert scanned_at is None or scanned_at.astimezone(timezone.utc).tzinfo is not None
    for value in (scan["product_id"], scan["store_key"], scan["device_id"]):
        assert storable(_text(value, 64)) and len(_text(value, 64)) <= 64
    if problems:
        return
    assert isinstance(scan["scan_id"], str) and CANONICAL_UUID.fullmatch(scan["scan_id"])
    assert 0 <= int(str(scan["product_id"])) < 10**18
    assert isinstance(scan["store_key"], str) and 0 < len(scan["store_key"]) <= 64 and storable(scan["store_key"])
    assert scan["device_id"] is None or (len(scan["device_id"]) <= 64 and storable(scan["device_id"]))
    assert scanned_at is not None


@settings(FUZZ, max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(scan=scans)
@example(scan={"scan_id": str(uuid.uuid4()), "product_id": "7", "store_key": "loja-1", "device_id": None,
               "scanned_at": "0001-01-01T00:00:00+14:00"})
@example(scan={"scan_id": "não é uuid", "product_id": "7", "store_key": "loja\ud800", "device_id": "pi\udfff",
               "scanned_at": "2026-01-01T00:00:00+00:00"})
# Found by the fuzzer in CI: one scan_id drawn twice, first with a bad field, then valid.
@example(scan={"scan_id": "e3e70682-c209-4cac-629f-6fbed82c07cd", "product_id": "7", "store_key": "0",
               "device_id": None, "scanned_at": "não é data"})
@example(scan={"scan_id": "e3e70682-c209-4cac-629f-6fbed82c07cd", "product_id": 1, "store_key": "0",
               "device_id": None, "scanned_at": "2000-01-01T00:00:00"})
def test_any_message_is_recorded_with_an_outcome(db: str, scan: dict[str, Any]) -> None:
    # Must survive: no exception out of registrar_baixa (a poison message), an outcome recorded.
    # Hypothesis may draw a scan_id again with other fields: the server then answers the first
    # outcome of that scan_id (idempotent), whatever the new message says.
    with session_scope() as session:
        seen = session.scalar(select(BaixaLeitura.outcome).where(
            BaixaLeitura.scan_id == str(scan["scan_id"])))
    outcome = registrar_baixa(**scan)
    if seen is not None:
        assert outcome["outcome"] == seen
    else:
        assert outcome["outcome"] == INVALID if _problems(**scan) else outcome["outcome"] != INVALID


def agent_config(store_key: str, device_id: str, pattern: str = r"[0-9]+", max_length: int = 18) -> AgentConfig:
    return AgentConfig(store_key=store_key, broker_url="redis://127.0.0.1:1/0", device_id=device_id,
                       spool_dir=Path("/nonexistent"), product_id_pattern=pattern, product_id_max_length=max_length)


# What a keyboard-like scanner can type: mostly digits, sometimes anything (and raw bytes).
reads = (st.from_regex(r"\s*[0-9]{1,25}\s*", fullmatch=True) | st.text(max_size=40)
         | st.binary(max_size=40) | st.from_regex(r"[0-9\u0660-\u0669\uff10-\uff19\u00b2]{1,20}", fullmatch=True))
# A store_key as read_store_key leaves it (stripped, 1-64 characters), a device_id as load_config does.
store_keys_of_agents = st.text(min_size=1, max_size=64).map(str.strip).filter(bool)
device_ids = st.text(min_size=1, max_size=64)


@FUZZ
@given(raw=reads, store_key=store_keys_of_agents, device_id=device_ids)
@example(raw="١٢٣", store_key="loja-1", device_id="pi-1")  # digits to str.isdigit, not to the server
@example(raw="1" * 19, store_key="loja-1", device_id="pi-1")
@example(raw=b"\xff\xfe12", store_key="loja-1", device_id="pi-1")
def test_agent_sends_only_what_the_server_accepts(raw: str | bytes, store_key: str, device_id: str) -> None:
    scan = make_scan(raw, agent_config(store_key, device_id))
    if isinstance(scan, Rejected):
        assert scan.reason and isinstance(scan.preview, str)
        return
    assert scan["product_id"].isascii() and re.fullmatch(r"[0-9]+", scan["product_id"])
    assert _problems(**scan) == []
