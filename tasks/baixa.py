"""baixa.registrar: write a scanned product off exactly once, and record every scan's outcome.

`registrar_baixa()` is the domain logic (callable without Celery); the task wraps it with
retries while the database is unavailable and the dead-letter hand-off when they run out.
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

from core.db import dialect_name, session_scope
from core.models import BaixaEstorno, BaixaLeitura, Produto, ProdutoRemovido
from core.models.baixa import ALREADY_REMOVED, INVALID, NOT_FOUND, REMOVED
from core.models.types import utcnow
from core.redis_client import get_redis
from core.settings import get_settings
from core.sse import publish_safely
from tasks.app import celery_app
from tasks.base import JobTask, retry_countdown

log = logging.getLogger(__name__)

RESPONSAVEL = "Leitor QRCODE"
PRODUCT_ID_RE = re.compile(r"[0-9]{1,18}")
BAD_SCAN_ID = "scan_id não é um UUID"
# Dead letters that could not be written because the database was down wait here (Redis
# list, AOF-persisted) until baixa.recuperar_dead_letters moves them into the table.
PENDING_DEAD_LETTERS = "stockflow:baixa:dead-letters-pending"


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
    except ValueError:
        return None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed


def _problems(scan_id: Any, product_id: Any, store_key: Any, device_id: Any,
              scanned_at: Any) -> list[str]:
    """Return what is wrong with a scan message (empty when it is well-formed)."""
    problems = []
    try:
        uuid.UUID(str(scan_id))
        if not isinstance(scan_id, str) or len(scan_id) != 36:
            raise ValueError
    except ValueError:
        problems.append(BAD_SCAN_ID)
    if isinstance(product_id, bool) or not PRODUCT_ID_RE.fullmatch(str(product_id or "")):
        problems.append("código do produto deve ter só dígitos (1 a 18)")
    if not isinstance(store_key, str) or not 0 < len(store_key) <= 64:
        problems.append("store_key ausente ou maior que 64 caracteres")
    if device_id is not None and (not isinstance(device_id, str) or len(device_id) > 64):
        problems.append("device_id inválido")
    if _parse_scanned_at(scanned_at) is None:
        problems.append("scanned_at não é uma data ISO 8601")
    return problems


def _text(value: Any, limit: int) -> str:
    return ("" if value is None else str(value))[:limit]


def _begin(session: Session) -> None:
    # READ COMMITTED on MariaDB: after waiting on another scan's row lock, our reads must see
    # what it committed (REPEATABLE READ would show the snapshot from before the wait).
    # SET TRANSACTION covers just the next transaction: one round trip, nothing to reset.
    if dialect_name() == "mysql":
        session.execute(text("SET TRANSACTION ISOLATION LEVEL READ COMMITTED"))


def registrar_baixa(scan_id: Any = None, product_id: Any = None, store_key: Any = None,
                    device_id: Any = None, scanned_at: Any = None) -> dict[str, Any]:
    """Write the scanned product off (tb_produto -> tb_produto_removido) once per scan_id and
    return the scan's outcome (removed / already_removed / not_found / invalid).

    A scan_id seen before returns its first outcome unchanged. Raises BaixaUnavailable when
    the database cannot be reached.
    """
    problems = _problems(scan_id, product_id, store_key, device_id, scanned_at)
    if BAD_SCAN_ID in problems:
        # Still one row per message: a deterministic id, so a redelivery finds it again.
        raw = json.dumps([scan_id, product_id, store_key, device_id, scanned_at], default=str)
        scan_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "stockflow:invalid-scan:" + raw))
    try:
        outcome, first_time = _registrar(str(scan_id), product_id, store_key, device_id,
                                         scanned_at, problems)
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
               problems: list[str]) -> tuple[dict[str, Any], bool]:
    with session_scope() as session:
        _begin(session)
        existing = session.scalar(select(BaixaLeitura).where(BaixaLeitura.scan_id == scan_id))
        if existing is not None:
            return existing.as_event(), False
        record = BaixaLeitura(
            scan_id=scan_id, product_id=_text(product_id, 64), store_key=_text(store_key, 64),
            device_id=_text(device_id, 64) if device_id is not None else None,
            scanned_at=_parse_scanned_at(scanned_at), processed_at=utcnow())
        if problems:
            record.outcome, record.reason = INVALID, "; ".join(problems)[:255]
        else:
            _write_off(session, record, int(str(product_id)))
        session.add(record)
        session.flush()
        return record.as_event(), True


def _write_off(session: Session, record: BaixaLeitura, product_id: int) -> None:
    """Move the product row to tb_produto_removido, or explain why not, on `record`."""
    produto = session.scalar(
        select(Produto).where(Produto.id == product_id).with_for_update())
    if produto is not None and produto.store_key == record.store_key:
        removido = ProdutoRemovido(**{
            column: getattr(produto, column) for column in _copied_columns()})
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


def _copied_columns() -> list[str]:
    """Return the tb_produto columns that tb_produto_removido also holds (the full row)."""
    removido = {c.key for c in sa_inspect(ProdutoRemovido).column_attrs}
    return [c.key for c in sa_inspect(Produto).column_attrs if c.key in removido]


class EstornoError(Exception):
    """The undo cannot be done; the message (pt-BR) says why."""


def desfazer_baixa(id_removido: int, motivo: str, who: str) -> dict[str, Any]:
    """Put a written-off product back in tb_produto, audited (who, when, why); return the record.

    Raises EstornoError when the removal does not exist (or was already undone) or a product
    with the same id is back on the shelf.
    """
    motivo = (motivo or "").strip()
    if not 3 <= len(motivo) <= 500:
        raise EstornoError("Informe o motivo do estorno (3 a 500 caracteres).")
    with session_scope() as session:
        _begin(session)
        removido = session.scalar(select(ProdutoRemovido).where(
            ProdutoRemovido.id_removido == id_removido).with_for_update())
        if removido is None:
            raise EstornoError("Baixa não encontrada (talvez já estornada).")
        if session.get(Produto, removido.id, with_for_update=True) is not None:
            raise EstornoError(f"O produto {removido.id} já está no estoque.")
        snapshot = {c.key: _json_value(getattr(removido, c.key))
                    for c in sa_inspect(ProdutoRemovido).column_attrs}
        session.add(Produto(**{column: getattr(removido, column) for column in _copied_columns()}))
        estorno = BaixaEstorno(
            id_removido=removido.id_removido, product_id=removido.id,
            store_key=removido.store_key, scan_id=removido.scan_id, descricao=removido.descricao,
            removido=snapshot, motivo=motivo, estornado_por=who[:80], estornado_em=utcnow())
        session.add(estorno)
        session.delete(removido)
        session.flush()
        event = estorno_event(estorno)
    log.info("estorno id_removido=%s product_id=%s by=%s", id_removido, event["product_id"], who)
    publish_safely(store_channel(event["store_key"]), "estorno", event)
    return event


def estorno_event(estorno: BaixaEstorno) -> dict[str, Any]:
    """Return an undo as JSON-ready data."""
    return {"id": estorno.id, "id_removido": estorno.id_removido,
            "product_id": estorno.product_id, "store_key": estorno.store_key,
            "scan_id": estorno.scan_id, "descricao": estorno.descricao,
            "motivo": estorno.motivo, "estornado_por": estorno.estornado_por,
            "estornado_em": estorno.estornado_em.isoformat()}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    return str(value)  # Decimal


class BaixaTask(JobTask):
    """JobTask whose dead-letter hand-off survives the database being down: the entry waits
    in Redis and baixa.recuperar_dead_letters writes it once the database is back."""

    dead_letter = True
    dead_letter_reference = "scan_id"

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: dict[str, Any],
                   einfo: Any) -> None:
        try:
            super().on_failure(exc, task_id, args, kwargs, einfo)
        except Exception:  # noqa: BLE001 - the database is down: park the entry, never drop it
            entry = {"task_name": self.name, "args": list(args), "kwargs": dict(kwargs),
                     "error": f"{type(exc).__name__}: {exc}",
                     "reference": str(kwargs.get("scan_id") or task_id)}
            get_redis().rpush(PENDING_DEAD_LETTERS, json.dumps(entry, default=str))
            log.error("dead-letter parked in Redis (database down) scan_id=%s", entry["reference"])


@celery_app.task(name="baixa.registrar", base=BaixaTask, bind=True)
def registrar(self: Any, scan_id: Any = None, product_id: Any = None, store_key: Any = None,
              device_id: Any = None, scanned_at: Any = None, **_ignored: Any) -> dict[str, Any]:
    """Task wrapper of registrar_baixa: retries with backoff while the database is down."""
    try:
        return registrar_baixa(scan_id, product_id, store_key, device_id, scanned_at)
    except BaixaUnavailable as exc:
        settings = get_settings()
        countdown = retry_countdown(self.request.retries, base_s=settings.baixa_retry_base_s)
        log.warning("baixa database unavailable scan_id=%s retry=%d in %.1fs: %s", scan_id,
                    self.request.retries + 1, countdown, exc)
        raise self.retry(exc=exc, countdown=countdown, max_retries=settings.baixa_max_retries)


def recuperar_dead_letters(limit: int = 500) -> int:
    """Move dead letters parked in Redis (database was down) into the table; return how many."""
    from core import deadletter

    redis = get_redis()
    moved = 0
    while moved < limit:
        raw = redis.lindex(PENDING_DEAD_LETTERS, 0)
        if raw is None:
            break
        entry = json.loads(raw)
        # record() dedupes on the reference, so a crash between these two lines is harmless.
        deadletter.record(entry["task_name"], entry["args"], entry["kwargs"], entry["error"],
                          reference=entry["reference"])
        redis.lpop(PENDING_DEAD_LETTERS)
        moved += 1
    return moved


@celery_app.task(name="baixa.recuperar_dead_letters")
def recuperar_dead_letters_task() -> int:
    return recuperar_dead_letters()


def load_demo(session: Session) -> str:
    """Demo history (core.demo): a week of scans per demo store, some rejected; once."""
    if session.scalar(select(BaixaLeitura.id).limit(1)) is not None:
        return "tb_baixa_leitura já tem dados"
    from datetime import timedelta

    from core.demo import DEMO_STORES

    now, count = utcnow(), 0
    for store_index, store in enumerate(DEMO_STORES):
        first_id = 1001 + store_index * 100_000
        for n in range(20):
            when = now - timedelta(days=7) + timedelta(hours=8 * n + store_index)
            product_id = first_id + n if n % 7 else 999_000 + n  # every 7th: not in the store
            record = BaixaLeitura(
                scan_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"stockflow-demo:{store}:{n}")),
                product_id=str(product_id), store_key=store, device_id=f"pi-{store.lower()}",
                scanned_at=when - timedelta(seconds=2), processed_at=when)
            if session.get(Produto, product_id) is None and n % 7:
                continue
            _write_off(session, record, product_id)
            session.add(record)
            session.flush()
            count += 1
    return f"{count} leituras de demonstração"
