"""The operations overview: its figures, who sees which block, and the page live in Chromium."""
from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from typing import Any

import pytest

from core import dead_letters, heartbeats, overview
from core.celery_app import QUEUES
from core.db import session_scope
from core.models import Comprovante, DeadLetter, Job, SyncRun
from core.models.types import utcnow
from core.redis_client import get_redis
from core.settings import get_settings
from tasks.maintenance import publish_overview
from tests.support.waiting import wait_until
from tests.support.web import login
from tests.support.workers import spawn_worker, stop_worker


@pytest.mark.mariadb
def test_figures_from_the_tables_and_the_sampled_queues(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # the brokers' own answers are tested in test_queue_depths.py (a worker of the session
    # may be consuming the session's queues here)
    monkeypatch.setattr(overview, "queue_depths", lambda: dict.fromkeys(QUEUES, 0) | {"sync": 3})
    now = utcnow()
    with session_scope() as session:
        for minutes_ago in (1, 2, 90):
            session.add(Job(id=f"job-{minutes_ago}", kind="teste", status="succeeded",
                            ended_at=now - timedelta(minutes=minutes_ago)))
    dead_letters.record("health.report", [], {}, "InvalidReport: x", reference="pi-1")
    block = overview.operations_block(now)
    assert {queue["nome"]: queue["profundidade"] for queue in block["filas"]}["sync"] == 3
    assert block["tarefas_por_minuto"] == 0.4  # 2 jobs ended in the last 5 minutes
    assert sum(point["valor"] for point in block["graficos"]["tarefas"]) == 3
    assert block["falhas_por_area"] == [{"area": "health", "abertas": 1}]
    assert block["grafico_falhas"][-1]["valor"] == 1
    # the queue depth was sampled once for the chart (at most one sample a minute)
    assert block["graficos"]["profundidade"][-1]["valor"] == 3
    assert not overview.sample_queue_depths({"sync": 9})
    assert get_redis().zcard(overview.DEPTH_SAMPLES_KEY) == 1
    assert overview.receipts_block()["pendentes"] == 0
    assert overview.sync_block()["status"] == "nunca"
    with session_scope() as session:
        for n, revisao in enumerate(("pendente", "pendente", "confirmado", None)):
            session.add(Comprovante(nome_original=f"{n}.png", nome_armazenado=f"{n}.png", sha256=str(n) * 64,
                                    tamanho=1, mime="image/png", revisao=revisao))
        # the nightly runs: produtos failed tonight, clientes finished; last night's produtos
        # finished 26 h ago, so the data's lag is 26 h
        for entidade, status, started_h, finished_h, by in (
                ("produtos", "finished", 27, 26, "agendador"), ("produtos", "failed", 3, None, "agendador"),
                ("clientes", "finished", 3, 2, "agendador"), ("clientes", "finished", 1, 0.5, "ana")):
            session.add(SyncRun(id=f"{entidade}-{started_h}", entidade=entidade, mode="incremental",
                                status=status, triggered_by=by, started_at=now - timedelta(hours=started_h),
                                finished_at=now - timedelta(hours=finished_h) if finished_h else None))
    assert overview.receipts_block()["pendentes"] == 2
    nightly = overview.sync_block(now)
    assert nightly["status"] == "falhou"
    assert {run["entidade"]: run["status"] for run in nightly["entidades"]} == {
        "produtos": "failed", "clientes": "finished"}
    assert nightly["atraso_s"] == 26 * 3600
    published = overview.publish_all()
    assert set(published) == set(overview.BLOCKS) and all(published.values())


def test_each_block_only_for_those_who_may_open_its_page(app: Any, users: dict[str, Any]) -> None:
    admin = app.test_client()
    login(admin, "admin", "admin-password")
    html = admin.get("/").get_data(as_text=True)
    assert all(f'id="block-{block}"' in html for block in overview.BLOCKS)
    staff = app.test_client()
    login(staff, "ana", "ana-password")  # store staff: baixas only
    html = staff.get("/").get_data(as_text=True)
    assert 'id="block-baixas"' in html and 'id="block-operacao"' not in html
    assert 'id="block-comprovantes"' not in html
    assert staff.get("/stream?channel=overview:operacao").status_code == 403
    assert staff.get("/stream?channel=overview:nada").status_code == 403


def test_the_overview_updates_live(page: Any, worker: Any) -> None:
    page.goto("/")
    page.wait_for_selector("#overview[data-live='1']")
    falhas = page.locator("#fig-falhas .value")
    assert falhas.text_content() == "0"
    assert page.locator("#queues tbody tr[data-queue]").count() == 6
    assert page.locator(".chart svg").count() == 4
    # a new dead letter is on the page without a reload, linked to its area's list
    dead_letters.record("sync.enviar", [], {}, "PlusoftDown: 503", reference="r-1")
    page.wait_for_function("() => document.querySelector('#fig-falhas .value').textContent === '1'")
    assert page.get_attribute("#dead-letters-by-area tr[data-area='sync'] a", "href") == "/falhas?area=sync"
    # a worker last heard of 42 s ago: alive when published, stopped on the page 3 s later
    # without any publish (the page judges the heartbeat's age itself)
    get_redis().hset(heartbeats.WORKERS_KEY, "silent@host", json.dumps(
        {"queues": ["sync"], "pid": 1, "at": time.time() - 42, "stopped": False}))
    heartbeats.publish_workers()
    page.wait_for_selector("#workers tr[data-worker='silent@host']:not(.stopped)")
    # a worker that starts, then stops, shows so at once
    name = f"overview-{os.getpid()}@localhost"
    process = spawn_worker("comprovantes", concurrency=1, name=name, pool="threads")
    try:
        page.wait_for_selector(f"#workers tr[data-worker='{name}']:not(.stopped)", timeout=15_000)
    finally:
        stop_worker(process)
    page.wait_for_selector(f"#workers tr.stopped[data-worker='{name}']", timeout=15_000)
    assert page.text_content(f"#workers tr[data-worker='{name}'] td") == f"{name} (encerrado)"
    page.wait_for_selector("#workers tr.stopped[data-worker='silent@host']", timeout=10_000)
    assert page.text_content("#workers tr[data-worker='silent@host'] td") == "silent@host (parado)"
    beats = {beat.hostname: beat for beat in heartbeats.workers()}
    assert not beats[name].alive and beats[name].queues == ["comprovantes"]
    # the in-process test worker (threads pool) beats too, with every queue (the session's
    # worker starts before this test's database empties Redis: its next beat is due within
    # STOCKFLOW_HEARTBEAT_INTERVAL_S)
    own = wait_until(lambda: next((beat for beat in heartbeats.workers()
                                   if beat.hostname == worker.hostname), None),
                     get_settings().heartbeat_interval_s + 5, "the session worker's heartbeat")
    assert own.alive and set(own.queues) == set(QUEUES)
    # what changes without a publish of its own reaches the page with Beat's periodic task
    with session_scope() as session:
        session.add(DeadLetter(task_name="ruptura.analisar_lote", args=[], kwargs={}, error="x"))
    assert all(publish_overview.delay().get(timeout=30).values())
    page.wait_for_function("() => document.querySelector('#fig-falhas .value').textContent === '2'")
