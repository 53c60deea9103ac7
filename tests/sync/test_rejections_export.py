"""A run's rejected rows exported as CSV and XLSX (web/exports.py) and read back by the csv
module and openpyxl: every row of that run and none of another's, pt-BR dates, a reason that
looks like a formula kept as text; the list's filters; unknown runs and formats."""
from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from openpyxl import load_workbook

from core.db import session_scope
from core.sync import rejections, runs
from core.sync.consinco.queries import FULL
from core.sync.engine import sync_slice
from core.sync.rejections import MAPPING, Rejected
from standins.plusoft import PlusoftStandIn
from tests.sync.support import load_source
from tests.sync.test_rejections import break_status

HEADER = ["Nº", "Entidade", "Chave", "Motivo", "Origem", "Situação", "Vezes", "Execução",
          "Primeira vez", "Última vez", "Resolvida em", "Resolução"]


def read_csv(response: Any) -> list[list[str]]:
    text = response.get_data().decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:]), delimiter=";"))


def test_a_runs_rejected_rows_as_csv_and_xlsx(client: Any, standin: PlusoftStandIn) -> None:
    load_source(vendas=0, produtos=60, clientes=0)
    break_status(1010, 1020)
    standin.inject("rejeitar:1")
    sync_slice("produtos", FULL, triggered_by="teste")
    run = runs.latest_by_entity(["produtos"])["produtos"]
    assert run is not None and run["linhas_rejeitadas"] == 3
    # another run's rejection (filiais), and one whose reason a spreadsheet would run
    with session_scope() as session:
        rejections.record(session, "filiais", "outra-execucao", [Rejected("[7]", "=1+1", MAPPING)])
        rejections.record(session, "produtos", run["id"],
                          [Rejected("[1999]", "=HYPERLINK(\"http://x\")", MAPPING)])

    answer = client.get(f"/sync/rejeicoes/exportar.csv?execucao={run['id']}")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = read_csv(answer)
    assert rows[0] == HEADER
    by_key = {row[2]: row for row in rows[1:]}
    assert set(by_key) == {"[1001]", "[1010]", "[1020]", "[1999]"}
    assert by_key["[1010]"][3] == "FLGATIVO (coluna TXTSTATUS): status 'X' não é A nem I"
    assert by_key["[1001]"][3:6] == ["Plusoft: rejeição simulada", "plusoft", "pendente"]
    assert by_key["[1999]"][3] == "'=HYPERLINK(\"http://x\")"
    assert all(row[7] == run["id"] for row in rows[1:])
    datetime.strptime(by_key["[1010]"][9], "%d/%m/%Y %H:%M")

    sheet = load_workbook(io.BytesIO(client.get(
        f"/sync/rejeicoes/exportar.xlsx?execucao={run['id']}").get_data()), read_only=True).active
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == HEADER
    assert sorted(row[2] for row in values[1:]) == ["[1001]", "[1010]", "[1020]", "[1999]"]
    first = next(row for row in values[1:] if row[2] == "[1010]")
    assert first[6] == 1 and isinstance(first[9], datetime)
    assert next(row for row in values[1:] if row[2] == "[1999]")[3].startswith("'=")

    # the list's filters: every entity's pending rows
    everything = read_csv(client.get("/sync/rejeicoes/exportar.csv?situacao=pendente"))
    assert {row[1] for row in everything[1:]} == {"produtos", "filiais"} and len(everything) == 6
    assert client.get("/sync/rejeicoes/exportar.csv?execucao=nenhuma").status_code == 404
    assert client.get("/sync/rejeicoes/exportar.pdf").status_code == 404
    assert client.get("/sync/rejeicoes/exportar.csv?situacao=x").status_code == 400
    page = client.get("/sync").get_data(as_text=True)
    assert f"/sync/rejeicoes/exportar.xlsx?execucao={run['id']}" in page
