"""The receipts export (web/exports.py): each person's own receipts unless their role reads
everyone's, the page's filters, CSV and XLSX read back; and the one formula guard."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import openpyxl
import pytest

from core.db import session_scope
from core.models import Comprovante
from tests.support.web import login
from web import exports

URL = "/financeiro/comprovantes/exportar"


def receipt(n: int, owner: int, status: str = "concluido", **fields: Any) -> int:
    """Store receipt `n` (its id is `n`, also on MariaDB, whose counter a DELETE does not reset)."""
    values: dict[str, Any] = {
        "id": n, "pedido": f"PED-{n}", "nome_original": f"pix-{n}.png", "nome_armazenado": f"x/{n}.png",
        "sha256": f"{n:064d}", "tamanho": 1000 + n, "mime": "image/png", "status": status,
        "uploaded_by": owner,
        "created_at": datetime(2026, 10, 8, 18, 17, tzinfo=timezone.utc) + timedelta(seconds=n),
        "valor": Decimal("1234.56") + n, "data_hora": "2026-10-08T15:10:00",
        "id_transacao": f"E00000000202610081510{n:011d}",
        "campos": {"pagador": {"nome": "Ana Clara Ferreira", "documento": "***.123.456-**"},
                   "recebedor": {"nome": "ACME Comércio de Alimentos LTDA",
                                 "documento": "12.345.678/0001-90"}},
        "validacao_recebedor": {"status": "confere", "motivo": "O CNPJ do recebedor é o da empresa.",
                                "criterio": "cnpj"}}
    values.update(fields)
    with session_scope() as session:
        session.add(Comprovante(**values))
    return n


def read_csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200 and response.is_streamed, response.data[:300]
    return list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig")), delimiter=";"))


@pytest.mark.mariadb
def test_csv_of_receipts_with_their_fields_and_the_page_filters(app: Any, client: Any,
                                                               users: dict[str, Any]) -> None:
    admin, ana = users["admin"].id, users["ana"].id
    receipt(1, ana)
    receipt(2, admin, status="erro", valor=None, erro="Não foi possível ler o comprovante.")
    receipt(3, ana, pedido="@SUM(A1)", revisao="pendente")

    rows = read_csv(client.get(f"{URL}.csv"))
    assert [r["Nº"] for r in rows] == ["3", "2", "1"]  # everyone's, newest first
    first = rows[2]
    assert first["Valor (R$)"] == "1235,56" and first["Enviado em"] == "08/10/2026 15:17"
    assert first["Data/hora do pagamento"] == "08/10/2026 15:10"  # printed local time, kept
    assert first["Pagador"] == "Ana Clara Ferreira"
    assert first["Documento do recebedor"] == "12.345.678/0001-90"
    assert first["Conferência do recebedor"] == "confere"
    assert rows[0]["Pedido"] == "'@SUM(A1)" and rows[1]["Valor (R$)"] == ""

    assert [r["Nº"] for r in read_csv(client.get(f"{URL}.csv?situacao=erro"))] == ["2"]
    assert [r["Nº"] for r in read_csv(client.get(f"{URL}.csv?revisao=pendente"))] == ["3"]
    assert [r["Nº"] for r in read_csv(client.get(f"{URL}.csv?pedido=PED-1"))] == ["1"]
    assert read_csv(client.get(f"{URL}.csv?de=2026-10-09")) == []
    assert len(read_csv(client.get(f"{URL}.csv?de=2026-10-08&ate=2026-10-08"))) == 3
    assert client.get(f"{URL}.csv?situacao=qualquer").status_code == 400

    own = app.test_client()
    login(own, "ana", "ana-password")  # store staff: only her own receipts
    assert [r["Nº"] for r in read_csv(own.get(f"{URL}.csv"))] == ["3", "1"]


def test_a_duplicate_names_the_receipt_it_repeats_only_to_who_may_read_it(
        app: Any, client: Any, users: dict[str, Any]) -> None:
    admin, ana = users["admin"].id, users["ana"].id
    receipt(1, admin)            # the payment, sent first by someone else
    receipt(2, ana, duplicado_de=1)
    receipt(3, ana)
    receipt(4, ana, duplicado_de=3)
    everyone = {r["Nº"]: r["Duplicado do Nº"] for r in read_csv(client.get(f"{URL}.csv"))}
    assert everyone == {"1": "", "2": "1", "3": "", "4": "3"}
    own = app.test_client()
    login(own, "ana", "ana-password")
    mine = {r["Nº"]: r["Duplicado do Nº"] for r in read_csv(own.get(f"{URL}.csv"))}
    assert mine == {"2": "sim", "3": "", "4": "3"}  # her own first receipt is named, not another's


def statements_of(make_request: Any) -> tuple[list[dict[str, str]], list[str]]:
    """Make the CSV request and return its rows, read to the end, and the SQL it ran."""
    from sqlalchemy import event

    from core.db import get_engine

    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", count)
    try:
        rows = read_csv(make_request())  # the rows are read while the body streams
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return rows, seen


@pytest.mark.mariadb
def test_own_receipts_export_asks_the_database_the_same_however_many_duplicates(
        app: Any, users: dict[str, Any]) -> None:
    admin, ana = users["admin"].id, users["ana"].id
    receipt(1, admin)  # someone else's payment
    receipt(2, ana)    # hers
    own = app.test_client()
    login(own, "ana", "ana-password")

    def duplicates(first: int, last: int) -> None:  # odd: of receipt 1, even: of receipt 2
        for n in range(first, last + 1):
            receipt(n, ana, duplicado_de=1 if n % 2 else 2)

    duplicates(3, 6)
    own.get(f"{URL}.csv").get_data()  # the first request's one-off lookups (the session's user)
    few_rows, few = statements_of(lambda: own.get(f"{URL}.csv"))
    duplicates(7, 200)
    many_rows, many = statements_of(lambda: own.get(f"{URL}.csv"))
    assert len(many) == len(few), "\n".join(many)
    rows = {r["Nº"]: r["Duplicado do Nº"] for r in many_rows}
    assert len(rows) == 199 and len(few_rows) == 5  # hers: 2 to 200
    # her own first receipt is named, someone else's is not
    assert rows["2"] == "" and rows["3"] == "sim" and rows["4"] == "2" and rows["199"] == "sim"
    assert all(value == ("sim" if int(n) % 2 else "2") for n, value in rows.items() if int(n) > 2)


def test_xlsx_of_receipts_has_money_as_numbers(client: Any, users: dict[str, Any]) -> None:
    receipt(1, users["admin"].id)
    page = client.get("/financeiro/comprovantes").get_data(as_text=True)
    assert f'href="{URL}.xlsx"' in page and f'href="{URL}.csv"' in page
    response = client.get(f"{URL}.xlsx")
    assert response.status_code == 200 and response.mimetype == exports.MIMETYPES["xlsx"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.get_data())).active
    header = [c.value for c in sheet[1]]
    valor = sheet.cell(row=2, column=header.index("Valor (R$)") + 1)
    assert valor.value == 1235.56 and valor.number_format == '"R$" #,##0.00'
    enviado = sheet.cell(row=2, column=header.index("Enviado em") + 1)
    assert enviado.value == datetime(2026, 10, 8, 15, 17, 1)  # local time, as the page shows it
    assert enviado.number_format == "dd/mm/yyyy hh:mm"


@pytest.mark.parametrize("text", ["=1+1", "+55 11", "-2", "@x", "\tx", "\rx"])
def test_the_formula_guard_marks_every_formula_start(text: str) -> None:
    assert exports.guard(text) == "'" + text
    assert exports.csv_cell(exports.Coluna("x"), text) == "'" + text


def test_numbers_are_not_text_so_they_are_never_guarded() -> None:
    assert exports.csv_cell(exports.Coluna("x", exports.DINHEIRO), Decimal("-5")) == "-5,00"
    assert exports.csv_cell(exports.Coluna("x", exports.NUMERO), 1234.5) == "1234,5"
    assert exports.guard("Açúcar 1kg") == "Açúcar 1kg"
