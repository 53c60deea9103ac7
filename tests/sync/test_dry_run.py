"""The sync dry run: through the real worker from the API, per entity, the rows a run would send
(with samples), those unchanged since last sent, those the mapping refuses; the same window
and digests a run uses; nothing posted to the Plusoft stand-in and no watermark, checkpoint,
digest, run or rejection changed."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from core.db import session_scope
from core.models.sync import SyncCheckpoint, SyncRejection, SyncRun, SyncSentRow
from core.settings import reset_settings
from core.sync import dry_run, runs
from core.sync.consinco.models import ConsincoProduto
from core.sync.consinco.queries import FULL, INCREMENTAL
from core.sync.engine import sync_slice
from core.sync.plusoft import PlusoftUnavailable
from standins.plusoft import PlusoftStandIn
from tests.sync.support import load_source, wait_for_job


def bookkeeping() -> dict[str, Any]:
    """Everything a run writes: checkpoints (watermark, key, open run), digests, runs, rejections."""
    with session_scope() as session:
        checkpoints = sorted((c.entidade, c.watermark, repr(c.last_key), c.run_id)
                             for c in session.scalars(select(SyncCheckpoint)))
        counts = {model.__name__: int(session.scalar(select(func.count()).select_from(model)) or 0)
                  for model in (SyncSentRow, SyncRun, SyncRejection)}
        digests = sorted(session.execute(select(SyncSentRow.chave, SyncSentRow.digest)
                                         .where(SyncSentRow.entidade == "produtos")).all())
    return {"checkpoints": checkpoints, "counts": counts, "digests": digests}


@pytest.mark.mariadb
def test_dry_run_counts_and_samples_what_a_run_would_send_and_posts_nothing(
        client: Any, worker: Any, standin: PlusoftStandIn) -> None:
    load_source(vendas=1_200, produtos=300, clientes=20)
    first = sync_slice("produtos", INCREMENTAL, triggered_by="teste")
    assert first.run["linhas_enviadas"] == 300
    later = datetime.now().replace(microsecond=0) + timedelta(minutes=5)
    with session_scope() as session:
        session.execute(update(ConsincoProduto).where(ConsincoProduto.IDPRODUTO.in_([1001, 1200, 1250]))
                        .values(DTAALTERACAO=later, TXTDESCRICAO="Feijão novo"))
        session.execute(update(ConsincoProduto).where(ConsincoProduto.IDPRODUTO == 1100)
                        .values(DTAALTERACAO=later, TXTSTATUS="X"))
    before, posted = bookkeeping(), standin.state()["lotes"]

    answer = client.post("/api/plusoft/simular", json={"modo": "incremental", "amostras": 2})
    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json()["channel"] == f"job:{answer.get_json()['job_id']}"
    result = wait_for_job(answer.get_json()["job_id"])["result"]["entidades"]
    assert list(result) == ["filiais", "produtos", "clientes", "vendas"]

    produtos = result["produtos"]
    # the window a run would read: the overlap (a day) before the last run's watermark
    overlap_from = datetime.fromisoformat(first.run["marca_ate"]) - timedelta(days=1)
    assert (produtos["modo"], produtos["marca_de"]) == (INCREMENTAL, overlap_from.isoformat())
    assert produtos["a_enviar"] == 3 and produtos["rejeitadas"] == 1 and produtos["lotes"] == 1
    assert produtos["sem_mudanca"] == produtos["lidas"] - 4 > 0
    assert [row["IDPRODUTO"] for row in produtos["amostras"]] == [1001, 1200]
    assert produtos["amostras"][0]["TXTDESCRICAO"] == "Feijão novo"
    assert produtos["rejeicoes"] == [{"chave": "[1100]",
                                      "motivo": "FLGATIVO (coluna TXTSTATUS): status 'X' não é A nem I"}]
    # never synced: everything up to yesterday's sales goes, in batches of 500
    vendas = result["vendas"]
    assert (vendas["lidas"], vendas["a_enviar"], vendas["sem_mudanca"], vendas["lotes"]) == (1_200, 1_200, 0, 3)
    assert result["filiais"]["a_enviar"] == 25 and len(result["clientes"]["amostras"]) == 2  # admin

    assert standin.state()["lotes"] == posted and standin.rows["vendas"] == 0
    assert bookkeeping() == before

    assert client.post("/api/plusoft/produtos/simular", json={"amostras": 99}).status_code == 422
    assert client.post("/api/plusoft/produtos/simular", json={"modo": "tudo"}).status_code == 422
    assert client.post("/api/plusoft/nada/simular").status_code == 404


def test_dry_run_of_an_open_run_continues_its_window_in_slices(db: str, standin: PlusoftStandIn,
                                                               sync_env: Any) -> None:
    sync_env["STOCKFLOW_PLUSOFT_MAX_ATTEMPTS"] = "1"
    reset_settings()
    load_source(vendas=1_200, produtos=0, clientes=30)
    standin.inject("ok", "500")
    with pytest.raises(PlusoftUnavailable):
        sync_slice("vendas", FULL, triggered_by="teste")
    failed = runs.latest_by_entity(["vendas"])["vendas"]
    assert failed is not None and failed["status"] == "failed" and failed["linhas_enviadas"] == 500
    before = bookkeeping()

    state = dry_run.start("vendas", INCREMENTAL)  # a run now would resume the failed full run
    assert (state["retomaria"], state["modo"], state["total"]) == (failed["id"], FULL, 700)
    slices = 0
    while not state["concluida"]:
        state = dry_run.simulate_slice(state, slice_s=0)  # one batch per slice: hand-overs
        slices += 1
    assert (state["a_enviar"], state["lotes"], slices) == (700, 2, 2)
    assert dry_run.progress_pct(state) == 100

    # a full dry run replaces nothing either; clientes' samples are left out for whoever may
    # not read personal data
    clientes = dry_run.simulate_slice(dry_run.start("clientes", FULL), with_samples=False)
    assert clientes["a_enviar"] == 30 and clientes["amostras"] == [] and clientes["amostras_omitidas"]
    assert bookkeeping() == before and standin.state()["lotes"] == 1
