"""baixa.registrar on a real worker and broker: outcomes, idempotency on scan_id, two Pis
scanning the same product at once, garbage messages, and the SSE events."""
from __future__ import annotations

import json
import threading
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from core.baixa.registro import RESPONSAVEL, registrar_baixa
from core.celery_app import celery_app
from core.db import session_scope
from core.models import BaixaLeitura, Produto, ProdutoRemovido
from core.redis_client import get_redis
from core.sse import stream_key
from tests.baixa.support import removals_by_product, scan_message, seed_products


def send(message: dict[str, Any]) -> Any:
    return celery_app.send_task("baixa.registrar", kwargs=message)


def store_events(store_key: str) -> list[dict[str, Any]]:
    entries = get_redis().xrange(stream_key(f"store:{store_key}"))
    return [{"type": f["type"], **json.loads(f["data"])} for _, f in entries]


@pytest.mark.mariadb
def test_each_outcome_is_recorded_published_and_the_row_fully_copied(worker: Any) -> None:
    seed_products("LOJA-001", [800_001])
    seed_products("LOJA-002", [800_002])
    with session_scope() as session:
        original = session.get(Produto, 800_001)
        assert original is not None
        snapshot = {c: getattr(original, c) for c in ("descricao", "codigo_barras", "preco", "lote",
                                                        "created_at")}
    removed = send(scan_message(800_001, device_id="pi-caixa-1")).get(timeout=30)
    again = send(scan_message(800_001)).get(timeout=30)
    other_store = send(scan_message(800_002)).get(timeout=30)
    missing = send(scan_message(424_242)).get(timeout=30)
    invalid = send(scan_message("12ab")).get(timeout=30)

    assert removed["outcome"] == "removed" and removed["descricao"] == "Produto 800001"
    assert again["outcome"] == "already_removed" and "já foi retirado" in again["reason"]
    assert other_store["outcome"] == "not_found" and "LOJA-001" in other_store["reason"]
    assert missing["outcome"] == "not_found"
    assert invalid["outcome"] == "invalid" and "dígitos" in invalid["reason"]
    with session_scope() as session:
        assert session.get(Produto, 800_001) is None
        assert session.get(Produto, 800_002) is not None  # another store's product stays
        row = session.scalar(select(ProdutoRemovido).where(ProdutoRemovido.id == 800_001))
        assert row is not None
        assert {c: getattr(row, c) for c in snapshot} == snapshot
        assert row.preco == Decimal("9.90")
        assert (row.responsavel_retirada, row.device_id, row.scan_id, row.store_key) == (
            RESPONSAVEL, "pi-caixa-1", removed["scan_id"], "LOJA-001")
        assert session.scalar(select(func.count()).select_from(BaixaLeitura)) == 5
    events = store_events("LOJA-001")
    assert [e["outcome"] for e in events] == ["removed", "already_removed", "not_found",
                                              "not_found", "invalid"]
    assert all(e["type"] == "baixa" for e in events)


@pytest.mark.mariadb
def test_the_same_scan_delivered_twice_returns_the_first_outcome(worker: Any) -> None:
    seed_products("LOJA-001", [800_010, 800_011])
    message = scan_message(800_010)
    first = send(message).get(timeout=30)
    second = send(message).get(timeout=30)
    assert second == first and first["outcome"] == "removed"  # never an error, never a 2nd removal
    racing = scan_message(800_011)
    results = [r.get(timeout=30) for r in [send(racing) for _ in range(4)]]  # concurrent copies
    assert all(r == results[0] for r in results) and results[0]["outcome"] == "removed"
    assert removals_by_product([800_010, 800_011]) == {800_010: 1, 800_011: 1}
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(BaixaLeitura)) == 2
    assert len(store_events("LOJA-001")) == 2  # a redelivery publishes nothing new


@pytest.mark.mariadb
def test_two_agents_scan_the_same_product_at_once(worker: Any) -> None:
    ids = seed_products("LOJA-001", range(800_100, 800_120))
    pending = []
    for pid in ids:
        pending += [send(scan_message(pid, device_id="pi-a")), send(scan_message(pid, device_id="pi-b"))]
    results = [p.get(timeout=60) for p in pending]
    for pid in ids:
        mine = sorted(r["outcome"] for r in results if r["product_id"] == str(pid))
        assert mine == ["already_removed", "removed"]
    assert set(removals_by_product(ids).values()) == {1}


@pytest.mark.mariadb
def test_simultaneous_transactions_on_one_product_remove_it_once(db: str) -> None:
    # Eight transactions released at the same instant race for one row: the row lock
    # (FOR UPDATE on MariaDB, BEGIN IMMEDIATE on SQLite) lets exactly one remove it.
    seed_products("LOJA-001", [800_200])
    barrier = threading.Barrier(8)
    results: list[dict[str, Any]] = []

    def scan(n: int) -> None:
        barrier.wait()
        results.append(registrar_baixa(**scan_message(800_200, device_id=f"pi-{n}")))

    threads = [threading.Thread(target=scan, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(r["outcome"] for r in results) == ["already_removed"] * 7 + ["removed"]
    assert removals_by_product([800_200]) == {800_200: 1}


GARBAGE: list[dict[str, Any]] = [
    {"product_id": "1' OR '1'='1"},
    {"product_id": "1; DELETE FROM tb_produto; --"},
    {"product_id": "9" * 10_240},
    {"product_id": ""},
    {"product_id": None},
    {"product_id": -800_300},
    {"product_id": 1.5},
    {"product_id": True},
    {"product_id": "１２３"},
    {"product_id": {"id": 800_300}},
    {"scan_id": "not-a-uuid"},
    {"scan_id": None},
    {"store_key": None},
    {"store_key": "L" * 200},
    {"scanned_at": "yesterday"},
    {"device_id": ["pi"]},
]


@pytest.mark.mariadb
def test_garbage_messages_are_recorded_invalid_and_change_nothing(worker: Any) -> None:
    seed_products("LOJA-001", [800_300])
    results = []
    for change in GARBAGE:
        message = {**scan_message(800_300), **change}
        results.append(send(message).get(timeout=30))
    results.append(celery_app.send_task("baixa.registrar", args=["x"],
                                        kwargs={"unexpected": 1}).get(timeout=30))
    assert [r["outcome"] for r in results] == ["invalid"] * len(results)
    assert all(r["reason"] for r in results)
    with session_scope() as session:
        assert session.get(Produto, 800_300) is not None
        assert session.scalar(select(func.count()).select_from(ProdutoRemovido)) == 0
    # the worker is still fine
    assert send(scan_message(800_300)).get(timeout=30)["outcome"] == "removed"
