"""Late rows arrive, and nothing arrives twice: a sale loaded after a run for a day already
sent, and a row committed after a run with an equal or older DTAALTERACAO, are sent by the
next incremental run (the overlap window); the rows the overlap reads again unchanged are
not sent (the sent-row digests), and the stand-in, deduplicating as an idempotent receiver,
counts no duplicate."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, update

from core.db import session_scope
from core.settings import reset_settings
from core.sync.consinco.models import ConsincoProduto, ConsincoVenda
from core.sync.consinco.queries import FULL, INCREMENTAL
from core.sync.engine import idempotency_key, sync_slice
from core.sync.sent import delivered
from core.sync.trigger import trigger
from standins.plusoft import PlusoftStandIn
from tests.sync.support import delivered_keys, load_source, wait_for_job


def late_sale(day: date, cupom: int) -> dict[str, Any]:
    return {"IDPESSOA": None, "IDFILIAL": 1, "IDCUPOM": cupom, "IDPRODUTO": 1001, "DATVENDA": day,
            "NUMQTDVENDIDA": Decimal(2), "VLRPRECOVENDAUNITARIO": Decimal("9.90"),
            "VLRPRECOPDVUNITARIO": Decimal("9.90"), "VLRDESCONTOUNITARIO": Decimal(0),
            "VLRMARGEMPDV": Decimal("2.18"), "TXTCANALVENDAS": "LOJA FÍSICA",
            "TXTTIPOVENDA": "VENDA", "IDFORMAPAGTO": 4, "TXTFORMAPAGTO": "PIX"}


def late_produto(produto: int, changed_at: datetime) -> dict[str, Any]:
    return {"IDPRODUTO": produto, "TXTDESCRICAO": f"Produto tardio {produto}", "TXTSTATUS": "A",
            "DTAALTERACAO": changed_at}


def assert_received_once(standin: PlusoftStandIn, entidade: str, rows: int) -> None:
    """Plusoft holds `rows` distinct records of the entity and never got one twice."""
    state = standin.state()
    assert state["distintas"].get(entidade, 0) == rows
    assert state["linhas_duplicadas"].get(entidade, 0) == 0 and state["duplicados"] == 0
    keys = delivered_keys(standin, entidade)
    assert len(keys) == len(set(keys)) == rows


@pytest.mark.mariadb
def test_a_sale_loaded_late_for_a_day_already_sent_arrives_with_the_next_run(
        worker: Any, standin: PlusoftStandIn) -> None:
    # A store that was offline sends yesterday's receipt after last night's run: its day is
    # older than the run's watermark. Through the real worker, as Beat would run it.
    counts = load_source(vendas=1_200, produtos=0, clientes=0)
    first = wait_for_job(trigger(["vendas"], INCREMENTAL, triggered_by="teste").job_id)
    assert first["result"]["entidades"]["vendas"]["linhas_enviadas"] == counts["vendas"]
    sent_until = date.fromisoformat(standin.records["vendas"][-1]["DATVENDA"])
    with session_scope() as session:
        session.execute(insert(ConsincoVenda), [late_sale(sent_until - timedelta(days=1), 900_001),
                                                late_sale(sent_until, 900_002)])
    requests = standin.state()["requisicoes"]

    second = wait_for_job(trigger(["vendas"], INCREMENTAL, triggered_by="teste").job_id)
    run = second["result"]["entidades"]["vendas"]
    assert run["linhas_enviadas"] == 2 and run["linhas_rejeitadas"] == 0
    assert {r["IDCUPOM"] for r in standin.records["vendas"][-2:]} == {900_001, 900_002}
    # the overlap's other rows were read again but not sent: one POST carried the two
    assert standin.state()["requisicoes"] - requests == 1
    assert_received_once(standin, "vendas", counts["vendas"] + 2)


@pytest.mark.mariadb
def test_a_row_committed_late_with_an_equal_stamp_arrives_even_without_overlap(
        db: str, standin: PlusoftStandIn, sync_env: Any) -> None:
    # A long transaction stamps a product at the very second the last run read as its
    # MAX(DTAALTERACAO), and commits after that run. The lower bound is inclusive.
    sync_env["STOCKFLOW_PLUSOFT_OVERLAP_MINUTES"] = "0"
    reset_settings()
    load_source(vendas=0, produtos=400, clientes=0)
    first = sync_slice("produtos", INCREMENTAL, triggered_by="teste")
    stamp = datetime.fromisoformat(first.run["marca_ate"])
    with session_scope() as session:
        session.execute(insert(ConsincoProduto), [late_produto(9_000_001, stamp)])

    second = sync_slice("produtos", INCREMENTAL, triggered_by="teste")
    assert second.run["marca_de"] == first.run["marca_ate"]
    assert second.run["linhas_enviadas"] == 1
    assert standin.records["produtos"][-1]["IDPRODUTO"] == 9_000_001
    assert_received_once(standin, "produtos", 401)


@pytest.mark.mariadb
def test_rows_committed_late_with_an_older_stamp_arrive_and_unchanged_ones_are_not_resent(
        db: str, standin: PlusoftStandIn) -> None:
    load_source(vendas=0, produtos=400, clientes=0)
    first = sync_slice("produtos", INCREMENTAL, triggered_by="teste")
    stamp = datetime.fromisoformat(first.run["marca_ate"])
    recent = [r["IDPRODUTO"] for r in standin.records["produtos"]  # changed in the last 20 h
              if datetime.fromisoformat(r["DATALTERACAO"][:19]) > stamp - timedelta(hours=20)]
    with session_scope() as session:
        # new, stamped 2 h before the last watermark (inside the default 24 h overlap)
        session.execute(insert(ConsincoProduto),
                        [late_produto(9_000_002, stamp - timedelta(hours=2))])
        # changed in a transaction that kept its old stamp (inside the overlap)
        session.execute(update(ConsincoProduto).where(ConsincoProduto.IDPRODUTO == recent[0])
                        .values(TXTDESCRICAO="Descrição corrigida"))

    second = sync_slice("produtos", INCREMENTAL, triggered_by="teste")
    assert second.run["linhas_enviadas"] == 2
    assert second.run["linhas_inalteradas"] == second.run["linhas_lidas"] - 2 >= len(recent) - 1
    assert [r["IDPRODUTO"] for r in standin.records["produtos"][-2:]] == [recent[0], 9_000_002]
    requests = standin.state()["requisicoes"]

    third = sync_slice("produtos", INCREMENTAL, triggered_by="teste")
    assert third.run["linhas_lidas"] >= len(recent) and third.run["linhas_enviadas"] == 0
    full = sync_slice("produtos", FULL, triggered_by="teste")
    assert full.run["linhas_lidas"] == 401 and full.run["linhas_enviadas"] == 0
    assert standin.state()["requisicoes"] == requests  # nothing was POSTed at all
    state = standin.state()
    assert state["distintas"] == {"produtos": 401}
    assert state["linhas_duplicadas"] == {} and state["duplicados"] == 0
    assert standin.rows["produtos"] == 402  # 400 + the late one + the changed one


def test_a_batch_whose_rows_changed_since_a_lost_answer_gets_a_new_idempotency_key() -> None:
    # After a crash the same batch is read again: unchanged, it carries the same key (Plusoft
    # drops it); a row changed meanwhile makes it new data Plusoft must not drop.
    rows = [("[1001]", "aa11"), ("[1002]", "bb22")]
    first = idempotency_key("produtos", "run-1", [1001], [1002], rows)
    assert idempotency_key("produtos", "run-1", [1001], [1002], list(rows)) == first
    assert idempotency_key("produtos", "run-1", [1001], [1002],
                           [("[1001]", "aa11"), ("[1002]", "cc33")]) != first
    assert first.startswith("produtos:run-1:1001..1002:")


def test_rows_plusoft_refused_are_not_counted_as_stored() -> None:
    rows = [("[1]", "d1"), ("[2]", "d2"), ("[3]", "d3")]
    named = delivered(rows, [{"indice": 1, "motivo": "EAN inválido"}])
    assert named.sent == 2 and named.accepted == [("[1]", "d1"), ("[3]", "d3")]
    assert [(r.chave, r.motivo) for r in named.rejected] == [("[2]", "Plusoft: EAN inválido")]
    # Without saying which row, no row counts as stored: the next run compares them again.
    unnamed = delivered(rows, [{"indice": 7, "motivo": "?"}, "recusado"])
    assert unnamed.sent == 1 and unnamed.accepted == []
    assert [r.chave for r in unnamed.rejected] == [None, None]
