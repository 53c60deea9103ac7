"""Write a scanned product off exactly once, and record every scan's outcome.

`registrar_baixa()` is the domain logic behind the `baixa.registrar` task (tasks/baixa.py),
callable without Celery: it raises BaixaUnavailable while the database cannot be reached.
"""
from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session

from core import devices
from core.db import dialect_name, session_scope
from core.device_signing import Signed, scan_signed
from core.models import BaixaLeitura, Produto, ProdutoRemovido
from core.models.baixa import ALREADY_REMOVED, INVALID, NOT_FOUND, REMOVED
from core.models.types import utcnow
from core.sse import publish_safely

log = logging.getLogger(__name__)

RESPONSAVEL = "Leitor QRCODE"
PRODUCT_ID_RE = re.compile(r"[0-9]{1,18}")
# As the agent writes it (uuid.UUID() would also take "urn:" + 32 hex digits, or other
# scripts' digits, in 36 characters).
SCAN_ID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
BAD_SCAN_ID = "scan_id não é um UUID"
# The outcome of a scan the device registry refuses (core/devices.py): never written off.
REFUSED = "refused"


def store_channel(store_key: str) -> str:
    """Return the SSE channel of a store's live feed."""
    return f"store:{store_key}"


class BaixaUnavailable(Exception):
    """The database could not be reached; the caller should retry later."""


def _parse_scanned_at(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        # in UTC now: "0001-01-01T00:00:00+14:00" is before year 1 there (OverflowError)
        return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None


def _problems(scan_id: Any, product_id: Any, store_key: Any, device_id: Any,
              scanned_at: Any) -> list[str]:
    """Return what is wrong with a scan message (empty when it is well-formed)."""
    problems = []
    if not isinstance(scan_id, str) or not SCAN_ID_RE.fullmatch(scan_id):
        problems.append(BAD_SCAN_ID)
    if isinstance(product_id, bool) or not PRODUCT_ID_RE.fullmatch(str(product_id or "")):
        problems.append("código do produto deve ter só dígitos (1 a 18)")
    if not isinstance(store_key, str) or not 0 < len(store_key) <= 64 or not _storable(store_key):
        problems.append("store_key ausente, maior que 64 caracteres ou não é texto UTF-8")
    if device_id is not None and (not isinstance(device_id, str) or len(device_id) > 64
                                  or not _storable(device_id)):
        problems.append("device_id inválido")
    if _parse_scanned_at(scanned_at) is None:
        problems.append("scanned_at não é uma data ISO 8601")
    return problems


def _storable(text: str) -> bool:
    """Whether the database can store the text (JSON may carry lone surrogates: "\\ud800")."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text(value: Any, limit: int) -> str:
    """The value as text the database can store (lone surrogates escaped), cut at `limit`."""
    text = "" if value is None else str(value)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")[:limit]


def begin_read_committed(session: Session) -> None:
    """Make the session's next transaction READ COMMITTED on MariaDB (a no-op on SQLite)."""
    # After waiting on another scan's row lock, our reads must see what it committed
    # (REPEATABLE READ would show the snapshot from before the wait).
    # SET TRANSACTION covers just the next transaction: one round trip, nothing to reset.
    if dialect_name() == "mysql":
        session.execute(text("SET TRANSACTION ISOLATION LEVEL READ COMMITTED"))


def registrar_baixa(scan_id: Any = None, product_id: Any = None, store_key: Any = None,
                    device_id: Any = None, scanned_at: Any = None, signature: Any = None,
                    sender: Any = None) -> dict[str, Any]:
    """Write the scanned product off (tb_produto -> tb_produto_removido) once per scan_id and
    return the scan's outcome (removed / already_removed / not_found / invalid / refused:
    while the registry is required, a device it does not allow for that store, or a
    signature that is missing or not the device's; `sender` is the broker user that
    published the scan, when the broker vouches for it).

    A scan_id seen before returns its first outcome unchanged. Raises BaixaUnavailable when
    the database cannot be reached.
    """
    problems = _problems(scan_id, product_id, store_key, device_id, scanned_at)
    signed = scan_signed({"scan_id": scan_id, "product_id": product_id, "store_key": store_key,
                          "device_id": device_id, "scanned_at": scanned_at}, signature)
    if BAD_SCAN_ID in problems:
        # Still one row per message: a deterministic id, so a redelivery finds it again.
        raw = json.dumps([scan_id, product_id, store_key, device_id, scanned_at], default=str)
        scan_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "stockflow:invalid-scan:" + raw))
    try:
        outcome, first_time = _registrar(str(scan_id), product_id, store_key, device_id,
                                         scanned_at, problems, signed, sender)
    except IntegrityError:
        # The same scan_id committed concurrently (a redelivery racing the first delivery).
        outcome, first_time = _existing_outcome(str(scan_id)), False
        if outcome is None:
            raise
    except (OperationalError, InterfaceError, PoolTimeoutError) as exc:
        raise BaixaUnavailable(str(exc).splitlines()[0]) from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise BaixaUnavailable(str(exc).splitlines()[0]) from exc
        raise
    if first_time:
        log.info("baixa scan_id=%s product_id=%s store=%s outcome=%s", outcome["scan_id"],
                 outcome["product_id"], outcome["store_key"], outcome["outcome"])
        publish_safely(store_channel(outcome["store_key"] or "?"), "baixa", outcome)
    return outcome


def _existing_outcome(scan_id: str) -> dict[str, Any] | None:
    with session_scope() as session:
        row = session.scalar(select(BaixaLeitura).where(BaixaLeitura.scan_id == scan_id))
        return row.as_event() if row else None


def _registrar(scan_id: str, product_id: Any, store_key: Any, device_id: Any, scanned_at: Any,
               problems: list[str], signed: Signed, sender: Any) -> tuple[dict[str, Any], bool]:
    with session_scope() as session:
        begin_read_committed(session)
        existing = session.scalar(select(BaixaLeitura).where(BaixaLeitura.scan_id == scan_id))
        if existing is not None:
            return existing.as_event(), False
        record = BaixaLeitura(
            scan_id=scan_id, product_id=_text(product_id, 64), store_key=_text(store_key, 64),
            device_id=_text(device_id, 64) if device_id is not None else None,
            scanned_at=_parse_scanned_at(scanned_at), processed_at=utcnow())
        if problems:
            record.outcome, record.reason = INVALID, "; ".join(problems)[:255]
        elif refused := devices.refusal(device_id, store_key, signed, session, sender):
            record.outcome, record.reason = REFUSED, f"Leitura recusada: {refused}."[:255]
        else:
            write_off(session, record, int(str(product_id)))
        session.add(record)
        session.flush()
        return record.as_event(), True


def write_off(session: Session, record: BaixaLeitura, product_id: int) -> None:
    """Move the product row to tb_produto_removido, or explain why not, on `record`."""
    produto = session.scalar(
        select(Produto).where(Produto.id == product_id).with_for_update())
    if produto is not None and produto.store_key == record.store_key:
        removido = ProdutoRemovido(**{
            column: getattr(produto, column) for column in copied_columns()})
        removido.responsavel_retirada = RESPONSAVEL
        removido.data_retirada = record.processed_at
        removido.device_id = record.device_id
        removido.scan_id = record.scan_id
        session.add(removido)
        session.delete(produto)
        session.flush()
        record.outcome, record.reason = REMOVED, "Produto retirado do estoque."
        record.id_removido, record.descricao = removido.id_removido, produto.descricao
        return
    if produto is not None:
        record.outcome = NOT_FOUND
        record.reason = f"Produto {product_id} não pertence à loja {record.store_key}."
        return
    earlier = session.scalar(
        select(ProdutoRemovido)
        .where(ProdutoRemovido.id == product_id, ProdutoRemovido.store_key == record.store_key)
        .order_by(ProdutoRemovido.data_retirada.desc()).limit(1))
    if earlier is not None:
        record.outcome, record.descricao = ALREADY_REMOVED, earlier.descricao
        record.id_removido = earlier.id_removido
        record.reason = (f"Produto {product_id} já foi retirado em "
                         f"{earlier.data_retirada:%d/%m/%Y %H:%M:%S} UTC por "
                         f"{earlier.responsavel_retirada}"
                         + (f" (dispositivo {earlier.device_id})." if earlier.device_id else "."))
        return
    record.outcome = NOT_FOUND
    record.reason = f"Produto {product_id} não encontrado na loja {record.store_key}."


def copied_columns() -> list[str]:
    """Return the tb_produto columns that tb_produto_removido also holds (the full row)."""
    removido = {c.key for c in sa_inspect(ProdutoRemovido).column_attrs}
    return [c.key for c in sa_inspect(Produto).column_attrs if c.key in removido]
