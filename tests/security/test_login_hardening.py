"""Login hardening: a per-account lockout the right password does not bypass, a per-address
limit, 429 with Retry-After in pt-BR, the same work for unknown usernames, the password policy."""
from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from core.db import session_scope
from core.models import AuditEntry
from core.settings import reset_settings
from tests.security.hardening_support import post_login, set_settings


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    yield
    reset_settings()


def test_account_locked_after_failures_even_with_the_right_password(app: Any, users: Any) -> None:
    client = app.test_client()
    for attempt in range(5):  # the default: 5 failures per 15 minutes
        # From a different address each time: the lock is on the account, not the address.
        assert post_login(client, "ana", "errada-errada", address=f"10.0.0.{attempt}").status_code == 401
    locked = post_login(client, "ana", "ana-password", address="10.0.1.1")
    assert locked.status_code == 429
    page = locked.get_data(as_text=True)
    assert "bloqueada" in page and "mesmo com a senha certa" in page and "Tente de novo em" in page
    assert 60 <= int(locked.headers["Retry-After"]) <= 15 * 60 + 1  # the reset second included
    # Another account is not touched by ana's lock.
    assert post_login(client, "admin", "admin-password", address="10.0.1.1").status_code == 302
    # The refusal is in the audit trail (the login view never ran for it).
    with session_scope() as session:
        throttled = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "login_throttled")).all()
        assert [(e.target, e.outcome) for e in throttled] == [("ana", "refused")]


def test_a_success_before_the_limit_does_not_count(app: Any, users: Any) -> None:
    client = app.test_client()
    for _ in range(4):
        assert post_login(client, "ana", "errada-errada").status_code == 401
    assert post_login(client, "ana", "ana-password").status_code == 302
    assert post_login(app.test_client(), "ana", "ana-password").status_code == 302


def test_unknown_usernames_are_locked_the_same_way(app: Any, users: Any) -> None:
    # Must survive: a lockout that only known accounts get would reveal which names exist.
    client = app.test_client()
    for _ in range(5):
        assert post_login(client, "ninguem", "qualquer-coisa").status_code == 401
    assert post_login(client, "ninguem", "qualquer-coisa").status_code == 429
    assert post_login(client, "NINGUEM ", "qualquer-coisa").status_code == 429  # same account


def test_one_address_is_limited_across_accounts(app: Any, users: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    set_settings(monkeypatch, login_limit_per_address="3 per minute")
    client = app.test_client()
    for name in ("a1", "a2", "a3"):
        assert post_login(client, name, "qualquer-coisa", address="10.9.9.9").status_code == 401
    refused = post_login(client, "admin", "admin-password", address="10.9.9.9")
    assert refused.status_code == 429 and "deste endereço" in refused.get_data(as_text=True)
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    assert post_login(client, "admin", "admin-password", address="10.9.9.10").status_code == 302


def test_api_callers_get_json_429(app: Any, users: Any) -> None:
    client = app.test_client()
    for _ in range(5):
        post_login(client, "ana", "errada-errada")
    answer = post_login(client, "ana", "errada-errada", Accept="application/json")
    assert answer.status_code == 429 and answer.headers["Retry-After"].isdigit()
    assert "bloqueada" in answer.get_json()["error"]


def _median_seconds(call: Any, tries: int) -> float:
    times = []
    for _ in range(tries):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def test_unknown_and_known_usernames_take_the_same_time(users: Any) -> None:
    # Before: ~2 ms for an unknown name against ~144 ms for a known one (no hash checked).
    from core.users import authenticate

    known = lambda: authenticate("ana", "errada-errada")  # noqa: E731
    unknown = lambda: authenticate("ninguem-aqui", "errada-errada")  # noqa: E731
    known(), unknown()  # warm both paths (the dummy hash is made once per process)
    # Interleaved rounds, so a busy moment of the machine weighs on both alike.
    known_s = statistics.median(_median_seconds(known, 3) for _ in range(3))
    unknown_s = statistics.median(_median_seconds(unknown, 3) for _ in range(3))
    ratio = max(known_s, unknown_s) / min(known_s, unknown_s)
    assert ratio < 3, f"known {known_s * 1000:.1f} ms, unknown {unknown_s * 1000:.1f} ms"


@pytest.mark.parametrize(("password", "why"), [
    ("curta-demai", "12 caracteres"),
    ("Senha@2024!!", "comum"), ("flamengo2024#", "comum"), ("P@ssw0rd2024", "comum"),
    ("123456789012", "comum"), ("qwertyuiop12", "comum"), ("senhasenha12", "comum"),
    ("joana2024!!!", "nome de usuário"),
])
def test_weak_passwords_are_refused(db: str, password: str, why: str) -> None:
    from core.users import create_user
    with pytest.raises(ValueError, match=why):
        create_user("joana", password)


def test_password_changes_follow_the_policy(users: Any) -> None:
    from core.users import authenticate, reset_password

    with pytest.raises(ValueError, match="comum"):
        reset_password("ana", "Palmeiras2025")
    reset_password("ana", "cadeira azul do quintal")
    assert authenticate("ana", "cadeira azul do quintal") is not None
