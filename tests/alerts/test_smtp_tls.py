"""Alert e-mail over STARTTLS with a login, and over SMTPS; the server's certificate is
verified (a certificate of an unknown CA is refused)."""
from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult

from core.alerts import delivery
from core.settings import reset_settings
from tests.alerts.receivers import SmtpServer
from tests.support.brokers import make_certificates


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_certificates(tmp_path_factory.mktemp("smtp-certs"))


def server_context(certs: dict[str, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs["server_cert"], certs["server_key"])
    return context


def only_plantao(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    return AuthResult(success=auth_data.login == b"plantao" and auth_data.password == b"senha-smtp")


@pytest.fixture
def smtp_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def point_at(server: SmtpServer, security: str) -> None:
        for name, value in (("HOST", "127.0.0.1"), ("PORT", str(server.port)), ("SECURITY", security),
                            ("USER", "plantao"), ("PASSWORD", "senha-smtp")):
            monkeypatch.setenv(f"STOCKFLOW_ALERTS_SMTP_{name}", value)
        reset_settings()

    yield point_at
    reset_settings()


def trust(monkeypatch: pytest.MonkeyPatch, certs: dict[str, Path]) -> None:
    monkeypatch.setattr(delivery, "tls_context", lambda: ssl.create_default_context(cafile=str(certs["ca"])))


def test_starttls_with_a_login(certs: dict[str, Path], smtp_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    server = SmtpServer(tls_context=server_context(certs), require_starttls=True,
                        authenticator=only_plantao, auth_require_tls=True, auth_required=True)
    try:
        smtp_env(server, "starttls")
        with pytest.raises(delivery.DeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
            delivery.send_email("ti@loja.test", "[Stockflow] TESTE\ncorpo")  # the system's CAs
        trust(monkeypatch, certs)
        delivery.send_email("ti@loja.test", "[Stockflow] TESTE\ncorpo")
        assert server.subjects() == ["[Stockflow] TESTE"]
    finally:
        server.stop()


def test_smtps(certs: dict[str, Path], smtp_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    server = SmtpServer(ssl_context=server_context(certs), authenticator=only_plantao,
                        auth_require_tls=False)  # aiosmtpd counts only STARTTLS as TLS
    try:
        smtp_env(server, "ssl")
        trust(monkeypatch, certs)
        delivery.send_email("ti@loja.test", "[Stockflow] TESTE SSL\ncorpo")
        assert server.subjects() == ["[Stockflow] TESTE SSL"]
    finally:
        server.stop()
