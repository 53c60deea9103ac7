"""Sync fixtures: a Plusoft stand-in with fast timeouts, and a demo Consinco source."""
from __future__ import annotations

import os
import random
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from core.consinco import demo
from core.consinco.models import Cliente, ConsincoBase, Filial, Produto, Venda
from core.db import session_scope
from core.plusoft.standin import PlusoftStandIn
from core.settings import reset_settings

# Small timeouts and waits so injected faults cost milliseconds, batches of 500 rows.
FAST_SYNC_ENV = {
    "STOCKFLOW_PLUSOFT_READ_TIMEOUT_S": "0.5",
    "STOCKFLOW_PLUSOFT_CONNECT_TIMEOUT_S": "1",
    "STOCKFLOW_PLUSOFT_RETRY_MAX_S": "0.1",
    "STOCKFLOW_PLUSOFT_MAX_ATTEMPTS": "6",
    "STOCKFLOW_PLUSOFT_BATCH_SIZE": "500",
}


@pytest.fixture
def sync_env() -> Iterator[dict[str, str]]:
    """Set environment variables for this test (settings re-read), restored afterwards."""
    saved = dict(os.environ)
    os.environ.update(FAST_SYNC_ENV)
    reset_settings()
    yield os.environ  # type: ignore[misc]
    os.environ.clear()
    os.environ.update(saved)
    reset_settings()


@pytest.fixture
def standin(sync_env: Any) -> Iterator[PlusoftStandIn]:
    """A Plusoft stand-in on a free port; STOCKFLOW_PLUSOFT_BASE_URL points at it."""
    server = PlusoftStandIn().start()
    os.environ["STOCKFLOW_PLUSOFT_BASE_URL"] = server.url
    reset_settings()
    yield server
    server.stop()


def load_source(vendas: int = 2_000, produtos: int = 300, clientes: int = 200) -> dict[str, int]:
    """Empty the NAGV_PLUSOFT_* tables and fill them with demo rows; return rows per entity."""
    rng = random.Random(11)
    now = datetime.now().replace(microsecond=0)
    with session_scope() as session:
        for table in reversed(ConsincoBase.metadata.sorted_tables):
            session.execute(table.delete())
        for model, rows in ((Filial, list(demo.filiais(rng, now))),
                            (Produto, list(demo.produtos(rng, now, produtos))),
                            (Cliente, list(demo.clientes(rng, now, clientes))),
                            (Venda, list(demo.vendas(rng, date.today(), vendas)))):
            if rows:
                session.execute(insert(model), rows)
        return {name: int(session.scalar(select(func.count()).select_from(model)) or 0)
                for name, model in (("filiais", Filial), ("produtos", Produto),
                                    ("clientes", Cliente), ("vendas", Venda))}


