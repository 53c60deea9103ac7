"""The alerts pages: /alertas for administrators (rules on or off and their thresholds, the
recipients, a test message) and /alertas/historico (every alert, its messages and whether
they were delivered). Plain forms: each change answers 303 back to the page, or 400 with why."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from core import audit
from core.alerts import config, delivery, history
from core.alerts.rules import RULES
from core.models.auth import ALERTAS, ALERTAS_CONFIGURAR
from core.settings import get_settings
from web.access import allowed, requires
from web.params import choice_arg, date_arg, int_arg

bp = Blueprint("alerts", __name__)

PER_PAGE = 50
MAX_PAGE = 100_000
STATUS_LABELS = {"firing": "ativo", "resolved": "resolvido"}
DELIVERY_LABELS = {"pending": "pendente", "delivered": "entregue", "failed": "falhou"}
EVENT_LABELS = {"fired": "disparo", "reminder": "lembrete", "resolved": "resolvido"}


def _page(status: int = 200) -> Any:
    settings = get_settings()
    return render_template("alerts/index.html", rules=config.rule_settings(),
                           recipients=config.list_recipients(), kinds=config.KINDS,
                           smtp_host=settings.alerts_smtp_host,
                           smtp_security=settings.alerts_smtp_security,
                           cooldown=settings.alerts_cooldown_minutes,
                           production=settings.is_production,
                           firing=history.firing_by_rule()), status


def _done(message: str) -> Any:
    flash(message, "sucesso")
    return redirect(url_for("alerts.index"), code=303)


def _refused(error: Exception) -> Any:
    flash(str(error.args[0] if error.args else error), "erro")
    return _page(400)


def _form(name: str, max_chars: int = 600) -> str:
    return (request.form.get(name) or "").strip()[:max_chars]


@bp.get("/alertas")
@requires(ALERTAS_CONFIGURAR)
def index() -> Any:
    return _page()


@bp.post("/alertas/regras/<key>")
@requires(ALERTAS_CONFIGURAR)
def save_rule(key: str) -> Any:
    try:
        setting = config.save_rule(key, _form("ativa", 1) == "1", _form("limite", 20),
                                   current_user.username)
    except (ValueError, LookupError) as exc:
        return _refused(exc)
    return _done(f"Regra “{setting.rule.title}” {'ativada' if setting.enabled else 'desativada'}"
                 + (f", limite {setting.threshold:g}." if setting.threshold is not None else "."))


@bp.post("/alertas/destinatarios")
@requires(ALERTAS_CONFIGURAR)
def add_recipient() -> Any:
    try:
        config.add_recipient(_form("tipo", 16), _form("endereco"), current_user.username)
    except ValueError as exc:
        return _refused(exc)
    return _done("Destinatário adicionado.")


@bp.post("/alertas/destinatarios/<int:recipient_id>/ativo")
@requires(ALERTAS_CONFIGURAR)
def set_recipient_enabled(recipient_id: int) -> Any:
    enabled = _form("ativo", 1) == "1"
    try:
        config.set_recipient_enabled(recipient_id, enabled, current_user.username)
    except LookupError as exc:
        return _refused(exc)
    return _done(f"Destinatário {'reativado' if enabled else 'pausado'}.")


@bp.post("/alertas/destinatarios/<int:recipient_id>/remover")
@requires(ALERTAS_CONFIGURAR)
def remove_recipient(recipient_id: int) -> Any:
    try:
        config.remove_recipient(recipient_id, current_user.username)
    except LookupError as exc:
        return _refused(exc)
    return _done("Destinatário removido.")


@bp.post("/alertas/destinatarios/<int:recipient_id>/testar")
@requires(ALERTAS_CONFIGURAR)
def test_recipient(recipient_id: int) -> Any:
    """Send a test message to one recipient now and say whether it went (audited)."""
    found = [r for r in config.enabled_recipients() if r[0] == recipient_id]
    if not found:
        return _refused(LookupError(f"destinatário {recipient_id} não existe ou está pausado"))
    _, kind, address = found[0]
    text = (f"[Stockflow] TESTE: mensagem de teste pedida por {current_user.username}\n"
            "Se você recebeu isto, os alertas do Stockflow chegam a este destino.")
    try:
        delivery.send(kind, address, text)
        error = None
    except delivery.DeliveryError as exc:
        error = str(exc)
    audit.record("alerts.recipient_test", actor=None, target=str(recipient_id),
                 outcome="ok" if error is None else "failed",
                 detail={"destino": config.shown(kind, address), "erro": error})
    if error is not None:
        return _refused(RuntimeError(f"Teste não entregue: {error}"))
    return _done("Mensagem de teste entregue ao servidor do destinatário.")


@bp.get("/alertas/historico")
@requires(ALERTAS)
def history_page() -> Any:
    """One page of alerts, newest first, with each message and its delivery."""
    filtro = history.HistoryFilter(
        regra=choice_arg("regra", "", tuple(RULES)),
        situacao=choice_arg("situacao", "", history.STATUSES),
        entrega=choice_arg("entrega", "", history.DELIVERY_STATUSES),
        de=date_arg("de"), ate=date_arg("ate"))
    page = int_arg("pagina", 1, minimum=1, maximum=MAX_PAGE)
    alerts, has_next = history.search(filtro, page, PER_PAGE)
    return render_template("alerts/history.html", alerts=alerts, has_next=has_next, page=page,
                           filtro=filtro, args=filtro.as_args(), rules=RULES,
                           status_labels=STATUS_LABELS, delivery_labels=DELIVERY_LABELS,
                           event_labels=EVENT_LABELS,
                           may_configure=allowed(current_user, ALERTAS_CONFIGURAR))
