"""The alerts pages: administrators set rules and recipients (validated, audited), TI reads
the history (filtered, paginated); one run in headless Chromium with CSRF on."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import insert, select

from core.alerts import config
from core.db import session_scope
from core.models import Alert, AuditEntry
from tests.alerts.support import evaluate, only
from web.alerts import PER_PAGE

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=timezone.utc)


def audit_actions() -> list[tuple[str, str | None, Any]]:
    with session_scope() as session:
        return [(e.action, e.target, e.detail) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("alerts.%")).order_by(AuditEntry.id))]


def test_rules_are_set_and_audited(client: Any) -> None:
    page = client.get("/alertas").get_data(as_text=True)
    assert 'data-rule="dispositivo_offline"' in page and 'id="smtp-off"' in page
    assert 'value="1000"' in page  # a threshold as the form reads it back (no thousands dot)
    answer = client.post("/alertas/regras/dispositivo_offline", data={"ativa": "1", "limite": "30"})
    assert answer.status_code == 303
    assert client.post("/alertas/regras/fila_sem_consumidor", data={"ativa": "0"}).status_code == 303
    settings = {s.key: s for s in config.rule_settings()}
    assert settings["dispositivo_offline"].threshold == 30 and settings["dispositivo_offline"].enabled
    assert not settings["fila_sem_consumidor"].enabled
    assert settings["spool_antigo"].threshold == 15  # untouched: its default
    for limit in ("abc", "1e3", "0", "99999999"):
        refused = client.post("/alertas/regras/dispositivo_offline", data={"ativa": "1", "limite": limit})
        assert refused.status_code == 400, limit
        assert "limite" in refused.get_data(as_text=True)
    assert client.post("/alertas/regras/nada", data={"ativa": "1"}).status_code == 400
    assert ("alerts.rule", "dispositivo_offline", {"ativa": True, "limite": 30.0}) in audit_actions()


def test_recipients_are_validated_masked_audited_and_tested(client: Any, receivers: dict[str, Any]) -> None:
    assert client.post("/alertas/destinatarios", data={"tipo": "email", "endereco": "x"}).status_code == 400
    assert client.post("/alertas/destinatarios",
                       data={"tipo": "webhook", "endereco": "ftp://a/b"}).status_code == 400
    duplicate = client.post("/alertas/destinatarios", data={"tipo": "email", "endereco": "plantao@loja.test"})
    assert duplicate.status_code == 400 and "já cadastrado" in duplicate.get_data(as_text=True)
    page = client.get("/alertas").get_data(as_text=True)
    assert "/services/…" in page and "segredo" not in page  # the webhook URL is its secret
    assert not any("segredo" in str(detail) for _, _, detail in audit_actions())
    [email, hook] = config.list_recipients()
    assert client.post(f"/alertas/destinatarios/{hook['id']}/testar").status_code == 303
    assert receivers["webhook"].texts()[0].startswith("[Stockflow] TESTE")
    assert client.post(f"/alertas/destinatarios/{email['id']}/ativo", data={"ativo": "0"}).status_code == 303
    assert [r[0] for r in config.enabled_recipients()] == [hook["id"]]
    assert client.post(f"/alertas/destinatarios/{email['id']}/testar").status_code == 400  # paused
    assert client.post(f"/alertas/destinatarios/{hook['id']}/remover").status_code == 303
    assert client.post(f"/alertas/destinatarios/{hook['id']}/remover").status_code == 400
    actions = [action for action, _, _ in audit_actions()]
    assert actions[-3:] == ["alerts.recipient_test", "alerts.recipient_enabled", "alerts.recipient_remove"]


@pytest.mark.mariadb
def test_history_filters_and_pages(client: Any, receivers: dict[str, Any]) -> None:
    only("disco_cheio", "100")
    evaluate(NOW)
    only("beat_parado")
    evaluate(NOW + timedelta(minutes=1))  # disco_cheio off: resolved; beat_parado fires
    page = client.get("/alertas/historico").get_data(as_text=True)
    assert page.count('<tr data-alert="') == 2 and "2 entregue" in page
    resolved = client.get("/alertas/historico?situacao=resolved").get_data(as_text=True)
    assert resolved.count('<tr data-alert="') == 1 and "Disco com pouco espaço" in resolved
    assert client.get("/alertas/historico?entrega=failed").get_data(as_text=True).count('<tr data-alert="') == 0
    assert client.get("/alertas/historico?regra=beat_parado").get_data(as_text=True).count('data-alert=') == 1
    assert client.get("/alertas/historico?situacao=nada").status_code == 400
    assert client.get("/alertas/historico?de=2026-13-01").status_code == 400
    with session_scope() as session:
        session.execute(insert(Alert), [{"rule": "fila_profunda", "subject": f"q{n}", "status": "resolved",
                                         "message": "m", "started_at": NOW - timedelta(days=2),
                                         "last_seen_at": NOW} for n in range(PER_PAGE)])
    first = client.get("/alertas/historico").get_data(as_text=True)
    assert first.count('<tr data-alert="') == PER_PAGE and 'rel="next"' in first
    second = client.get("/alertas/historico?pagina=2").get_data(as_text=True)
    assert second.count('<tr data-alert="') == 2 and 'rel="next"' not in second
    assert client.get("/alertas/historico?de=2026-11-29&ate=2026-11-29").get_data(
        as_text=True).count('<tr data-alert="') == PER_PAGE


@pytest.mark.browser
def test_the_page_in_chromium(page: Any, webhook: Any) -> None:
    page.goto("/alertas")
    row = page.locator('tr[data-rule="spool_antigo"]')
    row.locator("input[name=limite]").fill("45")
    row.locator("button[type=submit]").click()
    page.wait_for_selector(".alert-sucesso")
    assert "limite 45" in page.inner_text(".alert-sucesso")
    page.select_option("#novo-destinatario select[name=tipo]", "webhook")
    page.fill("#novo-destinatario input[name=endereco]", webhook.url)
    page.click("#novo-destinatario button[type=submit]")
    page.wait_for_selector("text=Destinatário adicionado.")
    page.click('tr[data-recipient] form[action$="/testar"] button')
    page.wait_for_selector(".alert-sucesso")
    assert webhook.texts() and webhook.texts()[0].startswith("[Stockflow] TESTE")
    page.click("text=Histórico de alertas")
    page.wait_for_selector("#alertas")
    assert {s.key: s.threshold for s in config.rule_settings()}["spool_antigo"] == 45
