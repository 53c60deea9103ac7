"""Alert fixtures: the local SMTP server and webhook receiver, set as the only recipients."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from core.settings import reset_settings
from tests.alerts.receivers import SmtpServer, WebhookReceiver

pytest.register_assert_rewrite("tests.alerts.support")


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    """A local SMTP server the settings point at (plain SMTP: a local relay)."""
    server = SmtpServer()
    monkeypatch.setenv("STOCKFLOW_ALERTS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("STOCKFLOW_ALERTS_SMTP_PORT", str(server.port))
    monkeypatch.setenv("STOCKFLOW_ALERTS_SMTP_SECURITY", "none")
    monkeypatch.setenv("STOCKFLOW_ALERTS_SMTP_FROM", "alertas@stockflow.test")
    monkeypatch.setenv("STOCKFLOW_ALERTS_SITE_URL", "https://stockflow.test")
    reset_settings()
    yield server
    server.stop()
    monkeypatch.delenv("STOCKFLOW_ALERTS_SMTP_HOST")
    reset_settings()


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def receivers(db: str, smtp: SmtpServer, webhook: WebhookReceiver) -> dict[str, Any]:
    """Both receivers, each registered as a recipient of every alert."""
    from core.alerts import config

    config.add_recipient("email", "plantao@loja.test", "teste")
    config.add_recipient("webhook", webhook.url, "teste")
    return {"smtp": smtp, "webhook": webhook}
