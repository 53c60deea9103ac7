"""The drift check before each run: a Consinco view whose column went missing, was renamed or
changed type stops the run before anything is read or sent, the run is recorded failed with
the reason in pt-BR (the API, the page and the job show it); the views as migrated pass on
SQLite and MariaDB, and Oracle's reflected types fall in the right families."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, MetaData, Numeric, String, Table, create_engine
from sqlalchemy.dialects import oracle

from core.settings import reset_settings
from core.sync import drift, runs
from core.sync.consinco.entities import ENTITIES, get_entity
from core.sync.consinco.models import ConsincoBase
from core.sync.consinco.queries import FULL
from core.sync.consinco.source import dispose_source_engine, source_engine
from core.sync.engine import sync_slice
from core.sync.trigger import trigger
from standins.plusoft import PlusoftStandIn
from tests.sync.support import wait_for_job

Change = Callable[[list[Column[Any]]], list[Column[Any]]]


def without(name: str) -> Change:
    return lambda columns: [c for c in columns if c.name != name]


def renamed(name: str, new: str) -> Change:
    return lambda columns: [Column(new, c.type) if c.name == name else c for c in columns]


def retyped(name: str, new_type: Any) -> Change:
    return lambda columns: [Column(name, new_type) if c.name == name else c for c in columns]


@pytest.fixture
def changed_source(tmp_path: Path, sync_env: Any) -> Iterator[Callable[[str, Change], None]]:
    """A Consinco source of its own (STOCKFLOW_CONSINCO_URL, a SQLite file) with the layouts of
    the models, one of them changed."""
    def build(table_name: str, change: Change) -> None:
        metadata = MetaData()
        for table in ConsincoBase.metadata.sorted_tables:
            columns = [Column(c.name, c.type, primary_key=c.primary_key) for c in table.columns]
            Table(table.name, metadata, *(change(columns) if table.name == table_name else columns))
        url = f"sqlite:///{tmp_path / 'consinco.sqlite3'}"
        engine = create_engine(url)
        metadata.create_all(engine)
        engine.dispose()
        sync_env["STOCKFLOW_CONSINCO_URL"] = url
        reset_settings()
        dispose_source_engine()

    yield build
    dispose_source_engine()


@pytest.mark.parametrize("change, reason", [
    (without("TXTDESCRICAO"),
     "coluna TXTDESCRICAO (campo TXTDESCRICAO) não existe mais na view"),
    (renamed("TXTDESCRICAO", "TXTDESCRICAOCOMPLETA"),
     "coluna TXTDESCRICAO (campo TXTDESCRICAO) não existe mais na view (renomeada? a view tem "
     "agora TXTDESCRICAOCOMPLETA)"),
    (retyped("NUMQTDEMBALAGEM", String(10)),
     "coluna NUMQTDEMBALAGEM (campo NUMQTDEMBALAGEM) mudou de tipo: esperado decimal, a view "
     "tem VARCHAR(10) (texto)"),
    (retyped("DTAALTERACAO", String(20)),
     "coluna DTAALTERACAO (campo DATALTERACAO) mudou de tipo: esperado data, a view tem "
     "VARCHAR(20) (texto)"),
])
def test_a_changed_view_stops_the_run_with_the_reason(
        db: str, standin: PlusoftStandIn, changed_source: Any, change: Change, reason: str) -> None:
    changed_source("NAGV_PLUSOFT_PRODUTOS", change)
    with pytest.raises(drift.SchemaDrift) as stopped:
        sync_slice("produtos", FULL, triggered_by="teste")
    assert reason in str(stopped.value)
    assert str(stopped.value).startswith("A view NAGV_PLUSOFT_PRODUTOS mudou e não corresponde ao "
                                         "mapeamento de produtos: ")
    assert standin.state()["lotes"] == 0 and standin.requests == 0

    run = runs.latest_by_entity(["produtos"])["produtos"]
    assert run is not None and run["status"] == "failed" and run["erro"] == str(stopped.value)
    assert run["linhas_lidas"] == 0
    # the other views still match: their runs go on
    assert sync_slice("filiais", FULL, triggered_by="teste").done


def test_through_the_worker_the_job_fails_with_the_reason_shown_on_the_page(
        client: Any, worker: Any, standin: PlusoftStandIn, changed_source: Any) -> None:
    from core.sync import locks

    changed_source("NAGV_PLUSOFT_VENDAS", without("VLRPRECOVENDAUNITARIO"))
    started = trigger(["vendas"], FULL, triggered_by="teste")
    job = wait_for_job(started.job_id, "failed")
    assert job["error"].startswith("A view NAGV_PLUSOFT_VENDAS mudou")
    assert "coluna VLRPRECOVENDAUNITARIO (campo VLRPRECOVENDAUNITARIO) não existe mais" in job["error"]
    assert locks.holder("vendas") is None and standin.requests == 0
    run = runs.latest_by_entity(["vendas"])["vendas"]
    assert run is not None and run["status"] == "failed" and run["erro"] == job["error"]
    listed = client.get("/api/plusoft/execucoes?entidade=vendas").get_json()["execucoes"]
    assert listed[0]["erro"] == job["error"]
    page = client.get("/sync").get_data(as_text=True)
    assert "coluna VLRPRECOVENDAUNITARIO (campo VLRPRECOVENDAUNITARIO) não existe mais" in page


def test_a_missing_view_is_a_reason_too(db: str, changed_source: Any) -> None:
    changed_source("NAGV_PLUSOFT_CLIENTES", lambda columns: columns)
    with source_engine().begin() as connection:
        connection.exec_driver_sql('DROP TABLE "NAGV_PLUSOFT_CLIENTES"')
        found = drift.problems(connection, get_entity("clientes"))
    assert [p.motivo for p in found] == ["a view NAGV_PLUSOFT_CLIENTES não existe na origem"]


@pytest.mark.mariadb
def test_the_views_as_migrated_match_on_every_database(db: str) -> None:
    with source_engine().connect() as connection:
        assert {name: drift.problems(connection, entity) for name, entity in ENTITIES.items()} == \
            dict.fromkeys(ENTITIES, [])


@pytest.mark.parametrize("reflected, family", [
    (oracle.NUMBER(19, 0), drift.INTEIRO),
    (oracle.NUMBER(15, 2), drift.DECIMAL),
    (oracle.NUMBER(), drift.NUMERO),       # a computed column: either kind of number
    (oracle.FLOAT(), drift.DECIMAL),
    (oracle.DATE(), drift.DATA),           # Oracle's DATE carries a time
    (oracle.TIMESTAMP(), drift.DATA),
    (oracle.VARCHAR2(100), drift.TEXTO),
    (oracle.NVARCHAR2(100), drift.TEXTO),
    (oracle.CLOB(), drift.TEXTO),
    (Numeric(12, 3), drift.DECIMAL),
])
def test_oracle_types_fall_in_their_family(reflected: Any, family: str) -> None:
    assert drift.family(reflected) == family


def test_families_accept_what_the_converters_read() -> None:
    assert drift.INTEIRO in drift.ACCEPTS[drift.DECIMAL] and drift.NUMERO in drift.ACCEPTS[drift.INTEIRO]
    assert drift.DECIMAL not in drift.ACCEPTS[drift.INTEIRO]  # int() would cut the decimals
    assert drift.ACCEPTS[drift.TEXTO] == {drift.TEXTO} and drift.ACCEPTS[drift.DATA] == {drift.DATA}
