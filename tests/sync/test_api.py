"""The API: source pages in a stable order with pt-BR 422s for bad parameters, triggers that
answer 202 with a job id, and a second trigger (even a concurrent one) that gets the running job."""
from __future__ import annotations

import re
import threading
from typing import Any

import pytest

from core import jobs
from core.settings import Settings
from core.sync import locks
from core.sync.consinco.entities import ENTITIES
from core.sync.trigger import SyncNotConfigured, Trigger, ensure_configured, trigger
from standins.plusoft import PlusoftStandIn
from tests.support.settings import PRODUCTION
from tests.support.waiting import wait_until
from tests.sync.support import load_source, wait_for_job


@pytest.mark.mariadb
def test_pages_are_stable_and_cover_the_view_in_key_order(client: Any) -> None:
    load_source(vendas=730)
    pages = []
    for skip in range(0, 800, 100):
        body = client.get(f"/api/consinco/vendas?pular={skip}&limite=100").get_json()
        assert body["pular"] == skip and body["limite"] == 100
        pages += body["registros"]
    assert len(pages) == 730
    keys = [(r["DATVENDA"], r["IDFILIAL"], r["IDCUPOM"], r["IDPRODUTO"]) for r in pages]
    assert keys == sorted(keys) and len(set(keys)) == 730
    again = client.get("/api/consinco/vendas?pular=300&limite=5").get_json()["registros"]
    assert again == pages[300:305]
    first = pages[0]
    assert set(first) == set(ENTITIES["vendas"].table.columns.keys())
    assert isinstance(first["VLRPRECOVENDAUNITARIO"], str) and len(first["DATVENDA"]) == 10


def test_defaults_and_the_500_row_ceiling(client: Any) -> None:
    load_source(vendas=0, produtos=600)
    body = client.get("/api/consinco/produtos").get_json()
    assert (body["pular"], body["limite"], body["quantidade"]) == (0, 100, 100)
    assert client.get("/api/consinco/produtos?limite=500").get_json()["quantidade"] == 500
    assert client.get("/api/consinco/filiais?pular=20").get_json()["quantidade"] == 5


@pytest.mark.parametrize("query, reason", [
    ("limite=501", "Parâmetro 'limite' deve ser no máximo 500."),
    ("limite=0", "Parâmetro 'limite' deve ser no mínimo 1."),
    ("pular=-1", "Parâmetro 'pular' deve ser no mínimo 0."),
    ("pular=abc", "Parâmetro 'pular' deve ser um número inteiro (recebido: 'abc')."),
    ("limite=1.5", "Parâmetro 'limite' deve ser um número inteiro (recebido: '1.5')."),
    # int() would take these: Arabic-Indic digits, a sign, a space, an underscore
    ("limite=١٠", "Parâmetro 'limite' deve ser um número inteiro (recebido: '١٠')."),
    ("pular=%2B5", "Parâmetro 'pular' deve ser um número inteiro (recebido: '+5')."),
    ("pular=%205", "Parâmetro 'pular' deve ser um número inteiro (recebido: ' 5')."),
    ("pular=1_0", "Parâmetro 'pular' deve ser um número inteiro (recebido: '1_0')."),
])
def test_bad_parameters_are_422_with_the_reason(client: Any, query: str, reason: str) -> None:
    response = client.get(f"/api/consinco/clientes?{query}")
    assert response.status_code == 422
    assert response.get_json() == {"error": reason, "status": 422}


def test_unknown_entity_and_mode(client: Any) -> None:
    response = client.get("/api/consinco/fornecedores")
    assert response.status_code == 404 and "filiais, produtos, clientes, vendas" in response.get_json()["error"]
    assert client.post("/api/plusoft/fornecedores/sincronizar").status_code == 404
    bad = client.post("/api/plusoft/vendas/sincronizar", json={"modo": "tudo"})
    assert bad.status_code == 422 and "Modo inválido" in bad.get_json()["error"]
    assert locks.holder("vendas") is None


def test_api_requires_login(app: Any, users: Any) -> None:
    anonymous = app.test_client()
    assert anonymous.get("/api/consinco/vendas").status_code == 401
    assert anonymous.post("/api/plusoft/sincronizar").status_code == 401


@pytest.mark.mariadb
def test_second_trigger_while_running_returns_the_running_job(client: Any, worker: Any,
                                                             standin: PlusoftStandIn) -> None:
    load_source(vendas=1_000)
    standin.inject("lento:0.3", "lento:0.3")  # keeps the first job busy a moment
    first = client.post("/api/plusoft/vendas/sincronizar", json={"modo": "full"})
    assert first.status_code == 202
    job_id = first.get_json()["job_id"]
    assert first.get_json()["status_url"] == f"/jobs/{job_id}/status"

    again = client.post("/api/plusoft/vendas/sincronizar")
    assert again.status_code == 200
    assert again.get_json()["job_id"] == job_id and again.get_json()["ja_em_andamento"] is True
    everything = client.post("/api/plusoft/sincronizar")  # vendas is part of "all"
    assert everything.status_code == 200 and everything.get_json()["job_id"] == job_id

    wait_for_job(job_id)
    assert standin.rows["vendas"] == 1_000 and standin.duplicates == 0
    assert locks.holder("vendas") is None
    assert client.post("/api/plusoft/vendas/sincronizar").status_code == 202


@pytest.mark.mariadb
def test_concurrent_triggers_start_one_job(db: str, worker: Any, standin: PlusoftStandIn) -> None:
    load_source(vendas=500)
    barrier = threading.Barrier(8)
    answers: list[Trigger] = []

    def fire() -> None:
        barrier.wait()
        answers.append(trigger(["filiais", "vendas"] if len(answers) % 2 else ["vendas"],
                               triggered_by="teste"))

    threads = [threading.Thread(target=fire) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    created = [a for a in answers if a.created]
    assert len(answers) == 8 and len(created) == 1
    assert {a.job_id for a in answers} == {created[0].job_id}
    wait_for_job(created[0].job_id)
    wait_until(lambda: locks.holder("vendas") is None and locks.holder("filiais") is None)
    assert standin.duplicates == 0 and standin.rows["vendas"] == 500
    assert jobs.get_status(created[0].job_id)["status"] == "finished"


@pytest.mark.browser
def test_page_shows_entities_and_live_progress(page: Any, worker: Any, standin: PlusoftStandIn) -> None:
    load_source(vendas=1_000)
    page.goto("/sync")
    card = page.locator('.sync-card[data-entidade="vendas"]')
    assert card.locator('[data-field="status"]').inner_text() == "nunca executada"
    card.locator('button[data-modo="full"]').click()
    page.wait_for_selector("#sync-message:has-text('Sincronização iniciada')")
    page.wait_for_selector('.sync-card[data-entidade="vendas"] [data-field="status"]:has-text("concluída")')
    assert card.locator('[data-field="linhas"]').inner_text() == "1.000 / 1.000"  # pt-BR
    assert card.locator('[data-field="progresso"]').inner_text() == "100%"
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", card.locator('[data-field="inicio"]').inner_text())
    page.wait_for_selector("#sync-history tr[data-run] >> text=vendas")

    # the dry run from the page, right after: the overlap window (3 sales days) is read
    # again and found unchanged, nothing is left to send
    posted = standin.state()["lotes"]
    card.locator("button[data-simular]").click()
    result = page.locator('#simulacao-resultado .dry-run-entity[data-entidade="vendas"]')
    result.wait_for(timeout=30_000)
    assert result.locator('[data-count="a_enviar"]').inner_text() == "0"
    unchanged = result.locator('[data-count="sem_mudanca"]').inner_text()
    assert int(unchanged) > 0 and result.locator('[data-count="lidas"]').inner_text() == f"{unchanged} de {unchanged}"
    assert "nada foi enviado" in page.inner_text("#simulacao-etapa")
    assert standin.state()["lotes"] == posted


def test_production_refuses_to_sync_the_demo_source_or_the_stand_in() -> None:
    production = PRODUCTION
    with pytest.raises(SyncNotConfigured, match="STOCKFLOW_CONSINCO_URL, STOCKFLOW_PLUSOFT_BASE_URL"):
        ensure_configured(Settings(**production))
    ensure_configured(Settings(**production, consinco_url="oracle+oracledb://u:p@erp:1521/?service_name=C",
                               plusoft_base_url="https://plusoft.example/api/v1/carga"))
    ensure_configured(Settings())  # development: the demo source and the stand-in are the point
