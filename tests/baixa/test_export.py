"""The baixas exports: the history (with the page's search) and the rejected scans, as CSV and
XLSX opened back with csv and openpyxl; a large export is streamed in chunks."""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import openpyxl
from sqlalchemy import select

from core.baixa.registro import registrar_baixa
from core.db import session_scope
from core.models import AuditEntry, ProdutoRemovido
from tests.baixa.support import scan_message, seed_products
from web import exports

HISTORY = "/baixas/exportar/historico"
REJECTED = "/baixas/exportar/rejeitadas"


def read_csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200 and response.is_streamed, response.data[:300]
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig")), delimiter=";"))


def scans(store: str = "LOJA-001", base: int = 100) -> None:
    seed_products(store, [base + 1, base + 2, base + 3])
    for product_id in (base + 1, base + 2, 999):  # 999 is not on the shelf
        registrar_baixa(**scan_message(product_id, store_key=store))
    registrar_baixa(**scan_message(base + 1, store_key=store))  # already removed
    registrar_baixa(**scan_message("=1+1", store_key=store))  # invalid, and a formula


def test_history_csv_holds_the_searched_removals_newest_first(client: Any) -> None:
    scans()
    scans("LOJA-002", base=200)
    header, *rows = read_csv(client.get(f"{HISTORY}.csv?loja=LOJA-001"))
    assert header[:5] == ["Retirado em", "Produto", "Descrição", "Código de barras", "Preço (R$)"]
    assert [r[1] for r in rows] == ["102", "101"] and {r[9] for r in rows} == {"LOJA-001"}
    assert rows[0][4] == "9,90" and rows[0][7] == "Leitor QRCODE"
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", rows[0][0])
    searched = read_csv(client.get(f"{HISTORY}.csv?loja=LOJA-001&q=Produto%20101"))[1:]
    assert [r[1] for r in searched] == ["101"]
    with session_scope() as session:
        detail = session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "baixa.export")).all()
    assert detail[-1] == {"formato": "csv", "lista": "historico", "loja": "LOJA-001", "q": "Produto 101"}


def test_rejected_scans_xlsx_has_reasons_dates_and_guarded_text(client: Any) -> None:
    scans()
    response = client.get(f"{REJECTED}.xlsx?loja=LOJA-001")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == exports.MIMETYPES["xlsx"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.get_data())).active
    header, *rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert header[:5] == ["Processada em", "Lida em", "Lido", "Resultado", "Motivo"]
    assert [(r[2], r[3]) for r in rows] == [("'=1+1", "Inválido"), ("101", "Já retirado"),
                                            ("999", "Não encontrado")]
    assert all(isinstance(r[0], datetime) for r in rows) and all(r[4] for r in rows)
    assert sheet["C2"].data_type == "s"  # text, not a formula


def test_exports_refuse_a_missing_store_or_an_unknown_format(client: Any) -> None:
    assert client.get(f"{HISTORY}.csv").status_code == 400
    assert client.get(f"{HISTORY}.pdf?loja=L1").status_code == 404
    assert client.get(f"{REJECTED}.csv?loja=L1&q=" + "x" * 101).status_code == 200  # q is not its filter


def test_a_20000_row_export_is_streamed_chunk_by_chunk(client: Any) -> None:
    start = datetime(2026, 10, 1, 12, 0, tzinfo=timezone.utc)
    total = 20_000
    rows = [{"id": n, "store_key": "GRANDE", "descricao": f"Produto {n}", "codigo_barras": None,
             "preco": Decimal("1.25"), "lote": None, "validade": None, "created_at": start,
             "responsavel_retirada": "Leitor QRCODE", "data_retirada": start + timedelta(seconds=n),
             "device_id": "pi-1", "scan_id": f"{n:036d}"} for n in range(total)]
    with session_scope() as session:
        session.execute(ProdutoRemovido.__table__.insert(), rows)  # Core: no ORM bookkeeping per row

    response = client.get(f"{HISTORY}.csv?loja=GRANDE")
    assert response.is_streamed
    body = response.response  # the generator the server iterates: nothing is built yet
    assert not isinstance(body, (bytes, str, list))
    pieces = [piece for piece in body if piece]
    assert len(pieces) >= total // exports.CHUNK  # one piece per chunk of rows read
    assert max(len(p) for p in pieces) < 64 * 1024  # each piece is one chunk, not the file
    lines = list(csv.reader(io.StringIO(b"".join(pieces).decode("utf-8-sig")), delimiter=";"))[1:]
    ids = [int(line[1]) for line in lines]
    assert len(ids) == total and ids == sorted(ids, reverse=True)  # every row once, newest first
