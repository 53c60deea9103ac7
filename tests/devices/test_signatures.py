"""Each scan and health report is signed with its device's secret, and a real worker checks
the signature before anything is written: a Pi holding device A's credentials cannot send
scans or reports naming device B, or another store, or replay a signature over changed
fields. Refused with the reason, shown with the rejected scans, never written off."""
from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select, update

from core.celery_app import celery_app
from core.db import session_scope
from core.device_signing import device_secret, report_signed, scan_signed
from core.health.report import REFUSED_DEVICE
from core.models import Device, DeviceStatus
from core.models.devices import REVOKED
from core.models.types import utcnow
from core.settings import (
    DEV_DEVICE_SIGNING_KEY,
    ConfigurationError,
    Settings,
    reset_settings,
)
from edge_agent import signing
from edge_agent.config import AgentConfig
from edge_agent.publisher import publish_options
from tests.baixa.support import (
    outcomes,
    removals_by_product,
    scan_message,
    seed_products,
)
from tests.devices.support import (
    register,
    require_registry,
    secret_of,
    signed,
    signed_health,
)
from tests.support.settings import PRODUCTION

BAD_SIGNATURE = "Leitura recusada: assinatura não confere com o segredo do dispositivo {}."


def baixa(message: dict[str, Any], **options: Any) -> dict[str, Any]:
    return celery_app.send_task("baixa.registrar", kwargs=message, **options).get(timeout=30)


def health(report: dict[str, Any]) -> dict[str, Any]:
    return celery_app.send_task("health.report", args=[report]).get(timeout=30)


@pytest.mark.mariadb
def test_forged_scans_are_refused_and_only_the_honest_ones_written_off(
        worker: Any, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    require_registry(monkeypatch)
    register("pi-a", "LOJA-001", "LOJA-002")  # two stores: only the signature guards LOJA-002
    register("pi-b", "LOJA-002")
    register("pi-c", "LOJA-001")
    a_ids = seed_products("LOJA-001", range(950_001, 950_010))
    b_ids = seed_products("LOJA-002", range(951_001, 951_010))
    a_secret = secret_of("pi-a")

    honest = signed(scan_message(950_001, device_id="pi-a"))
    assert baixa(honest)["outcome"] == "removed"
    assert baixa(signed(scan_message(951_001, "LOJA-002", "pi-b")))["outcome"] == "removed"

    # A Pi holding pi-a's secret: another device's identity and store, signed with its own.
    as_b = baixa(signed(scan_message(951_002, "LOJA-002", "pi-b"), a_secret))
    # pi-a's own genuine scan, its store changed after signing (pi-a may scan LOJA-002).
    genuine = signed(scan_message(950_002, device_id="pi-a"))
    other_store = baixa({**genuine, "store_key": "LOJA-002", "product_id": "951003"})
    # The signature of a scan already sent, replayed over changed fields.
    replays = [baixa({**honest, "scan_id": str(uuid.uuid4())}),
               baixa({**honest, "scan_id": str(uuid.uuid4()), "product_id": "950003"}),
               baixa({**honest, "scan_id": str(uuid.uuid4()), "scanned_at": utcnow().isoformat()}),
               baixa({**honest, "scan_id": str(uuid.uuid4()), "device_id": "pi-b",
                      "store_key": "LOJA-002", "product_id": "951004"})]
    wrong_secrets = [baixa(signed(scan_message(950_004, device_id="pi-a"), device_secret("pi-a", 2))),
                     baixa({**scan_message(950_005, device_id="pi-a"), "signature": "0" * 64}),
                     baixa({**scan_message(950_006, device_id="pi-a"), "signature": ["x"]})]
    unsigned = baixa(scan_message(951_005, "LOJA-002", "pi-b"))
    with session_scope() as session:  # revoked elsewhere; this test's cache is 1 s
        session.execute(update(Device).where(Device.device_id == "pi-c")
                        .values(state=REVOKED, revoked_at=utcnow(), revoked_by="test"))
    from core import devices
    devices.forget_cache()
    revoked = baixa(signed(scan_message(950_007, device_id="pi-c")))

    assert as_b["outcome"] == "refused" and as_b["reason"] == BAD_SIGNATURE.format("pi-b")
    assert other_store["reason"] == BAD_SIGNATURE.format("pi-a")
    assert [r["reason"] for r in replays] == [BAD_SIGNATURE.format("pi-a")] * 3 + [
        BAD_SIGNATURE.format("pi-b")]
    assert [r["reason"] for r in wrong_secrets] == [BAD_SIGNATURE.format("pi-a")] * 3
    assert unsigned["reason"] == "Leitura recusada: mensagem sem assinatura do dispositivo pi-b."
    assert revoked["reason"].startswith("Leitura recusada: dispositivo pi-c revogado em ")
    assert removals_by_product([*a_ids, *b_ids]) == {950_001: 1, 951_001: 1}
    # The same scan sent again (a resend) keeps its first outcome, signature and all.
    assert baixa(honest)["outcome"] == "removed"

    page = client.get("/api/baixas/leituras?loja=LOJA-002&rejeitadas=1").get_json()
    assert {(i["product_id"], i["outcome"]) for i in page["items"]} == {
        ("951002", "refused"), ("951003", "refused"), ("951004", "refused"), ("951005", "refused")}
    assert all("Leitura recusada" in i["reason"] for i in page["items"])


def test_the_amqp_user_id_must_be_the_devices_broker_user(
        worker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # RabbitMQ refuses a user_id that is not the connection's (tests/devices/test_rabbitmq.py);
    # the worker then checks it names the device's own user. On Redis it travels as sent.
    require_registry(monkeypatch)
    register("pi-a", "LOJA-001")
    seed_products("LOJA-001", [952_001, 952_002])
    other = baixa(signed(scan_message(952_001, device_id="pi-a")), user_id="device-pi-b")
    own = baixa(signed(scan_message(952_002, device_id="pi-a")), user_id="device-pi-a")
    assert other["reason"] == ("Leitura recusada: publicada pelo usuário device-pi-b do broker, "
                               "não pelo do dispositivo pi-a.")
    assert own["outcome"] == "removed"
    assert removals_by_product([952_001, 952_002]) == {952_002: 1}
    assert publish_options("amqp://device-pi-a:s%40nha@broker:5672/stockflow", "baixa")["user_id"] == "device-pi-a"
    assert publish_options("redis://device-pi-a:senha@broker:6379/0", "baixa") == {}


def test_forged_health_reports_are_refused(worker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    require_registry(monkeypatch)
    register("pi-a", "LOJA-001")
    register("pi-b", "LOJA-002")
    report = {"id": "pi-a", "store_key": "LOJA-001", "cpu_percent": 12.5, "leds": {"act": 1},
              "net_ifaces": [{"name": "wlan0", "ip": "10.0.0.7"}], "wifi_status": "conectado ç"}

    assert health(signed_health(report)) == {"device": "pi-a", "applied": True}
    forged = [health(signed_health({**report, "id": "pi-b", "store_key": "LOJA-002"},
                                   secret_of("pi-a"))),
              health({**signed_health(report), "cpu_percent": 99.0}),
              health({**signed_health(report), "store_key": "LOJA-002"})]
    unsigned = health({**report, "id": "pi-b", "store_key": "LOJA-002"})
    assert [f["rejected"] for f in forged] == [REFUSED_DEVICE] * 3
    assert [f["reason"] for f in forged] == [
        "relatório recusado: assinatura não confere com o segredo do dispositivo pi-b",
        "relatório recusado: assinatura não confere com o segredo do dispositivo pi-a",
        "relatório recusado: assinatura não confere com o segredo do dispositivo pi-a"]
    assert unsigned["reason"] == "relatório recusado: mensagem sem assinatura do dispositivo pi-b"
    with session_scope() as session:
        stored = session.execute(select(DeviceStatus.raspberry_id, DeviceStatus.cpu_percent)).all()
    assert stored == [("pi-a", 12.5)]


def test_unsigned_messages_pass_only_while_allowed(worker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    require_registry(monkeypatch, unsigned_allowed="true")
    register("pi-a", "LOJA-001")
    seed_products("LOJA-001", [953_001, 953_002])
    assert baixa(scan_message(953_001, device_id="pi-a"))["outcome"] == "removed"
    wrong = baixa({**scan_message(953_002, device_id="pi-a"), "signature": "0" * 64})
    assert wrong["reason"] == BAD_SIGNATURE.format("pi-a")  # a wrong one never passes
    assert [o.outcome for o in outcomes()] == ["removed", "refused"]


def test_production_refuses_the_development_signing_key_and_unsigned_messages() -> None:
    try:  # other areas' production checks may still object: not to these two
        Settings(**PRODUCTION)
    except ConfigurationError as other_reasons:
        assert "STOCKFLOW_DEVICE_SIGNING_KEY" not in str(other_reasons)
        assert "STOCKFLOW_DEVICE_UNSIGNED_ALLOWED" not in str(other_reasons)
    for bad in ({"device_signing_key": DEV_DEVICE_SIGNING_KEY}, {"device_signing_key": "k" * 31}):
        with pytest.raises(ConfigurationError, match="STOCKFLOW_DEVICE_SIGNING_KEY"):
            Settings(**{**PRODUCTION, **bad})
    with pytest.raises(ConfigurationError, match="STOCKFLOW_DEVICE_UNSIGNED_ALLOWED"):
        Settings(**{**PRODUCTION, "device_unsigned_allowed": True})


def test_the_secret_is_derived_from_the_server_key(monkeypatch: pytest.MonkeyPatch) -> None:
    first = device_secret("pi-a", 1)
    assert first != device_secret("pi-a", 2) and first != device_secret("pi-b", 1)
    monkeypatch.setenv("STOCKFLOW_DEVICE_SIGNING_KEY", "outra-chave-" + "x" * 32)
    reset_settings()
    assert device_secret("pi-a", 1) != first  # a new key re-keys every device
    monkeypatch.delenv("STOCKFLOW_DEVICE_SIGNING_KEY")
    reset_settings()
    assert device_secret("pi-a", 1) == first


@pytest.mark.parametrize("scan", [
    scan_message(1, device_id="pi-a"),
    {"scan_id": "x", "product_id": 12, "store_key": "LÓJA-\ud800", "device_id": None},
])
def test_agent_and_server_sign_the_same_bytes(scan: dict[str, Any]) -> None:
    # The agent imports no server code: the two encodings are kept equal here.
    assert signing.scan_message(scan) == scan_signed(scan, None).message
    report = {"id": "pi-a", "cpu_percent": 0.1 + 0.2, "leds": {"b": 1, "a": 2}, "ç": [None, True],
              "big": 2**70, "signature": "ignored"}
    assert signing.report_message(report) == report_signed(report).message
    assert report_signed(signing.signed_report(report, "s")).signature == signing.sign(
        "s", signing.report_message(report))


def test_the_agent_signs_scans_as_it_sends_them(tmp_path: Any) -> None:
    """Scans spooled before the agent had a secret are signed when they are sent."""
    from edge_agent.publisher import Publisher
    from edge_agent.spool import Spool

    config = AgentConfig(store_key="LOJA-001", broker_url="redis://127.0.0.1:1/0",
                         device_id="pi-a", spool_dir=tmp_path, device_secret="segredo")
    spool = Spool(config.spool_path)
    scan = scan_message(1, device_id="pi-a")
    spool.add(scan)  # spooled as the old agent did: no signature in it
    sent: list[dict[str, Any]] = []
    publisher = Publisher(config, spool)
    publisher._ensure_connection = lambda: None  # type: ignore[method-assign]
    publisher.app.send_task = lambda name, kwargs, **_: sent.append(kwargs)  # type: ignore[method-assign]
    assert publisher.publish_pending() == 1
    assert sent == [{**scan, "signature": signing.sign("segredo", signing.scan_message(scan))}]
    spool.close()
