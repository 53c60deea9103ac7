"""Users, roles and bearer tokens managed from the users page and the CLI: roles apply at the
next request, deactivation and revocation at once for sessions and within web.auth's
TOKEN_CACHE_S for bearer tokens (each web process looks a token up again that often), tokens
expire on time, every change is audited, one administrator always remains, and demo users and
data are refused in production."""
from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from core.db import session_scope
from core.models import ApiToken, AuditEntry, User
from core.models.types import utcnow
from core.settings import get_settings
from core.users import (
    DemoInProduction,
    create_token,
    create_user,
    ensure_demo_user,
    list_tokens,
    revoke_token,
    set_active,
    set_role,
)
from tests.security.access_support import Caller, role_users
from tests.support.web import login
from web import auth as web_auth


def strong_password() -> str:
    return "Sf-" + secrets.token_urlsafe(15)


def audited(action: str) -> list[tuple[str, str | None]]:
    with session_scope() as session:
        rows = session.execute(select(AuditEntry.actor, AuditEntry.target)
                               .where(AuditEntry.action == action).order_by(AuditEntry.id))
        return [tuple(row) for row in rows]


def bearer(client: Any, token: str, path: str = "/api/plusoft/execucoes") -> int:
    return client.get(path, headers={"Authorization": f"Bearer {token}"}).status_code


@pytest.fixture
def token_cache_passes(monkeypatch: Any) -> Callable[[float], None]:
    """Move web.auth's token-cache clock on by `seconds` (TOKEN_CACHE_S by default): what a web
    process sees that long after a token or its user changed."""
    clock = [1_000.0]
    monkeypatch.setattr(web_auth, "monotonic", lambda: clock[0])

    def later(seconds: float = web_auth.TOKEN_CACHE_S) -> None:
        clock[0] += seconds

    return later


@pytest.fixture
def people(app: Any) -> dict[str, Any]:
    """One user per role (pessoa_<role>)."""
    return role_users()


def test_a_new_role_applies_at_the_next_request(app: Any, people: dict[str, Any]) -> None:
    client, loja = app.test_client(), Caller("loja", "loja", people["loja"].id)
    assert loja.send(client, "GET", "/api/plusoft/execucoes").status_code == 403
    set_role("pessoa_loja", "ti")
    assert loja.send(client, "GET", "/api/plusoft/execucoes").status_code == 200
    with pytest.raises(ValueError, match="papel desconhecido"):
        set_role("pessoa_loja", "dono")


def test_deactivation_ends_the_session_and_the_tokens_at_once(app: Any, people: dict[str, Any]) -> None:
    client, ti = app.test_client(), Caller("ti", "ti", people["ti"].id)
    token = create_token("pessoa_ti", "script")
    assert ti.send(client, "GET", "/sync").status_code == 200 and bearer(client, token) == 200
    set_active("pessoa_ti", False)
    assert ti.send(client, "GET", "/sync").status_code == 302  # back to the login page
    assert bearer(client, token) == 401
    set_active("pessoa_ti", True)
    assert bearer(client, token) == 200


def test_tokens_expire_are_revoked_and_show_their_last_use(app: Any, people: dict[str, Any],
                                                          token_cache_passes: Any) -> None:
    client = app.test_client()
    token = create_token("pessoa_ti", "cron")
    [info] = list_tokens("pessoa_ti")
    # the default validity is STOCKFLOW_TOKEN_DAYS (90)
    assert timedelta(days=89) < info.expires_at - utcnow() <= timedelta(days=90)
    assert info.last_used_at is None and info.status == "ativo"
    assert bearer(client, token) == 200
    assert list_tokens("pessoa_ti")[0].last_used_at is not None

    with session_scope() as session:
        session.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    token_cache_passes()
    assert bearer(client, token) == 401 and list_tokens("pessoa_ti")[0].status == "expirado"

    second = create_token("pessoa_ti", "outro", days=7)
    assert bearer(client, second) == 200
    assert revoke_token(list_tokens("pessoa_ti")[0].id)
    token_cache_passes()
    assert bearer(client, second) == 401 and list_tokens("pessoa_ti")[0].status == "revogado"
    assert not revoke_token(list_tokens("pessoa_ti")[0].id)  # already revoked
    for days in (0, 91):
        with pytest.raises(ValueError, match="de 1 a 90 dias"):
            create_token("pessoa_ti", days=days)


def test_the_last_active_administrator_stays(app: Any, people: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="pelo menos um administrador"):
        set_role("pessoa_admin", "ti")
    with pytest.raises(ValueError, match="pelo menos um administrador"):
        set_active("pessoa_admin", False)
    with session_scope() as session:
        assert session.scalar(select(User.role).where(User.username == "pessoa_admin")) == "admin"


def test_users_page_manages_users_roles_and_tokens(app: Any, people: dict[str, Any],
                                                  token_cache_passes: Any) -> None:
    client, admin = app.test_client(), Caller("admin", "admin", people["admin"].id)

    def post(path: str, form: dict[str, str]) -> Any:
        return admin.send(client, "POST", path, form)

    password = strong_password()
    assert post("/admin/usuarios", {"username": "bia", "name": "Bia", "role": "financeiro",
                                    "password": password}).status_code == 303
    listing = admin.send(client, "GET", "/admin/usuarios").get_data(as_text=True)
    assert 'data-username="bia"' in listing
    refused = post("/admin/usuarios", {"username": "bia", "role": "loja", "password": password})
    assert refused.status_code == 400 and "já existe" in refused.get_data(as_text=True)
    assert post("/admin/usuarios/bia/papel", {"role": "ti"}).status_code == 303
    # an administrator cannot lock themself out from the page
    assert post("/admin/usuarios/pessoa_admin/papel", {"role": "loja"}).status_code == 400
    new_password = strong_password()
    assert post("/admin/usuarios/bia/senha", {"password": new_password}).status_code == 303

    bia = app.test_client()
    login(bia, "bia", new_password)
    assert bia.get("/sync").status_code == 200  # ti now

    created = post("/admin/tokens", {"username": "bia", "label": "relatório", "dias": "30"})
    assert created.status_code == 201
    token = re.search(r"<code>([^<]+)</code>", created.get_data(as_text=True)).group(1)
    assert bearer(app.test_client(), token) == 200
    listing = admin.send(client, "GET", "/admin/usuarios").get_data(as_text=True)
    assert token not in listing  # shown once
    [info] = list_tokens("bia")
    row = re.search(rf'<tr data-token-id="{info.id}">(.*?)</tr>', listing, re.S).group(1)
    assert info.expires_at.strftime("%d/%m/%Y") in row and "relatório" in row
    assert info.last_used_at.strftime("%d/%m/%Y %H:%M") in row  # the last use, not "—"
    assert post(f"/admin/tokens/{info.id}/revogar", {}).status_code == 303
    token_cache_passes()
    assert bearer(app.test_client(), token) == 401

    assert post("/admin/usuarios/bia/ativo", {"ativo": "0"}).status_code == 303
    assert bia.get("/sync").status_code == 302

    admin_name = "pessoa_admin"
    assert audited("user.create")[-1] == (admin_name, "bia")
    assert audited("user.role") == [(admin_name, "bia")]
    assert audited("user.password") == [(admin_name, "bia")]
    assert audited("user.deactivate") == [(admin_name, "bia")]
    assert audited("token.create")[-1] == (admin_name, f"token#{info.id}")
    assert audited("token.revoke") == [(admin_name, f"token#{info.id}")]


def test_users_page_forms_carry_the_csrf_token(db: str, people: dict[str, Any]) -> None:
    from web.app import create_app

    app = create_app({"TESTING": True})  # CSRF on, as in production
    client, admin = app.test_client(), Caller("admin", "admin", people["admin"].id)
    page = admin.send(client, "GET", "/admin/usuarios").get_data(as_text=True)
    form = re.search(r'<form method="post" action="/admin/usuarios" .*?</form>', page, re.S).group(0)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    body = {"username": "caio", "role": "loja", "password": strong_password()}
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = str(people["admin"].id), True
    assert client.post("/admin/usuarios", data=body).status_code == 400  # no token
    assert client.post("/admin/usuarios", data={**body, "csrf_token": token}).status_code == 303


def test_cli_manages_users_and_tokens(app: Any, people: dict[str, Any], token_cache_passes: Any) -> None:
    runner = app.test_cli_runner()

    def cli(*args: str) -> str:
        result = runner.invoke(args=list(args))
        assert result.exit_code == 0, result.output
        return result.output

    cli("users", "add", "davi", "--role", "financeiro", "--name", "Davi", "--password", strong_password())
    cli("users", "role", "davi", "ti")
    assert "davi\tti\tativo\tDavi" in cli("users", "list")
    token = cli("tokens", "add", "davi", "--label", "backup", "--days", "5").strip()
    assert bearer(app.test_client(), token) == 200
    [line] = [line for line in cli("tokens", "list", "--user", "davi").splitlines()]
    assert "\tdavi\tativo\t" in line and "backup" in line and "último uso 20" in line
    token_id = line.split("\t")[0]
    cli("tokens", "revoke", token_id)
    token_cache_passes()
    assert bearer(app.test_client(), token) == 401
    cli("users", "deactivate", "davi")
    assert "davi\tti\tdesativado" in cli("users", "list")

    refused = runner.invoke(args=["users", "role", "pessoa_admin", "loja"])
    assert refused.exit_code != 0 and "pelo menos um administrador" in refused.output
    refused = runner.invoke(args=["users", "role", "ninguem", "ti"])
    assert refused.exit_code != 0 and "não existe" in refused.output

    [(actor, target)] = audited("user.role")
    assert actor.startswith("cli:") and target == "davi"
    assert [t for _, t in audited("token.revoke")] == [f"token#{token_id}"]


def test_a_cached_token_stops_within_the_cache_bound(app: Any, people: dict[str, Any],
                                                    token_cache_passes: Any) -> None:
    """Revoked, or its user deactivated or given another role: every web process refuses (or
    re-checks) the token at most TOKEN_CACHE_S after the change, never later."""
    client = app.test_client()
    create_user("fin2", strong_password(), role="financeiro")
    revoked, deactivated = create_token("pessoa_financeiro", "a"), create_token("pessoa_loja", "b")
    demoted = create_token("fin2", "c")
    assert {bearer(client, t, "/api/comprovantes") for t in (revoked, deactivated, demoted)} == {200}
    revoke_token(list_tokens("pessoa_financeiro")[0].id)
    set_active("pessoa_loja", False)
    set_role("fin2", "ti")  # ti may not read receipts
    token_cache_passes(web_auth.TOKEN_CACHE_S - 0.01)
    assert bearer(client, revoked, "/api/comprovantes") == 200  # still within the bound
    token_cache_passes(0.01)
    assert bearer(client, revoked, "/api/comprovantes") == 401
    assert bearer(client, deactivated, "/api/comprovantes") == 401
    assert bearer(client, demoted, "/api/comprovantes") == 403
    assert bearer(client, demoted, "/api/plusoft/execucoes") == 200


def test_a_cached_token_expires_on_time(app: Any, people: dict[str, Any], monkeypatch: Any,
                                        token_cache_passes: Any) -> None:
    """Expiry is checked on every request, the cached ones too: no grace after expires_at."""
    client = app.test_client()
    token = create_token("pessoa_ti", "um dia", days=1)
    assert bearer(client, token) == 200
    [info] = list_tokens("pessoa_ti")
    monkeypatch.setattr(web_auth, "utcnow", lambda: info.expires_at)
    assert bearer(client, token) == 401
    token_cache_passes()  # and looked up again, still refused
    assert bearer(client, token) == 401


def test_demo_user_and_data_are_refused_in_production(app: Any, monkeypatch: Any) -> None:
    import core.users

    # This test's settings in production mode (what production must also set is tested in
    # tests/foundation/test_settings.py; here only the mode matters).
    production = get_settings().model_copy(update={"env": "production"})
    assert production.is_production
    monkeypatch.setattr(core.users, "get_settings", lambda: production)
    with pytest.raises(DemoInProduction, match="produção"):
        ensure_demo_user()
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code != 0 and "recusados em produção" in result.output
    with session_scope() as session:
        assert session.scalar(select(User.id)) is None  # no user, and the loaders never ran
        from core.models import Pedido

        assert session.scalar(select(Pedido.id)) is None
