"""The SQL the sync sends to Oracle, compiled by SQLAlchemy's Oracle dialect (paging with
OFFSET/FETCH, key-ordered batches without row-value comparisons Oracle lacks), the Oracle
engine's thin mode and arraysize, and the keyset batches on the real databases."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

import oracledb
import pytest
from sqlalchemy import select
from sqlalchemy.dialects import oracle

from core.settings import Settings
from core.sync.consinco.entities import ENTITIES
from core.sync.consinco.queries import (
    FULL,
    INCREMENTAL,
    batch_statement,
    keys_in,
    overlap_start,
    page_statement,
    read_batch,
    watermark_filters,
)
from core.sync.consinco.source import build_source_engine, source_session
from tests.sync.support import load_source


def oracle_sql(statement: Any) -> str:
    return str(statement.compile(dialect=oracle.dialect(),
                                 compile_kwargs={"literal_binds": True})).replace("\n", " ")


def test_api_page_compiles_to_offset_fetch_in_key_order() -> None:
    sql = oracle_sql(page_statement(ENTITIES["produtos"], 100, 50))
    assert 'FROM "NAGV_PLUSOFT_PRODUTOS"' in sql
    assert sql.endswith('ORDER BY "NAGV_PLUSOFT_PRODUTOS"."IDPRODUTO"  OFFSET 100 ROWS  FETCH FIRST 50 ROWS ONLY')


def test_sync_batch_compiles_to_keyset_fetch_first_without_row_values() -> None:
    vendas = ENTITIES["vendas"]
    filters = watermark_filters(vendas, INCREMENTAL, date(2026, 11, 1), date(2026, 11, 20))
    sql = oracle_sql(batch_statement(vendas, [date(2026, 11, 2), 3, 998, 1001], filters, 1000))
    t = '"NAGV_PLUSOFT_VENDAS".'
    # key > last key, spelled so Oracle can range-scan the key index (no (a, b) > (x, y))
    assert (f"WHERE {t}\"DATVENDA\" >= TO_DATE('2026-11-02', 'YYYY-MM-DD') AND "
            f"({t}\"DATVENDA\" > TO_DATE('2026-11-02', 'YYYY-MM-DD') OR {t}\"IDFILIAL\" >= 3 AND "
            f"({t}\"IDFILIAL\" > 3 OR {t}\"IDCUPOM\" >= 998 AND ({t}\"IDCUPOM\" > 998 OR "
            f"{t}\"IDPRODUTO\" > 1001)))") in sql
    assert "(" + t + '"DATVENDA", ' not in sql
    # the window: [since, until], fixed when the run started (since inclusive: a row stamped
    # at the last watermark may have been committed after the last run read it)
    assert (f"{t}\"DATVENDA\" <= TO_DATE('2026-11-20', 'YYYY-MM-DD') AND "
            f"{t}\"DATVENDA\" >= TO_DATE('2026-11-01', 'YYYY-MM-DD')") in sql
    assert sql.endswith(f'ORDER BY {t}"DATVENDA", {t}"IDFILIAL", {t}"IDCUPOM", {t}"IDPRODUTO"  '
                        "FETCH FIRST 1000 ROWS ONLY")


def test_replay_reads_rows_by_key_with_a_row_value_in_list() -> None:
    vendas, produtos = ENTITIES["vendas"], ENTITIES["produtos"]
    sql = oracle_sql(select(vendas.table).where(keys_in(vendas, [
        [date(2026, 11, 2), 3, 998, 1001], [date(2026, 11, 3), 4, 7, 1002]])))
    t = '"NAGV_PLUSOFT_VENDAS".'
    assert (f'WHERE ({t}"DATVENDA", {t}"IDFILIAL", {t}"IDCUPOM", {t}"IDPRODUTO") IN '
            "((TO_DATE('2026-11-02', 'YYYY-MM-DD'), 3, 998, 1001), "
            "(TO_DATE('2026-11-03', 'YYYY-MM-DD'), 4, 7, 1002))") in sql
    sql = oracle_sql(select(produtos.table).where(keys_in(produtos, [[1001], [1002]])))
    assert 'WHERE "NAGV_PLUSOFT_PRODUTOS"."IDPRODUTO" IN (1001, 1002)' in sql


def test_incremental_window_starts_the_overlap_before_the_last_watermark() -> None:
    vendas, produtos = ENTITIES["vendas"], ENTITIES["produtos"]
    assert overlap_start(vendas, date(2026, 11, 20), 1440, 3) == date(2026, 11, 17)
    assert (overlap_start(produtos, datetime(2026, 11, 20, 8, 30), 90, 3)
            == datetime(2026, 11, 20, 7, 0))
    assert overlap_start(produtos, None, 90, 3) is None  # the first run reads everything


def test_full_run_window_keeps_rows_without_watermark() -> None:
    produtos = ENTITIES["produtos"]
    sql = oracle_sql(batch_statement(produtos, None, watermark_filters(
        produtos, FULL, None, datetime(2026, 11, 21, 23, 0)), 1000))
    assert ('WHERE "NAGV_PLUSOFT_PRODUTOS"."DTAALTERACAO" <= '
            "TO_DATE('2026-11-21 23:00:00', 'YYYY-MM-DD HH24:MI:SS') "
            'OR "NAGV_PLUSOFT_PRODUTOS"."DTAALTERACAO" IS NULL') in sql
    assert "FETCH FIRST 1000 ROWS ONLY" in sql


def test_oracle_source_engine_is_thin_mode_with_arraysize_and_schema() -> None:
    settings = Settings(consinco_url="oracle+oracledb://sync:secret@erp.example:1521/?service_name=CONSINCO",
                        consinco_schema="CONSINCO", consinco_arraysize=1000)
    engine = build_source_engine(settings)
    assert engine.dialect.name == "oracle" and engine.dialect.driver == "oracledb"
    # each network round trip of a batch carries 1000 rows
    assert engine.dialect.arraysize == 1000
    assert oracledb.is_thin_mode()  # no Instant Client was loaded
    assert engine.get_execution_options()["schema_translate_map"] == {None: "CONSINCO"}


@pytest.mark.mariadb
def test_keyset_batches_walk_every_row_once_in_key_order(db: str) -> None:
    # The composite key predicate must neither skip nor repeat rows across batch edges.
    load_source(vendas=1_234)
    vendas = ENTITIES["vendas"]
    with source_session() as session:
        everything = [tuple(r) for r in session.execute(
            select(vendas.table).order_by(*vendas.key_columns))]
        walked: list[tuple[Any, ...]] = []
        last_key = None
        while True:
            rows = read_batch(session, vendas, last_key, [], 100)
            if not rows:
                break
            walked += [tuple(r) for r in rows]
            last_key = [getattr(rows[-1], name) for name in vendas.key]
    assert len(everything) == 1_234
    assert walked == everything
