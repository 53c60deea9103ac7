"""Every spreadsheet export of the app, one way: CSV and XLSX, streamed, guarded, in pt-BR.

A feature describes its columns (pt-BR title and kind) and hands over its rows as chunks,
each chunk read in a short database session of its own; `exportar` answers with the file.

- CSV is written as Excel in Brazil opens it with a double click: UTF-8 with a BOM, `;`
  between fields, decimal comma, money without "R$" and without thousands separators
  (`1234,56`, so it stays a number), dates `dd/mm/aaaa hh:mm` in STOCKFLOW_TIMEZONE. Each
  chunk goes out as soon as it is written.
- XLSX is written with openpyxl's write-only mode (rows go to a temporary file, never all in
  memory), then the file is sent in pieces; money and quantities are numbers with a number
  format (`R$ #,##0.00`), dates real dates.
- Text cells starting with `=`, `+`, `-`, `@`, tab or CR get a leading apostrophe, in both
  formats: such a cell is a formula to a spreadsheet, and the text may be anyone's (a
  typed username, an OCR'd payer name). Cells we compute (numbers, dates) are not text.

The receipts' export route lives here too (GET /financeiro/comprovantes/exportar.<formato>),
so the receipts page's module stays as it is.
"""
from __future__ import annotations

import csv
import io
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from datetime import time as day_time
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, stream_with_context
from flask_login import current_user
from sqlalchemy import select

from core import audit
from core.db import session_scope
from core.models import Comprovante
from core.models.auth import COMPROVANTES, COMPROVANTES_TODOS
from core.settings import get_settings
from web.access import requires
from web.params import choice_arg, date_arg, text_arg

bp = Blueprint("exports", __name__)

FORMATOS = ("csv", "xlsx")
CHUNK = 500
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SEPARADOR = ";"
XLSX_PIECE = 64 * 1024
MIMETYPES = {"csv": "text/csv; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}

TEXTO, INTEIRO, NUMERO, DINHEIRO, DATA, DATA_HORA = (
    "texto", "inteiro", "numero", "dinheiro", "data", "data_hora")
XLSX_FORMATS = {DINHEIRO: '"R$" #,##0.00', NUMERO: "General", INTEIRO: "0",
                DATA: "dd/mm/yyyy", DATA_HORA: "dd/mm/yyyy hh:mm"}

Rows = Iterable[Iterable[Sequence[Any]]]  # chunks of rows
Row = TypeVar("Row")


@dataclass(frozen=True)
class Coluna:
    titulo: str
    tipo: str = TEXTO
    largura: int = 14  # XLSX column width, in characters


def guard(text: str) -> str:
    """Return `text` with a leading apostrophe when a spreadsheet would run it as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _zone() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)  # ZoneInfo keeps each zone it has built


def local(value: Any) -> datetime | date | None:
    """A stored value as the business reads it: UTC datetimes (naive ones too) in
    STOCKFLOW_TIMEZONE, without zone; ISO text parsed (text without a zone is already local,
    as a receipt prints it); dates as they are."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            return parsed
        value = parsed
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return aware.astimezone(_zone()).replace(tzinfo=None)
    if isinstance(value, date):
        return value
    raise TypeError(f"not a date: {value!r}")


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _dinheiro(value: Any) -> str:
    return f"{value:.2f}".replace(".", ",")  # floats and Decimals alike: money is in cents


def _numero(value: Any) -> str:
    if isinstance(value, float):
        # repr is the shortest text that reads back as the same float (1.5, not 1.50000001)
        text = str(int(value)) if value.is_integer() else repr(value)
    else:
        text = f"{_decimal(value):f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",")


def _data(value: Any) -> str:
    if isinstance(value, str) and len(value) == 10:  # ISO AAAA-MM-DD, as the analyses write it
        return f"{value[8:10]}/{value[5:7]}/{value[0:4]}"
    when = local(value)
    return when.strftime("%d/%m/%Y") if when else ""


def _data_hora(value: Any) -> str:
    when = local(value)
    if isinstance(when, datetime):
        return when.strftime("%d/%m/%Y %H:%M")
    return when.strftime("%d/%m/%Y") if when else ""


CSV_FORMATTERS: dict[str, Callable[[Any], str]] = {
    TEXTO: lambda value: guard(str(value)), INTEIRO: lambda value: str(int(value)),
    NUMERO: _numero, DINHEIRO: _dinheiro, DATA: _data, DATA_HORA: _data_hora}


def csv_cell(coluna: Coluna, value: Any) -> str:
    """One value as pt-BR CSV text (see the module's docstring)."""
    if value is None or value == "":
        return ""
    return CSV_FORMATTERS[coluna.tipo](value)


def _csv_row(formatters: Sequence[Callable[[Any], str]], row: Sequence[Any]) -> list[str]:
    return ["" if value is None or value == "" else format_(value) for format_, value in zip(formatters, row)]


def csv_text(cabecalho: Sequence[str], chunks: Rows, delimiter: str = SEPARADOR) -> Iterator[str]:
    """Yield the CSV header, then each chunk of rows (already text) as one piece."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(cabecalho)
    yield flush()
    for chunk in chunks:
        writer.writerows(chunk)
        yield flush()


def cooperating(chunks: Rows) -> Iterator[Iterable[Sequence[Any]]]:
    """Yield the chunks, letting other greenlets run between two: under gunicorn's gevent
    worker (monkey-patched, so time.sleep is gevent's) a long export would otherwise hold the
    worker, its other requests and live streams, and the heartbeat that keeps it alive."""
    for chunk in chunks:
        yield chunk
        time.sleep(0)


def _csv(colunas: Sequence[Coluna], chunks: Rows) -> Iterator[bytes]:
    formatters = [CSV_FORMATTERS[c.tipo] for c in colunas]
    formatted = ([_csv_row(formatters, row) for row in chunk] for chunk in cooperating(chunks))
    first = True
    for piece in csv_text([c.titulo for c in colunas], formatted):
        # The BOM tells Excel the file is UTF-8 (without it, "Açúcar" comes out garbled).
        yield (("\ufeff" if first else "") + piece).encode("utf-8")
        first = False


def _xlsx(colunas: Sequence[Coluna], chunks: Rows, folha: str) -> Iterator[bytes]:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(folha[:31])
    sheet.freeze_panes = "A2"
    for n, coluna in enumerate(colunas, start=1):
        sheet.column_dimensions[get_column_letter(n)].width = coluna.largura
    bold = Font(bold=True)

    def header(coluna: Coluna) -> Any:
        cell = WriteOnlyCell(sheet, value=coluna.titulo)
        cell.font = bold
        return cell

    def cell(coluna: Coluna, value: Any) -> Any:
        if value is None or value == "":
            return None
        if coluna.tipo == TEXTO:
            # openpyxl refuses control characters, and writes text starting with "=" as a formula
            return guard(ILLEGAL_CHARACTERS_RE.sub("", str(value)))
        if coluna.tipo in (DATA, DATA_HORA):
            value = local(value)
        elif coluna.tipo == INTEIRO:
            value = int(value)
        else:
            value = float(_decimal(value))
        written = WriteOnlyCell(sheet, value=value)
        written.number_format = XLSX_FORMATS[coluna.tipo]
        return written

    sheet.append([header(c) for c in colunas])
    for chunk in cooperating(chunks):
        for row in chunk:
            sheet.append([cell(c, v) for c, v in zip(colunas, row)])
    with tempfile.TemporaryFile() as arquivo:
        workbook.save(arquivo)
        arquivo.seek(0)
        while piece := arquivo.read(XLSX_PIECE):
            yield piece


def exportar(formato: str, nome: str, colunas: Sequence[Coluna], chunks: Rows, *,
             acao: str, filtros: dict[str, Any], folha: str = "Dados") -> Response:
    """Answer with the export as a streamed attachment, and audit who exported what.

    `chunks` must be lazy (a generator): the rows are read while the response is sent.
    """
    audit.record(acao, actor=None, detail={"formato": formato, **filtros})
    stamp = datetime.now(ZoneInfo(get_settings().timezone)).strftime("%Y%m%d-%H%M")
    body = _csv(colunas, chunks) if formato == "csv" else _xlsx(colunas, chunks, folha)
    return Response(stream_with_context(body), mimetype=MIMETYPES[formato], headers={
        "Content-Disposition": f'attachment; filename="{nome}-{stamp}.{formato}"',
        "Cache-Control": "no-store"})


def keyset_chunks(query: Any, key: Any, to_row: Callable[[Any], Row],
                  size: int = CHUNK) -> Iterator[list[Row]]:
    """Yield the rows of `query` by descending `key` (a unique integer column), `size` at a
    time, each chunk read in a short session of its own (no transaction stays open while
    the client downloads, and no chunk is read twice or skipped: keyset, not offset)."""
    before: int | None = None
    while True:
        page = query if before is None else query.where(key < before)
        with session_scope() as session:
            rows = list(session.scalars(page.order_by(key.desc()).limit(size)))
            chunk = [to_row(row) for row in rows]
        if not rows:
            return
        yield chunk
        before = getattr(rows[-1], key.key)


# The receipts (comprovantes) export: the page's filters, each person's own receipts unless
# their role reads everyone's.

STATUS_COMPROVANTE = ("recebido", "processando", "concluido", "erro")
REVISAO_COMPROVANTE = ("pendente", "confirmado")
COLUNAS_COMPROVANTES = (
    Coluna("Nº", INTEIRO, 8), Coluna("Enviado em", DATA_HORA, 17), Coluna("Arquivo", TEXTO, 30),
    Coluna("Pedido", TEXTO, 14), Coluna("Situação", TEXTO, 12), Coluna("Valor (R$)", DINHEIRO),
    Coluna("Data/hora do pagamento", DATA_HORA, 20), Coluna("ID da transação (E2E)", TEXTO, 34),
    Coluna("Pagador", TEXTO, 30), Coluna("Documento do pagador", TEXTO, 20),
    Coluna("Recebedor", TEXTO, 30), Coluna("Documento do recebedor", TEXTO, 20),
    Coluna("Conferência do recebedor", TEXTO, 16), Coluna("Motor de leitura", TEXTO, 12),
    Coluna("Erro", TEXTO, 30), Coluna("Processado em", DATA_HORA, 17),
    Coluna("Revisão", TEXTO, 12), Coluna("Revisado por", TEXTO, 14),
    Coluna("Revisado em", DATA_HORA, 17), Coluna("Duplicado do Nº", TEXTO, 10))


def _parte(campos: dict[str, Any], nome: str, campo: str) -> Any:
    parte = campos.get(nome)
    return parte.get(campo) if isinstance(parte, dict) else (parte if campo == "nome" else None)


def comprovante_row(receipt: Comprovante,
                    may_see_original: Callable[[Comprovante], bool] = lambda _r: True) -> list[Any]:
    """One receipt's row; the receipt a duplicate repeats is named only to who may read it
    (`may_see_original(duplicate)`), to anyone else it is just "sim" (the privacy rule)."""
    campos = receipt.campos if isinstance(receipt.campos, dict) else {}
    validacao = receipt.validacao_recebedor
    conferencia = validacao.get("status") if isinstance(validacao, dict) else validacao
    return [receipt.id, receipt.created_at, receipt.nome_original, receipt.pedido, receipt.status,
            receipt.valor, receipt.data_hora, receipt.id_transacao,
            _parte(campos, "pagador", "nome"), _parte(campos, "pagador", "documento"),
            _parte(campos, "recebedor", "nome") or receipt.recebedor_nome,
            _parte(campos, "recebedor", "documento") or receipt.recebedor_documento,
            conferencia, receipt.motor, receipt.erro, receipt.processado_em,
            receipt.revisao, receipt.revisado_por, receipt.revisado_em,
            None if receipt.duplicado_de is None
            else str(receipt.duplicado_de) if may_see_original(receipt) else "sim"]


def _local_midnight_utc(day: date) -> datetime:
    midnight = datetime.combine(day, day_time.min, tzinfo=ZoneInfo(get_settings().timezone))
    return midnight.astimezone(timezone.utc)


@bp.get("/financeiro/comprovantes/exportar.<formato>")
@requires(COMPROVANTES)
def comprovantes(formato: str) -> Any:
    """The receipts the page's filters select, newest first: `situacao`, `revisao`, `pedido`
    (contains), `de`/`ate` (days the receipt was sent, local time, inclusive)."""
    formato = choice_from_path(formato)
    filtros = {"situacao": choice_arg("situacao", "", STATUS_COMPROVANTE),
               "revisao": choice_arg("revisao", "", REVISAO_COMPROVANTE),
               "pedido": text_arg("pedido", 64), "de": date_arg("de"), "ate": date_arg("ate")}
    query = select(Comprovante)
    own_only_of = None if current_user.can(COMPROVANTES_TODOS) else current_user.id
    if own_only_of is not None:
        query = query.where(Comprovante.uploaded_by == own_only_of)
    if filtros["situacao"]:
        query = query.where(Comprovante.status == filtros["situacao"])
    if filtros["revisao"]:
        query = query.where(Comprovante.revisao == filtros["revisao"])
    if filtros["pedido"]:
        query = query.where(Comprovante.pedido.contains(filtros["pedido"], autoescape=True))
    if filtros["de"]:
        query = query.where(Comprovante.created_at >= _local_midnight_utc(filtros["de"]))
    if filtros["ate"]:
        query = query.where(Comprovante.created_at < _local_midnight_utc(filtros["ate"] + timedelta(days=1)))
    return exportar(formato, "comprovantes", COLUNAS_COMPROVANTES,
                    comprovante_chunks(query, own_only_of),
                    acao="comprovantes.export", folha="Comprovantes",
                    filtros={k: str(v) for k, v in filtros.items() if v})


def comprovante_chunks(query: Any, own_only_of: int | None) -> Iterator[list[list[Any]]]:
    """The receipts' rows a chunk at a time. `own_only_of`: the user who reads only their own
    receipts (None: everyone's), to whom a duplicate names the receipt it repeats only when
    that one is theirs too: one lookup per chunk, not one per duplicate."""
    for receipts in keyset_chunks(query, Comprovante.id, lambda receipt: receipt):
        nameable = _nameable_originals(receipts, own_only_of)
        yield [comprovante_row(receipt, lambda duplicate: duplicate.duplicado_de in nameable)
               for receipt in receipts]


def _nameable_originals(receipts: list[Comprovante], own_only_of: int | None) -> set[int]:
    """The receipts these duplicates repeat that may be named to the reader."""
    originals = {receipt.duplicado_de for receipt in receipts if receipt.duplicado_de is not None}
    if own_only_of is None or not originals:
        return originals
    with session_scope() as session:
        return set(session.scalars(select(Comprovante.id).where(
            Comprovante.id.in_(originals), Comprovante.uploaded_by == own_only_of)))


def choice_from_path(formato: str) -> str:
    """The export format named in the URL (`.csv` or `.xlsx`), or a 404."""
    if formato not in FORMATOS:
        abort(404, description="Formato de exportação desconhecido: use .csv ou .xlsx.")
    return formato
