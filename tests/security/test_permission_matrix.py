"""The route-permission matrix: every route of the app's URL map and every method it declares,
sent by every caller (anonymous, each role signed in, each role's bearer token, an expired
and a revoked token), against the answer the table below expects.

The table is written out by hand, on purpose: a route added without a line here, a rule or a
role's permissions changed in the code, and this test fails. HEAD and OPTIONS, which Flask
adds to every route by itself, are left out.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from core import jobs
from core.db import session_scope
from core.models import ApiToken
from core.models.types import utcnow
from core.users import create_token, revoke_token
from tests.security.access_support import Caller, callers, role_users

LOJA, FIN, TI, ADM = "loja", "financeiro", "ti", "admin"
ANYONE = "anyone"  # no login needed
SIGNED_IN = (LOJA, FIN, TI, ADM)

# (method, endpoint): (who may, sample path, body, status when let in). The samples are chosen
# so that a caller let in changes nothing: unknown ids (404), bodies that fail validation.
MATRIX: dict[tuple[str, str], tuple[Any, str, dict[str, Any] | None, int]] = {
    ("GET", "static"): (ANYONE, "/static/css/app.css", None, 200),
    ("GET", "auth.login"): (ANYONE, "/login", None, 200),
    # a wrong password (each caller names another account: the login is throttled per account)
    ("POST", "auth.login"): (ANYONE, "/login", {"username": "ninguem{n}", "password": "errada"}, 401),
    ("GET", "probes.healthz"): (ANYONE, "/healthz", None, 200),
    ("GET", "probes.readyz"): (ANYONE, "/readyz", None, 503),  # no worker in this test
    ("POST", "auth.logout"): (SIGNED_IN, "/logout", None, 302),
    ("GET", "home.index"): (SIGNED_IN, "/", None, 200),
    ("GET", "jobs.status"): (SIGNED_IN, "/jobs/00000000-0000-0000-0000-000000000000/status", None, 404),
    ("GET", "sse.stream"): (SIGNED_IN, "/stream?channel=job:{job}", None, 200),  # an ownerless job
    ("GET", "baixa.index"): ((LOJA, TI, ADM), "/baixas", None, 200),
    ("GET", "baixa.api_scans"): ((LOJA, TI, ADM), "/api/baixas/leituras?loja=L1", None, 200),
    ("GET", "baixa.api_removed"): ((LOJA, TI, ADM), "/api/baixas/removidos?loja=L1", None, 200),
    ("GET", "baixa.api_undos"): ((LOJA, TI, ADM), "/api/baixas/estornos?loja=L1", None, 200),
    ("POST", "baixa.api_undo"): ((ADM,), "/api/baixas/removidos/999999/estorno", {}, 400),
    ("GET", "baixa.api_dead_letters"): ((TI, ADM), "/api/baixas/dead-letters", None, 200),
    ("POST", "baixa.api_replay"): ((TI, ADM), "/api/baixas/dead-letters/999999/replay", None, 404),
    ("GET", "baixa.export_history"): ((LOJA, TI, ADM), "/baixas/exportar/historico.csv?loja=L1", None, 200),
    ("GET", "baixa.export_rejected"): ((LOJA, TI, ADM), "/baixas/exportar/rejeitadas.xlsx?loja=L1", None, 200),
    ("GET", "exports.comprovantes"): ((LOJA, FIN, ADM), "/financeiro/comprovantes/exportar.csv", None, 200),
    ("GET", "comprovantes.index"): ((LOJA, FIN, ADM), "/financeiro/comprovantes", None, 200),
    ("GET", "comprovantes.listing"): ((LOJA, FIN, ADM), "/api/comprovantes", None, 200),
    ("GET", "comprovantes.detail"): ((LOJA, FIN, ADM), "/api/comprovantes/999999", None, 404),
    ("POST", "comprovantes.upload"): ((LOJA, FIN, ADM), "/api/comprovantes", {}, 400),
    ("GET", "comprovantes.review_queue"): ((FIN, ADM), "/api/comprovantes/revisao", None, 200),
    ("GET", "comprovantes.original_file"): ((FIN, ADM), "/api/comprovantes/999999/arquivo", None, 404),
    ("POST", "comprovantes.confirm_review"): ((FIN, ADM), "/api/comprovantes/999999/revisao", {}, 404),
    ("GET", "ruptura.index"): ((FIN, ADM), "/carteira", None, 200),
    ("POST", "ruptura.iniciar_analise"): ((FIN, ADM), "/api/carteira/ruptura/analises", {}, 400),
    ("GET", "ruptura.resultados_da_analise"): ((FIN, ADM), "/api/carteira/ruptura/analises/" + "f" * 32, None, 404),
    ("POST", "ruptura.reanalisar_pedido"): ((FIN, ADM), "/api/carteira/ruptura/pedidos/P-NENHUM", None, 404),
    ("GET", "ruptura.valor_em_risco"): ((FIN, ADM), "/api/carteira/ruptura/valor-em-risco", None, 200),
    ("GET", "ruptura.exportar"): ((FIN, ADM), "/carteira/exportar.xlsx", None, 200),
    ("GET", "health.index"): ((TI, ADM), "/dispositivos", None, 200),
    ("GET", "health.device"): ((TI, ADM), "/dispositivos/pi-nenhum", None, 404),
    ("GET", "health.api_fleet"): ((TI, ADM), "/api/dispositivos", None, 200),
    ("GET", "health.api_history"): ((TI, ADM), "/api/dispositivos/pi-nenhum/historico", None, 404),
    ("PUT", "health.api_set_limits"): ((TI, ADM), "/api/dispositivos/pi-nenhum/limites", {}, 404),
    ("GET", "sync.index"): ((TI, ADM), "/sync", None, 200),
    ("GET", "sync.rejection_list"): ((TI, ADM), "/api/plusoft/rejeicoes", None, 200),
    ("GET", "sync.history"): ((TI, ADM), "/api/plusoft/execucoes", None, 200),
    ("POST", "sync.replay_one"): ((TI, ADM), "/api/plusoft/rejeicoes/999999/reenviar", None, 404),
    ("POST", "sync.replay_all"): ((TI, ADM), "/api/plusoft/produtos/rejeicoes/reenviar", None, 409),
    ("POST", "sync.sync_one"): ((TI, ADM), "/api/plusoft/produtos/sincronizar", {"modo": "x"}, 422),
    ("POST", "sync.sync_all"): ((TI, ADM), "/api/plusoft/sincronizar", {"modo": "x"}, 422),
    ("POST", "sync.dry_run_one"): ((TI, ADM), "/api/plusoft/produtos/simular", {"modo": "x"}, 422),
    ("POST", "sync.dry_run_all"): ((TI, ADM), "/api/plusoft/simular", {"modo": "x"}, 422),
    ("GET", "sync.export_rejections"): ((TI, ADM), "/sync/rejeicoes/exportar.csv?execucao=nenhuma", None, 404),
    ("GET", "sync.source_page"): ((TI, ADM), "/api/consinco/produtos?limite=1", None, 200),
    ("GET", "audit.index"): ((ADM,), "/auditoria", None, 200),
    ("GET", "audit.export_csv"): ((ADM,), "/auditoria/exportar.csv", None, 200),
    ("GET", "admin.index"): ((ADM,), "/admin/usuarios", None, 200),
    ("POST", "admin.create_user"): ((ADM,), "/admin/usuarios", {"username": ""}, 400),
    ("POST", "admin.change_role"): ((ADM,), "/admin/usuarios/ninguem/papel", {"role": "ti"}, 400),
    ("POST", "admin.set_active"): ((ADM,), "/admin/usuarios/ninguem/ativo", {"ativo": "0"}, 400),
    ("POST", "admin.reset_password"): ((ADM,), "/admin/usuarios/ninguem/senha", {}, 400),
    ("POST", "admin.create_token"): ((ADM,), "/admin/tokens", {"username": "ninguem"}, 400),
    ("POST", "admin.revoke_token"): ((ADM,), "/admin/tokens/999999/revogar", None, 400),
    ("GET", "dead_letters.index"): ((TI, ADM), "/falhas", None, 200),
    ("GET", "dead_letters.listing"): ((TI, ADM), "/api/falhas?area=baixa", None, 200),
    ("GET", "dead_letters.detail"): ((TI, ADM), "/api/falhas/999999", None, 404),
    ("POST", "dead_letters.replay"): ((TI, ADM), "/api/falhas/reenviar", {"ids": "999999"}, 400),
    ("POST", "dead_letters.discard"): ((TI, ADM), "/api/falhas/descartar", {"ids": "x", "motivo": "m"}, 400),
    ("GET", "alerts.index"): ((ADM,), "/alertas", None, 200),
    ("POST", "alerts.save_rule"): ((ADM,), "/alertas/regras/nenhuma", {"ativa": "1"}, 400),
    ("POST", "alerts.add_recipient"): ((ADM,), "/alertas/destinatarios", {"tipo": "sms"}, 400),
    ("POST", "alerts.set_recipient_enabled"): ((ADM,), "/alertas/destinatarios/999999/ativo", None, 400),
    ("POST", "alerts.remove_recipient"): ((ADM,), "/alertas/destinatarios/999999/remover", None, 400),
    ("POST", "alerts.test_recipient"): ((ADM,), "/alertas/destinatarios/999999/testar", None, 400),
    ("GET", "alerts.history_page"): ((TI, ADM), "/alertas/historico", None, 200),
    # no login: Prometheus's bearer token is its key; without STOCKFLOW_METRICS_TOKEN it is off
    # (tests/metrics: 401 without or with a wrong token, sessions and API tokens included)
    ("GET", "metrics.scrape"): (ANYONE, "/metrics", None, 404),
    # Flower behind the app's login; ".." is refused before anything is forwarded.
    **{(method, "flower_proxy.forward"): ((ADM,), "/flower/../tasks", None, 404)
       for method in ("GET", "POST", "PUT", "DELETE")},
}

# Beyond the route: the personal data in Consinco's clientes, and the SSE channels.
PERSONAL_DATA = ((ADM,), "/api/consinco/clientes?limite=1")
CHANNELS = {  # channel: who may subscribe
    "store:L1": (LOJA, TI, ADM),
    "devices": (TI, ADM),
    "sync": (TI, ADM),
    "comprovantes": (FIN, ADM),  # the review queue's live updates
    "job:{admin_job}": (ADM,),  # a job's owner (here the administrator) and administrators
    # the home page's blocks, each for those who may open the page it links to
    "overview:operacao": (TI, ADM),
    "overview:baixas": (LOJA, TI, ADM),
    "overview:dispositivos": (TI, ADM),
    "overview:sync": (TI, ADM),
    "overview:comprovantes": (FIN, ADM),
}


def app_routes(app: Any) -> set[tuple[str, str]]:
    """Every (method, endpoint) of the app's URL map, without Flask's automatic HEAD/OPTIONS."""
    return {(method, rule.endpoint) for rule in app.url_map.iter_rules()
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def expected(caller: Caller, who: Any, path: str, let_in: int) -> int:
    """The answer the table expects for this caller."""
    if who == ANYONE:
        return let_in
    if caller.role is None:  # anonymous, or a token that no longer works
        api = path.startswith(("/api/", "/jobs/", "/stream")) or caller.token is not None
        return 401 if api else 302
    return let_in if caller.role in who else 403


@pytest.fixture
def everyone(app: Any, monkeypatch: Any) -> list[Caller]:
    """Every caller of the matrix, on a database holding the jobs the samples name."""
    import web.probes

    # /readyz pings Celery's workers for a second; there are none here: say so at once.
    monkeypatch.setattr(web.probes, "_workers", lambda: (_ for _ in ()).throw(RuntimeError("none")))
    users = role_users()
    found = callers(users)
    expired = create_token(users[ADM].username, "expirado")
    with session_scope() as session:
        session.execute(update(ApiToken).where(ApiToken.label == "expirado")
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
    revoked = create_token(users[ADM].username, "revogado")
    with session_scope() as session:
        revoked_id = session.query(ApiToken.id).filter_by(label="revogado").scalar()
    assert revoke_token(revoked_id)
    found += [Caller("token expirado", None, token=expired), Caller("token revogado", None, token=revoked)]
    app.config["SAMPLES"] = {"job": jobs.create_job("matriz"),
                             "admin_job": jobs.create_job("matriz", owner_id=users[ADM].id)}
    return found


def test_every_route_has_a_line_in_the_matrix(app: Any) -> None:
    routes = app_routes(app)
    missing = sorted(routes - set(MATRIX))
    assert not missing, f"routes without a line in MATRIX (add one, with who may call them): {missing}"
    gone = sorted(set(MATRIX) - routes)
    assert not gone, f"MATRIX lines for routes that no longer exist: {gone}"


def test_every_route_answers_every_caller_as_the_matrix_says(app: Any, everyone: list[Caller]) -> None:
    client = app.test_client()
    samples = app.config["SAMPLES"]
    wrong = []
    for (method, endpoint), (who, path, body, let_in) in sorted(MATRIX.items()):
        path = path.format(**samples)
        for n, caller in enumerate(everyone):
            sent = {key: value.format(n=n) for key, value in body.items()} if body else body
            status = caller.send(client, method, path, sent).status_code
            if status != expected(caller, who, path, let_in):
                wrong.append(f"{method} {path} as {caller.name}: {status}, "
                             f"expected {expected(caller, who, path, let_in)}")
    assert not wrong, "\n".join(wrong)


def test_personal_data_and_channels_per_caller(app: Any, everyone: list[Caller]) -> None:
    client = app.test_client()
    samples = app.config["SAMPLES"]
    checks = [(*PERSONAL_DATA, 200)]
    checks += [(who, f"/stream?channel={channel.format(**samples)}", 200)
               for channel, who in CHANNELS.items()]
    wrong = []
    for who, path, let_in in checks:
        for caller in everyone:
            status = caller.send(client, "GET", path).status_code
            if status != expected(caller, who, path, let_in):
                wrong.append(f"GET {path} as {caller.name}: {status}, "
                             f"expected {expected(caller, who, path, let_in)}")
    assert not wrong, "\n".join(wrong)


def test_a_route_without_a_rule_is_refused_to_everyone(app: Any, everyone: list[Caller]) -> None:
    @app.get("/sem-regra")
    def undeclared() -> str:
        return "nunca"

    client = app.test_client()
    for caller in everyone:
        status = caller.send(client, "GET", "/sem-regra").status_code
        assert status == (302 if caller.role is None and caller.token is None else
                          401 if caller.role is None else 403), caller.name
    assert ("GET", "undeclared") not in MATRIX  # and the line-per-route test would name it
