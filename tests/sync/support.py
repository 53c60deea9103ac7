"""Helpers of the sync tests: a demo Consinco source, waiting on a sync job, what Plusoft got."""
from __future__ import annotations

import random
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, insert, select

from core import jobs
from core.db import session_scope
from core.sync.consinco import demo
from core.sync.consinco.models import (
    ConsincoBase,
    ConsincoCliente,
    ConsincoFilial,
    ConsincoProduto,
    ConsincoVenda,
)
from core.sync.mapeamento import MAPEAMENTOS
from standins.plusoft import PlusoftStandIn
from tests.support.waiting import wait_until


def load_source(vendas: int = 2_000, produtos: int = 300, clientes: int = 200) -> dict[str, int]:
    """Empty the NAGV_PLUSOFT_* tables and fill them with demo rows; return rows per entity."""
    rng = random.Random(11)
    now = datetime.now().replace(microsecond=0)
    with session_scope() as session:
        for table in reversed(ConsincoBase.metadata.sorted_tables):
            session.execute(table.delete())
        for model, rows in ((ConsincoFilial, list(demo.filiais(rng, now))),
                            (ConsincoProduto, list(demo.produtos(rng, now, produtos))),
                            (ConsincoCliente, list(demo.clientes(rng, now, clientes))),
                            (ConsincoVenda, list(demo.vendas(rng, date.today(), vendas)))):
            if rows:
                session.execute(insert(model), rows)
        return {name: int(session.scalar(select(func.count()).select_from(model)) or 0)
                for name, model in (("filiais", ConsincoFilial), ("produtos", ConsincoProduto),
                                    ("clientes", ConsincoCliente), ("vendas", ConsincoVenda))}


def wait_for_job(job_id: str, wanted: str = "finished", timeout_s: float = 60) -> dict[str, Any]:
    """Wait until the job's status is `wanted` and return it; a failure not wanted fails at once."""

    def reached() -> dict[str, Any] | None:
        status = jobs.get_status(job_id)
        assert status is not None
        if status["status"] == "failed" and wanted != "failed":
            raise AssertionError(f"job failed: {status}")
        return status if status["status"] == wanted else None

    return wait_until(reached, timeout_s, f"job {job_id} {wanted}")


def delivered_keys(standin: PlusoftStandIn, entidade: str) -> list[tuple[Any, ...]]:
    """The key of every record of `entidade` the stand-in received, in arrival order."""
    fields = MAPEAMENTOS[entidade].chave  # the fields naming a record at Plusoft
    return [tuple(record[f] for f in fields) for record in standin.records.get(entidade, [])]
