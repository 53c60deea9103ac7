"""What administrators set from the web: each rule on or off and its threshold, and the
recipients (e-mail addresses, webhook URLs). Every change is audited."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from core import audit
from core.alerts.rules import RULES, Rule
from core.db import session_scope
from core.models import AlertRecipient, AlertRule
from core.models.types import utcnow
from core.settings import get_settings

EMAIL, WEBHOOK = "email", "webhook"
KINDS = (EMAIL, WEBHOOK)
MAX_ADDRESS = 500
# One address, no display name, no line break (a header injection would need one).
EMAIL_PATTERN = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


@dataclass(frozen=True)
class RuleSetting:
    """A rule as it runs: the code's description plus the administrator's choices."""

    rule: Rule
    enabled: bool
    threshold: float | None

    @property
    def key(self) -> str:
        return self.rule.key


def rule_settings() -> list[RuleSetting]:
    """Every rule with its current choice (a rule nobody changed: on, default threshold)."""
    with session_scope() as session:
        rows = {row.key: (row.enabled, row.threshold) for row in session.scalars(select(AlertRule))}
    found = []
    for key, rule in RULES.items():
        enabled, threshold = rows.get(key, (True, None))
        if rule.threshold_label is None:
            threshold = None
        elif threshold is None:
            threshold = rule.default_threshold
        found.append(RuleSetting(rule, enabled, threshold))
    return found


def parse_threshold(rule: Rule, text: str) -> float | None:
    """Return the threshold written in `text` (a comma or a point for decimals), within the
    rule's bounds; ValueError in pt-BR otherwise."""
    if rule.threshold_label is None:
        return None
    text = text.strip().replace(",", ".")
    if not re.fullmatch(r"[0-9]{1,9}(\.[0-9]{1,3})?", text):
        raise ValueError(f"{rule.title}: informe o limite como número ({rule.threshold_label}).")
    value = float(text)
    if not rule.minimum <= value <= rule.maximum:
        raise ValueError(f"{rule.title}: o limite deve ficar entre {rule.minimum:g} e "
                         f"{rule.maximum:g} ({rule.threshold_label}).")
    return value


def save_rule(key: str, enabled: bool, threshold_text: str, by: str) -> RuleSetting:
    """Turn a rule on or off and set its threshold (audited); LookupError for an unknown rule."""
    rule = RULES.get(key)
    if rule is None:
        raise LookupError(f"regra desconhecida: {key}")
    threshold = parse_threshold(rule, threshold_text)
    with session_scope() as session:
        row = session.get(AlertRule, key)
        if row is None:
            row = AlertRule(key=key)
            session.add(row)
        row.enabled, row.threshold, row.updated_at, row.updated_by = enabled, threshold, utcnow(), by
    audit.record("alerts.rule", actor=by, target=key,
                 detail={"ativa": enabled, "limite": threshold})
    return RuleSetting(rule, enabled, threshold if threshold is not None else rule.default_threshold)


def validate_address(kind: str, address: str) -> str:
    """Return the address cleaned, or raise ValueError saying what is wrong (pt-BR).

    Webhooks must be https in production: the URL itself is the credential (Slack, Teams and
    Google Chat put the secret in it), and each alert names devices and stores. Plain http is
    accepted in development and tests (a local receiver).
    """
    address = address.strip()
    if kind not in KINDS:
        raise ValueError("tipo de destinatário inválido (use e-mail ou webhook)")
    if not address or len(address) > MAX_ADDRESS or not address.isprintable():
        raise ValueError(f"endereço vazio, com caracteres de controle ou com mais de {MAX_ADDRESS} "
                         "caracteres")
    if kind == EMAIL:
        if len(address) > 254 or not EMAIL_PATTERN.fullmatch(address):
            raise ValueError(f"e-mail inválido: {address}")
        return address
    parts = urlsplit(address)
    allowed = ("https",) if get_settings().is_production else ("https", "http")
    if parts.scheme not in allowed or not parts.hostname:
        raise ValueError("URL de webhook inválida: use https://... (em produção, http:// sem TLS "
                         "é recusado)")
    if parts.username or parts.password:
        raise ValueError("URL de webhook com usuário e senha não é aceita")
    return address


def shown(kind: str, address: str) -> str:
    """The address as pages and the audit trail show it: a webhook's path is its secret."""
    if kind != WEBHOOK:
        return address
    parts = urlsplit(address)
    first = parts.path.strip("/").split("/", 1)[0]
    return f"{parts.scheme}://{parts.netloc}/{first}/…" if first else f"{parts.scheme}://{parts.netloc}/"


def list_recipients() -> list[dict[str, Any]]:
    """Every recipient as the page shows it, oldest first."""
    with session_scope() as session:
        return [{"id": row.id, "kind": row.kind, "shown": shown(row.kind, row.address),
                 "enabled": row.enabled, "created_at": row.created_at, "created_by": row.created_by}
                for row in session.scalars(select(AlertRecipient).order_by(AlertRecipient.id))]


def enabled_recipients() -> list[tuple[int, str, str]]:
    """(id, kind, address) of every recipient that gets alerts."""
    with session_scope() as session:
        return [(row.id, row.kind, row.address) for row in session.scalars(
            select(AlertRecipient).where(AlertRecipient.enabled.is_(True)).order_by(AlertRecipient.id))]


def add_recipient(kind: str, address: str, by: str) -> int:
    """Add a recipient (validated, audited with the address as shown); return its id."""
    address = validate_address(kind, address)
    with session_scope() as session:
        duplicate = session.scalar(select(AlertRecipient.id).where(
            AlertRecipient.kind == kind, AlertRecipient.address == address))
        if duplicate is not None:
            raise ValueError(f"destinatário já cadastrado (#{duplicate})")
        row = AlertRecipient(kind=kind, address=address, enabled=True, created_by=by)
        session.add(row)
        session.flush()
        recipient_id = row.id
    audit.record("alerts.recipient_add", actor=by, target=str(recipient_id),
                 detail={"tipo": kind, "destino": shown(kind, address)})
    return recipient_id


def set_recipient_enabled(recipient_id: int, enabled: bool, by: str) -> None:
    """Pause or resume a recipient (audited); LookupError when it does not exist."""
    with session_scope() as session:
        row = session.get(AlertRecipient, recipient_id)
        if row is None:
            raise LookupError(f"destinatário {recipient_id} não existe")
        row.enabled = enabled
        detail = {"tipo": row.kind, "destino": shown(row.kind, row.address), "ativo": enabled}
    audit.record("alerts.recipient_enabled", actor=by, target=str(recipient_id), detail=detail)


def remove_recipient(recipient_id: int, by: str) -> None:
    """Delete a recipient (its past deliveries stay in the history); audited."""
    with session_scope() as session:
        row = session.get(AlertRecipient, recipient_id)
        if row is None:
            raise LookupError(f"destinatário {recipient_id} não existe")
        detail = {"tipo": row.kind, "destino": shown(row.kind, row.address)}
        session.delete(row)
    audit.record("alerts.recipient_remove", actor=by, target=str(recipient_id), detail=detail)
