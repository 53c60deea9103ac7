"""The review queue: which receipts wait for finance staff, and their corrections.

A receipt waits (revisao "pendente") when the OCR marked a field doubtful, a required field
was not read, or the payee check could not tell ("indeterminado"). A person sees the file
beside the fields, corrects what is wrong and confirms: every corrected value is checked as
the parser checks it (amount, date, E2E id, CPF/CNPJ check digits, PIX key), the payee check
runs again on the corrected payee, and the corrected values become the receipt's result (its
columns, its `campos`, its job's result). Who changed what is kept on the receipt
(`correcoes`) and in the audit trail.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from core import audit, jobs
from core.comprovantes import duplicados
from core.comprovantes.documents import cnpj_valid, cpf_valid, find_documento, find_pix_key
from core.comprovantes.pix import Parte, parse_e2e
from core.comprovantes.recebedor import INDETERMINADO, validar_recebedor
from core.db import session_scope
from core.models import Comprovante, Job
from core.models.comprovantes import CONCLUIDO, REVISAO_CONFIRMADA, REVISAO_PENDENTE
from core.models.types import utcnow
from core.settings import get_settings
from core.sse import publish_safely

log = logging.getLogger(__name__)

TASK_NAME = "comprovante.correct"
# Finance staff's live channel: a receipt entering or leaving the queue.
CHANNEL = "comprovantes"

# The fields a person may correct, as the OCR's confidence/doubt keys name them.
FIELD_LABELS = {
    "valor": "valor", "data_hora": "data/hora", "id_transacao": "ID da transação (E2E)",
    "pagador.nome": "nome do pagador", "pagador.documento": "documento do pagador",
    "pagador.instituicao": "instituição do pagador", "recebedor.nome": "nome do recebedor",
    "recebedor.documento": "documento do recebedor", "recebedor.instituicao": "instituição do recebedor",
    "recebedor.chave_pix": "chave Pix do recebedor",
}
FIELDS = tuple(FIELD_LABELS)
REQUIRED = ("valor", "data_hora", "id_transacao", "recebedor.nome")
MAX_TEXT_CHARS = 200
MAX_AMOUNT = Decimal("999999999999.99")  # Numeric(14, 2)


class CorrectionRefused(ValueError):
    """A correction that cannot be saved; `message` (pt-BR) is shown to the person as is."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def field_value(campos: dict[str, Any] | None, key: str) -> Any:
    """Return one field of a receipt's `campos` by its dotted key ("recebedor.nome")."""
    campos = campos or {}
    party, _, name = key.partition(".")
    if name:
        return (campos.get(party) or {}).get(name)
    return campos.get(key)


def motivos(campos: dict[str, Any] | None, validacao: dict[str, Any] | None) -> list[str]:
    """Return why a read receipt must wait for a person (pt-BR), or [] when it need not."""
    reasons = []
    doubtful = (campos or {}).get("duvidosos") or []
    for key in FIELDS:
        if key in doubtful:
            reasons.append(f"Leitura duvidosa: {FIELD_LABELS[key]}.")
    for key in REQUIRED:
        if field_value(campos, key) in (None, ""):
            reasons.append(f"Campo obrigatório não lido: {FIELD_LABELS[key]}.")
    if (validacao or {}).get("status") == INDETERMINADO:
        reasons.append("Conferência do recebedor indeterminada.")
    return reasons


def mark(receipt: Comprovante) -> None:
    """Set a freshly read receipt's review state from its fields and payee check."""
    reasons = motivos(receipt.campos, receipt.validacao_recebedor)
    receipt.revisao = REVISAO_PENDENTE if reasons else None
    receipt.revisao_motivos = reasons or None
    receipt.revisado_por = receipt.revisado_em = receipt.correcoes = None


def pending(limit: int = 200) -> list[Comprovante]:
    """Return the receipts waiting for review, oldest first."""
    with session_scope() as session:
        return list(session.scalars(select(Comprovante).where(Comprovante.revisao == REVISAO_PENDENTE)
                                    .order_by(Comprovante.id).limit(limit)))


# --- checking what a person typed ----------------------------------------------------------
_AMOUNT_BR = re.compile(r"(?:R\$\s*)?(\d{1,3}(?:\.\d{3})*|\d+),(\d{2})")
_AMOUNT_DOT = re.compile(r"(\d+)\.(\d{2})")
_DATE_ISO = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")
_DATE_BR = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M")


def clean_amount(raw: str) -> str:
    """"1.234,56", "R$ 1.234,56" or "1234.56" -> "1234.56"; refuse anything else."""
    text = raw.strip()
    if match := _AMOUNT_BR.fullmatch(text):
        value = Decimal(f"{match.group(1).replace('.', '')}.{match.group(2)}")
    elif match := _AMOUNT_DOT.fullmatch(text):
        value = Decimal(text)
    else:
        raise CorrectionRefused(f"Valor inválido: {raw!r} (use 1.234,56).")
    if not Decimal("0.01") <= value <= MAX_AMOUNT:
        raise CorrectionRefused(f"Valor fora do intervalo aceito: {raw!r}.")
    return f"{value:.2f}"


def clean_date_time(raw: str) -> str:
    """"dd/mm/aaaa hh:mm[:ss]" or ISO 8601 -> "YYYY-MM-DDTHH:MM[:SS]" (local time as printed)."""
    text = re.sub(r"\s+", " ", raw.strip())
    for pattern in _DATE_ISO + _DATE_BR:
        try:
            moment = datetime.strptime(text, pattern)
        except ValueError:
            continue
        if moment.year < 2020 or moment > datetime.now() + timedelta(days=2):
            raise CorrectionRefused(f"Data fora do intervalo aceito: {raw!r}.")
        return moment.strftime("%Y-%m-%dT%H:%M:%S" if pattern.endswith("%S") else "%Y-%m-%dT%H:%M")
    raise CorrectionRefused(f"Data/hora inválida: {raw!r} (use dd/mm/aaaa hh:mm).")


def clean_e2e(raw: str) -> str:
    """An end-to-end id exactly as the parser accepts one (E + ISPB + a real moment + 11)."""
    text = raw.strip()
    if len(text) != 32 or parse_e2e(text) != text:
        raise CorrectionRefused(f"ID da transação (E2E) inválido: {raw!r} (32 caracteres: E, o ISPB do "
                                "banco, data e hora aaaammddhhmm e 11 letras ou números).")
    return text


def clean_documento(raw: str) -> str:
    """A CPF or CNPJ, full (check digits verified) or masked as printed; plain digits are formatted."""
    text = raw.strip()
    digits = re.sub(r"[.\-/\s]", "", text)
    if digits.isdigit() and len(digits) == 11:
        if not cpf_valid(digits):
            raise CorrectionRefused(f"CPF inválido (dígitos verificadores): {raw!r}.")
        return f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}"
    if digits.isdigit() and len(digits) == 14:
        if not cnpj_valid(digits):
            raise CorrectionRefused(f"CNPJ inválido (dígitos verificadores): {raw!r}.")
        return f"{digits[:2]}.{digits[2:5]}.{digits[5:8]}/{digits[8:12]}-{digits[12:]}"
    found = find_documento(text)
    if found is None or len(found.numero) != len(re.sub(r"\s", "", text)):
        raise CorrectionRefused(f"Documento inválido: {raw!r} (CPF 000.000.000-00 ou CNPJ "
                                "00.000.000/0000-00; dígitos mascarados com *).")
    return found.numero


def clean_pix_key(raw: str) -> str:
    key = find_pix_key(raw.strip())
    if key is None:
        raise CorrectionRefused(f"Chave Pix inválida: {raw!r}.")
    return key


def clean_text(raw: str, label: str) -> str:
    text = re.sub(r"\s+", " ", raw).strip()
    if len(text) > MAX_TEXT_CHARS or not text.isprintable():
        raise CorrectionRefused(f"{label.capitalize()} inválido (até {MAX_TEXT_CHARS} caracteres).")
    return text


def clean(key: str, raw: Any) -> str | None:
    """Return the checked value of one corrected field (None: the field is cleared)."""
    if key not in FIELD_LABELS:
        raise CorrectionRefused(f"Campo desconhecido: {key!r}.")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str):
        raise CorrectionRefused(f"O campo {FIELD_LABELS[key]} deve ser um texto.")
    if key == "valor":
        return clean_amount(raw)
    if key == "data_hora":
        return clean_date_time(raw)
    if key == "id_transacao":
        return clean_e2e(raw)
    if key.endswith(".documento"):
        return clean_documento(raw)
    if key.endswith(".chave_pix"):
        return clean_pix_key(raw)
    return clean_text(raw, FIELD_LABELS[key])


def clean_all(values: Any) -> dict[str, str | None]:
    """Check every corrected field of a request body ({field: value}); refuse on the first error."""
    if not isinstance(values, dict):
        raise CorrectionRefused("Envie as correções como um objeto {campo: valor}.")
    return {key: clean(str(key), raw) for key, raw in values.items()}


# --- applying ------------------------------------------------------------------------------
def _set_field(campos: dict[str, Any], key: str, value: str | None) -> None:
    party, _, name = key.partition(".")
    if name:
        campos[party] = {**(campos.get(party) or {}), name: value}
        if name == "documento":
            campos[party]["tipo_documento"] = _document_type(value)
    else:
        campos[key] = value


def _document_type(numero: str | None) -> str | None:
    if not numero:
        return None
    return "cnpj" if len(re.sub(r"[^0-9*]", "", numero)) == 14 else "cpf"


def _payee(campos: dict[str, Any]) -> Parte:
    known = Parte.__dataclass_fields__
    return Parte(**{k: v for k, v in (campos.get("recebedor") or {}).items() if k in known})


def correct(comprovante_id: int, values: dict[str, Any], actor: str | int) -> dict[str, Any]:
    """Check and apply a person's corrections to a read receipt and confirm its review; return
    {"comprovante_id", "correcoes", "validacao_recebedor", "result"}. Raises CorrectionRefused.

    `values` holds only the fields that person changed or confirmed ({field: text}); `actor`
    is their user id or username. Confirming with nothing changed is a review too.
    """
    from core.comprovantes.processing import apply_fields, result_of

    cleaned = clean_all(values)
    settings = get_settings()
    for attempt in range(1, duplicados.CLAIM_ATTEMPTS + 1):
        try:
            with session_scope() as session:
                receipt = session.get(Comprovante, comprovante_id, with_for_update=True)
                if receipt is None:
                    raise CorrectionRefused(f"Comprovante {comprovante_id} não encontrado.", status=404)
                if receipt.status != CONCLUIDO:
                    raise CorrectionRefused("Só um comprovante já lido pode ser revisado.", status=409)
                campos = dict(receipt.campos or {})
                changes = {}
                for key, value in cleaned.items():
                    before = field_value(campos, key)
                    if before != value:
                        changes[key] = {"antes": before, "depois": value}
                        _set_field(campos, key, value)
                missing = [FIELD_LABELS[k] for k in REQUIRED if field_value(campos, k) in (None, "")]
                if missing:
                    raise CorrectionRefused("Preencha antes de confirmar: " + ", ".join(missing) + ".")
                # A person looked at every field beside the file: none is in doubt any more.
                campos["duvidosos"] = []
                validacao = validar_recebedor(_payee(campos), settings)
                apply_fields(session, receipt, campos, validacao.as_json())
                who = audit_name(session, actor)
                receipt.revisao, receipt.revisado_por, receipt.revisado_em = REVISAO_CONFIRMADA, who, utcnow()
                # Corrections add up across reviews (a redelivered task changes nothing):
                # each field keeps what the OCR read first and who set its value last.
                kept = dict(receipt.correcoes or {})
                for key, change in changes.items():
                    first = kept.get(key, change)["antes"]
                    kept[key] = {"antes": first, "depois": change["depois"], "por": who,
                                 "em": utcnow().isoformat()}
                receipt.correcoes = kept or None
                result = result_of(receipt)
                job = session.get(Job, receipt.job_id) if receipt.job_id else None
                if job is not None and job.status == jobs.FINISHED:
                    job.result, job.updated_at = result, utcnow()
                status = jobs.as_status(job) if job is not None else None
            break
        except (IntegrityError, OperationalError) as exc:
            # Another receipt of this E2E id was saved at the same moment: claim again, seeing it.
            if attempt == duplicados.CLAIM_ATTEMPTS or not duplicados.lost_claim_race(exc):
                raise
    audit.record("comprovante.revisao", actor=actor, target=f"comprovante#{comprovante_id}",
                 detail={"correcoes": changes, "validacao_recebedor": validacao.status})
    if status is not None:
        publish_safely(jobs.channel(status["job_id"]), "job", status)
    publish_safely(CHANNEL, "revisao", {"comprovante_id": comprovante_id, "revisao": REVISAO_CONFIRMADA})
    log.info("receipt reviewed comprovante=%s by=%s fields=%s validacao=%s", comprovante_id, who,
             ",".join(changes) or "-", validacao.status)
    return {"comprovante_id": comprovante_id, "correcoes": changes,
            "validacao_recebedor": validacao.as_json(), "result": result}


def audit_name(session: Any, actor: str | int) -> str:
    """The username kept on the receipt for who reviewed it."""
    from core.models import User

    if isinstance(actor, int):
        user = session.get(User, actor)
        return user.username if user is not None else f"usuario#{actor}"
    return actor[:80]
