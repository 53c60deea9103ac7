"""Every rejected row is kept with its reason (no cap), listed by the API and the page, and
replayable: after the source row is fixed, a replay re-reads it by key, sends it, and the
rejection is resolved; a row still wrong stays with its new reason. Ids in the URLs are
parsed strictly."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import delete, update

from core.db import session_scope
from core.sync import locks, rejections
from core.sync.consinco.models import ConsincoProduto
from core.sync.consinco.queries import FULL, INCREMENTAL
from core.sync.engine import sync_slice
from standins.plusoft import PlusoftStandIn
from tests.sync.support import load_source, wait_for_job


def break_status(*produtos: int) -> None:
    """Give these products a status letter the mapping refuses (neither A nor I)."""
    with session_scope() as session:
        session.execute(update(ConsincoProduto).where(ConsincoProduto.IDPRODUTO.in_(produtos))
                        .values(TXTSTATUS="X"))


def listed(client: Any, query: str = "entidade=produtos") -> dict[str, Any]:
    response = client.get(f"/api/plusoft/rejeicoes?{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.mark.mariadb
def test_every_rejected_row_is_kept_with_its_reason_and_listed_page_by_page(
        client: Any, standin: PlusoftStandIn) -> None:
    load_source(vendas=0, produtos=300, clientes=0)
    bad = list(range(1001, 1241, 2))  # 120 rows, more than the 50 the run record used to keep
    break_status(*bad)
    first = sync_slice("produtos", FULL, triggered_by="teste")
    assert first.run["linhas_rejeitadas"] == 120 and first.run["linhas_enviadas"] == 180

    pages = [listed(client, f"entidade=produtos&pagina={n}") for n in (1, 2, 3)]
    assert [p["total"] for p in pages] == [120] * 3 and pages[0]["paginas"] == 3
    items = [item for page in pages for item in page["rejeicoes"]]
    assert sorted(int(item["chave"][1:-1]) for item in items) == bad
    assert all("FLGATIVO (coluna TXTSTATUS): status 'X' não é A nem I" == item["motivo"]
               and item["origem"] == "mapeamento" and item["situacao"] == "pendente"
               and item["execucao"] == first.run["id"] for item in items)

    # refused again by the next run: the same 120 records, counted twice, none added
    sync_slice("produtos", FULL, triggered_by="teste")
    again = listed(client, "entidade=produtos&por_pagina=500")
    assert again["total"] == 120 and {item["vezes"] for item in again["rejeicoes"]} == {2}

    page = client.get("/sync?entidade=produtos&pagina=3").get_data(as_text=True)
    assert "Página 3 de 3 · 120 linhas" in page and "não é A nem I" in page
    assert page.count('data-reenviar="') == 20 and 'rel="prev"' in page and 'rel="next"' not in page


@pytest.mark.mariadb
def test_a_fixed_row_is_replayed_sent_and_resolved(client: Any, worker: Any,
                                                   standin: PlusoftStandIn) -> None:
    # Must survive: the mapping refusing two rows, Plusoft refusing a third. After the source
    # is fixed (with no new DTAALTERACAO, so no incremental run would pick it up), a replay
    # sends exactly the fixed rows once; a row still wrong stays pending with its new reason;
    # a row gone from the source is resolved as such.
    load_source(vendas=0, produtos=60, clientes=0)
    break_status(1010, 1020, 1030)
    standin.inject("rejeitar:1")  # Plusoft refuses the batch's first row, 1001
    sync_slice("produtos", FULL, triggered_by="teste")
    pending = {item["chave"]: item for item in listed(client)["rejeicoes"]}
    assert set(pending) == {"[1001]", "[1010]", "[1020]", "[1030]"}
    assert pending["[1001]"]["motivo"] == "Plusoft: rejeição simulada"

    with session_scope() as session:
        session.execute(update(ConsincoProduto).where(ConsincoProduto.IDPRODUTO == 1010)
                        .values(TXTSTATUS="A"))
    answer = client.post(f"/api/plusoft/rejeicoes/{pending['[1010]']['id']}/reenviar")
    assert answer.status_code == 202, answer.get_json()
    done = wait_for_job(answer.get_json()["job_id"])
    assert done["result"]["reenviadas"] == 1 and done["result"]["ainda_rejeitadas"] == 0
    assert standin.records["produtos"][-1]["IDPRODUTO"] == 1010
    fixed = rejections.get(pending["[1010]"]["id"])
    assert fixed is not None and fixed["situacao"] == "resolvida"
    assert fixed["resolucao"] == "reenviada por admin"
    assert listed(client)["total"] == 3

    # Replay all: 1001 goes (Plusoft takes it now), 1020 is still wrong, 1030 was deleted.
    with session_scope() as session:
        session.execute(update(ConsincoProduto).where(ConsincoProduto.IDPRODUTO == 1020)
                        .values(TXTSTATUS="A", TXTDESCRICAO="   "))
        session.execute(delete(ConsincoProduto).where(ConsincoProduto.IDPRODUTO == 1030))
    answer = client.post("/api/plusoft/produtos/rejeicoes/reenviar")
    assert answer.status_code == 202, answer.get_json()
    result = wait_for_job(answer.get_json()["job_id"])["result"]
    assert (result["reenviadas"], result["ainda_rejeitadas"], result["sem_origem"]) == (1, 1, 1)
    still = listed(client)["rejeicoes"]
    assert [(r["chave"], r["motivo"], r["vezes"]) for r in still] == [
        ("[1020]", "TXTDESCRICAO (coluna TXTDESCRICAO): campo obrigatório vazio", 2)]
    gone = listed(client, "entidade=produtos&situacao=resolvida")["rejeicoes"]
    assert {r["chave"]: r["resolucao"] for r in gone} == {
        "[1001]": "reenviada por admin", "[1010]": "reenviada por admin",
        "[1030]": "não existe mais na origem"}
    state = standin.state()
    assert state["distintas"] == {"produtos": 58}  # all but 1020 (still wrong) and 1030 (gone)
    assert state["linhas_duplicadas"] == {} and state["duplicados"] == 0

    # The replayed rows are now known as sent: the next run reads them and sends nothing.
    after = sync_slice("produtos", FULL, triggered_by="teste")
    assert after.run["linhas_enviadas"] == 0 and after.run["linhas_rejeitadas"] == 1


def test_a_row_fixed_at_the_source_is_resolved_by_the_next_run(db: str,
                                                               standin: PlusoftStandIn) -> None:
    load_source(vendas=0, produtos=30, clientes=0)
    break_status(1005)
    sync_slice("produtos", INCREMENTAL, triggered_by="teste")
    with session_scope() as session:  # the ERP stamps the fix
        session.execute(update(ConsincoProduto).where(ConsincoProduto.IDPRODUTO == 1005)
                        .values(TXTSTATUS="I", DTAALTERACAO=datetime.now().replace(microsecond=0)))
    second = sync_slice("produtos", INCREMENTAL, triggered_by="teste")
    assert second.run["linhas_enviadas"] == 1
    [item] = rejections.page("produtos", None, 1, 50)["rejeicoes"]
    assert item["situacao"] == "resolvida"
    assert item["resolucao"] == f"enviada na execução {second.run['id']}"


def test_replay_waits_for_a_running_sync_of_the_entity(client: Any,
                                                       standin: PlusoftStandIn) -> None:
    load_source(vendas=0, produtos=20, clientes=0)
    break_status(1003)
    sync_slice("produtos", FULL, triggered_by="teste")
    [item] = listed(client)["rejeicoes"]
    assert locks.acquire(["produtos"], "job-que-sincroniza", 60) is None
    answer = client.post(f"/api/plusoft/rejeicoes/{item['id']}/reenviar")
    assert answer.status_code == 409
    assert answer.get_json()["error"] == ("Produtos está sincronizando agora (job "
                                          "job-que-sincroniza); reenvie quando terminar.")
    assert client.post("/api/plusoft/produtos/rejeicoes/reenviar").status_code == 409
    assert locks.holder("produtos") == "job-que-sincroniza"
    assert client.post("/api/plusoft/clientes/rejeicoes/reenviar").get_json()["error"] == (
        "Nenhuma linha rejeitada pendente em clientes.")


@pytest.mark.parametrize("raw", ["abc", "١", "²", "0", "-1", "+1", "1.0", "1_0", "%201",
                                 "9223372036854775808", "99999999999999999999"])
def test_garbage_rejection_ids_are_refused_with_400(client: Any, raw: str) -> None:
    answer = client.post(f"/api/plusoft/rejeicoes/{raw}/reenviar")
    assert answer.status_code == 400
    assert answer.get_json()["error"].startswith("Identificador inválido na URL: ")


@pytest.mark.parametrize("query, reason", [
    ("pagina=abc", "Parâmetro 'pagina' deve ser um número inteiro (recebido: 'abc')."),
    ("pagina=٣", "Parâmetro 'pagina' deve ser um número inteiro (recebido: '٣')."),
    ("pagina=0", "Parâmetro 'pagina' deve ser no mínimo 1."),
    ("por_pagina=501", "Parâmetro 'por_pagina' deve ser no máximo 500."),
    ("situacao=aberta", "Situação inválida: 'aberta'. Use: pendente, resolvida, todas."),
    ("entidade=fornecedores",
     "Entidade desconhecida: 'fornecedores'. Use: filiais, produtos, clientes, vendas."),
])
def test_bad_list_parameters_are_400_with_the_reason(client: Any, query: str, reason: str) -> None:
    answer = client.get(f"/api/plusoft/rejeicoes?{query}")
    assert answer.status_code == 400 and answer.get_json() == {"error": reason, "status": 400}
    if not query.startswith("por_pagina"):  # the page shows 50 a page, and reads the rest
        assert client.get(f"/sync?{query}").status_code == 400


@pytest.mark.mariadb
def test_unknown_or_resolved_rejections_and_the_login(app: Any, client: Any) -> None:
    assert client.post("/api/plusoft/rejeicoes/12345/reenviar").status_code == 404
    # past the INTEGER column but a valid id: not found, not a database error
    assert client.post("/api/plusoft/rejeicoes/2147483648/reenviar").status_code == 404
    assert client.post("/api/plusoft/rejeicoes/9223372036854775807/reenviar").status_code == 404
    with session_scope() as session:
        rejections.record(session, "produtos", None,
                          [rejections.Rejected("[1]", "x", rejections.MAPPING)])
        rejections.resolve(session, "produtos", ["[1]"], "enviada na execução r")
    [item] = rejections.page("produtos", None, 1, 50)["rejeicoes"]
    answer = client.post(f"/api/plusoft/rejeicoes/{item['id']}/reenviar")
    assert answer.status_code == 409 and "já foi resolvida" in answer.get_json()["error"]
    anonymous = app.test_client()
    assert anonymous.get("/api/plusoft/rejeicoes").status_code == 401
    assert anonymous.post(f"/api/plusoft/rejeicoes/{item['id']}/reenviar").status_code == 401
    assert anonymous.post("/api/plusoft/produtos/rejeicoes/reenviar").status_code == 401


@pytest.mark.browser
def test_page_replays_a_rejected_row(page: Any, worker: Any, standin: PlusoftStandIn) -> None:
    load_source(vendas=0, produtos=20, clientes=0)
    break_status(1007)
    sync_slice("produtos", FULL, triggered_by="teste")
    with session_scope() as session:
        session.execute(update(ConsincoProduto).where(ConsincoProduto.IDPRODUTO == 1007)
                        .values(TXTSTATUS="A"))
    page.goto("/sync?entidade=produtos#rejeicoes")
    row = page.locator("#sync-rejections tr[data-rejeicao]")
    assert row.count() == 1 and "não é A nem I" in row.inner_text()
    row.locator("button[data-reenviar]").click()
    page.wait_for_selector("#sync-message:has-text('Reenvio concluído: 1 enviadas')")
    assert page.locator("#sync-rejections tr[data-rejeicao]").count() == 0
    assert standin.records["produtos"][-1]["IDPRODUTO"] == 1007
