"""A real sync to the Plusoft stand-in: through the real worker with 429s, 500s and timeouts
injected, every row arrives exactly once; a failed run resumes from its checkpoint without
resending accepted batches; incremental runs send only what changed; hand-overs between
time slices keep one job; rejected rows are counted and named."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from core import jobs
from core.db import session_scope
from core.enqueue import enqueue
from core.models import Job, SyncCheckpoint
from core.settings import reset_settings
from core.sync import locks, rejections, runs
from core.sync.consinco.entities import ENTITIES
from core.sync.consinco.models import ConsincoProduto
from core.sync.consinco.queries import FULL, INCREMENTAL
from core.sync.engine import sync_slice
from core.sync.plusoft import PlusoftUnavailable
from core.sync.trigger import trigger
from standins.plusoft import PlusoftStandIn
from tests.support.waiting import wait_until
from tests.sync.support import delivered_keys, load_source, wait_for_job


@pytest.mark.mariadb
def test_full_sync_through_faults_delivers_every_row_exactly_once(worker: Any, standin: PlusoftStandIn) -> None:
    # Must survive: 429 (Retry-After), 500/503, and two timeouts where Plusoft stored the
    # batch but the answer never came back. Every source row reaches Plusoft once.
    counts = load_source(vendas=3_000)
    standin.inject("429:0", "500", "timeout:1.2", "503:0", "500", "ok", "timeout:1.2", "429:0")

    started = trigger(list(ENTITIES), FULL, triggered_by="teste")
    assert started.created
    done = wait_for_job(started.job_id)

    assert standin.state()["falhas_pendentes"] == []
    assert dict(standin.rows) == counts
    for entidade, count in counts.items():
        keys = delivered_keys(standin, entidade)
        assert len(keys) == len(set(keys)) == count, entidade
    # the two timed-out batches were sent again with their Idempotency-Key and dropped
    assert standin.duplicates == 2
    assert set(done["result"]["entidades"]) == set(ENTITIES)
    for entidade, run in runs.latest_by_entity(list(ENTITIES)).items():
        assert run is not None and run["status"] == "finished"
        assert run["linhas_enviadas"] == run["linhas_total"] == counts[entidade]


@pytest.mark.mariadb
def test_failed_run_resumes_at_checkpoint_without_resending(db: str, standin: PlusoftStandIn,
                                                           sync_env: Any) -> None:
    # Must survive: Plusoft down after two accepted batches. The run fails at its checkpoint;
    # the next run is the same run, continues after batch 2 and never resends batches 1-2.
    sync_env["STOCKFLOW_PLUSOFT_MAX_ATTEMPTS"] = "2"
    reset_settings()
    load_source(vendas=2_000)  # 4 batches of 500
    standin.inject("ok", "ok", "500", "500")
    with pytest.raises(PlusoftUnavailable):
        sync_slice("vendas", FULL, triggered_by="teste")
    failed = runs.latest_by_entity(["vendas"])["vendas"]
    assert failed is not None and failed["status"] == "failed" and "500" in failed["erro"]
    assert failed["linhas_enviadas"] == 1_000 and failed["lotes"] == 2
    with session_scope() as session:
        checkpoint = session.get_one(SyncCheckpoint, "vendas")
        assert checkpoint.run_id == failed["id"] and checkpoint.last_key is not None
    assert standin.state()["lotes"] == 2

    resumed = sync_slice("vendas", INCREMENTAL, triggered_by="teste")  # resumes, whatever the mode
    assert resumed.done and resumed.run["id"] == failed["id"]
    assert resumed.run["status"] == "finished" and resumed.run["retomadas"] == 1
    assert resumed.run["modo"] == FULL and resumed.run["linhas_enviadas"] == 2_000
    keys = delivered_keys(standin, "vendas")
    assert len(keys) == len(set(keys)) == 2_000
    assert standin.state()["lotes"] == 4 and standin.duplicates == 0


@pytest.mark.mariadb
def test_incremental_run_sends_only_rows_changed_since_the_last_run(db: str, standin: PlusoftStandIn) -> None:
    load_source(vendas=0, produtos=700)
    first = sync_slice("produtos", INCREMENTAL, triggered_by="teste")
    assert first.run["linhas_enviadas"] == 700 and first.run["marca_de"] is None

    changed_at = datetime.now().replace(microsecond=0) + timedelta(minutes=5)
    with session_scope() as session:
        session.execute(update(ConsincoProduto).where(ConsincoProduto.IDPRODUTO.in_([1001, 1200, 1700]))
                        .values(DTAALTERACAO=changed_at, TXTDESCRICAO="Arroz novo"))
    second = sync_slice("produtos", INCREMENTAL, triggered_by="teste")
    # the window starts the overlap (24 h) before the last run's watermark
    overlap_from = datetime.fromisoformat(first.run["marca_ate"]) - timedelta(days=1)
    assert second.run["marca_de"] == overlap_from.isoformat()
    assert second.run["linhas_enviadas"] == 3
    assert second.run["linhas_inalteradas"] == second.run["linhas_lidas"] - 3
    assert [r["IDPRODUTO"] for r in standin.records["produtos"][-3:]] == [1001, 1200, 1700]

    # nothing changed: the overlap is read again, and nothing is sent
    nothing = sync_slice("produtos", INCREMENTAL, triggered_by="teste")
    assert nothing.run["linhas_lidas"] >= 3 and nothing.run["status"] == "finished"
    assert nothing.run["linhas_enviadas"] == 0
    # a full run reads every row but sends only what Plusoft does not have as it is
    everything = sync_slice("produtos", FULL, triggered_by="teste")
    assert everything.run["linhas_lidas"] == everything.run["linhas_inalteradas"] == 700
    assert everything.run["linhas_enviadas"] == 0
    assert standin.rows["produtos"] == 703
    assert standin.state()["distintas"] == {"produtos": 700}
    assert standin.state()["linhas_duplicadas"] == {} and standin.duplicates == 0


def test_time_slices_hand_over_within_one_job(worker: Any, standin: PlusoftStandIn, sync_env: Any) -> None:
    # Each task works one batch, then replaces itself from the checkpoint (visibility timeout).
    sync_env["STOCKFLOW_PLUSOFT_CHUNK_S"] = "0.001"
    reset_settings()
    counts = load_source(vendas=1_500, produtos=300, clientes=0)
    started = trigger(["produtos", "vendas"], FULL, triggered_by="teste")
    seen: list[int] = []

    def finished() -> dict[str, Any] | None:
        status = jobs.get_status(started.job_id)
        assert status is not None and status["status"] != "failed", status
        seen.append(status.get("progress", 0))
        return status if status["status"] == "finished" else None

    done = wait_until(finished, 60, "job finished")
    assert seen == sorted(seen), "progress went backwards: a slice restarted the job"
    assert done["result"]["entidades"]["vendas"]["lotes"] == 3
    assert done["result"]["entidades"]["produtos"]["lotes"] == 1
    assert standin.rows["vendas"] == counts["vendas"] and standin.duplicates == 0
    vendas = runs.latest_by_entity(["vendas"])["vendas"]
    assert vendas is not None and vendas["retomadas"] == 0


def test_rejected_rows_are_counted_and_named(db: str, standin: PlusoftStandIn) -> None:
    load_source(vendas=0, produtos=50)
    with session_scope() as session:
        session.execute(update(ConsincoProduto).where(ConsincoProduto.IDPRODUTO == 1010).values(TXTSTATUS="X"))
    standin.inject("rejeitar:2")
    result = sync_slice("produtos", FULL, triggered_by="teste")
    assert result.run["linhas_lidas"] == 50
    assert result.run["linhas_enviadas"] == 47 and result.run["linhas_rejeitadas"] == 3
    kept = rejections.page("produtos", rejections.PENDING, 1, 50)["rejeicoes"]
    reasons = {r["chave"]: (r["motivo"], r["origem"]) for r in kept}
    assert "não é A nem I" in reasons["[1010]"][0] and reasons["[1010]"][1] == "mapeamento"
    assert reasons["[1001]"] == reasons["[1002]"] == ("Plusoft: rejeição simulada", "plusoft")
    assert len(kept) == 3
    assert 1010 not in {r["IDPRODUTO"] for r in standin.records["produtos"]}


@pytest.mark.parametrize("failures, outcome, resumes", [(4, "finished", 2), (8, "failed", 3)])
def test_plusoft_down_the_task_tries_later_then_gives_up_visibly(
        worker: Any, standin: PlusoftStandIn, sync_env: Any, failures: int, outcome: str,
        resumes: int) -> None:
    # Must survive: Plusoft answering 500 to every attempt on batch 2. The task tries again
    # later (3 times, 2 attempts each). Back in time (4 failures): the same run finishes.
    # Down for good (8): the job fails, the run waits at its checkpoint with its error, the
    # lock is released, and the next trigger resumes the run.
    sync_env.update({"STOCKFLOW_PLUSOFT_MAX_ATTEMPTS": "2", "STOCKFLOW_PLUSOFT_RETRY_LATER_S": "0.1"})
    reset_settings()
    load_source(vendas=1_000)  # 2 batches
    standin.inject("ok", *["500"] * failures)
    started = trigger(["vendas"], FULL, triggered_by="teste")
    job = wait_for_job(started.job_id, outcome)
    run = runs.latest_by_entity(["vendas"])["vendas"]
    assert run is not None and run["status"] == outcome and run["retomadas"] == resumes
    assert standin.state()["falhas_pendentes"] == []
    if outcome == "failed":
        assert "Plusoft indisponível após 2 tentativas: HTTP 500" in job["error"]
        assert run["linhas_enviadas"] == 500 and "HTTP 500" in run["erro"]
        wait_until(lambda: locks.holder("vendas") is None)
        again = trigger(["vendas"], FULL, triggered_by="teste")
        assert again.created
        wait_for_job(again.job_id)
        run = runs.latest_by_entity(["vendas"])["vendas"]
        assert run is not None and run["status"] == "finished"
    assert run["linhas_enviadas"] == 1_000
    keys = delivered_keys(standin, "vendas")
    assert len(keys) == len(set(keys)) == 1_000


def test_nightly_entry_syncs_the_scheduled_entities_in_order(worker: Any, standin: PlusoftStandIn,
                                                            sync_env: Any) -> None:
    sync_env["STOCKFLOW_PLUSOFT_ENTITIES"] = "filiais,vendas"
    reset_settings()
    load_source(vendas=600, produtos=10, clientes=10)
    enqueue("sync.sincronizar_agendado")  # what Beat sends at 01:00

    def sync_job() -> str | None:
        with session_scope() as session:
            return session.scalar(select(Job.id).where(Job.kind == "sync"))

    done = wait_for_job(wait_until(sync_job, 30, "the nightly job"))
    assert list(done["result"]["entidades"]) == ["filiais", "vendas"]
    assert dict(standin.rows) == {"filiais": 25, "vendas": 600}
    assert [key.split(":")[0] for key in standin.batch_keys] == ["filiais", "vendas", "vendas"]
    for run in runs.latest_by_entity(["filiais", "vendas"]).values():
        assert run is not None and run["disparado_por"] == "agendador" and run["modo"] == INCREMENTAL
