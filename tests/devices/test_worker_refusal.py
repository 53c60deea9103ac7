"""The worker checks each scan's and health report's device and store against the registry:
an unknown or revoked device, or a store the device is not assigned to, is refused with its
reason, never written off (nor stored), answered to the Pi, and shown on /baixas."""
from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import select, update

from core import dead_letters
from core.celery_app import celery_app
from core.db import session_scope
from core.health.report import REFUSED_DEVICE, recent_rejections, rejection_counts
from core.models import Device, DeviceStatus
from core.models.devices import REVOKED
from core.models.types import utcnow
from core.redis_client import get_redis
from core.settings import ConfigurationError, Settings
from processes.health_batch_worker import HealthBatchWorker
from tests.baixa.support import (
    outcomes,
    removals_by_product,
    scan_message,
    seed_products,
)
from tests.baixa.test_acknowledgement import take_replies
from tests.devices.support import register, require_registry, signed, signed_health
from tests.health.test_batch_worker import drained, send
from tests.support.waiting import wait_until


def baixa(message: dict[str, Any]) -> dict[str, Any]:
    return celery_app.send_task("baixa.registrar", kwargs=message).get(timeout=30)


def health(report: dict[str, Any]) -> dict[str, Any]:
    return celery_app.send_task("health.report", args=[report]).get(timeout=30)


@pytest.mark.mariadb
def test_forged_scans_are_refused_with_their_reason_and_never_written_off(
        worker: Any, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    require_registry(monkeypatch)
    register("pi-a", "LOJA-001")
    register("pi-b", "LOJA-002")
    seed_products("LOJA-001", [930_001, 930_002, 930_003, 930_004])

    honest = baixa(signed(scan_message(930_001, device_id="pi-a")))
    other_store = baixa(signed(scan_message(930_002, device_id="pi-b")))  # pi-b's, pi-a's store
    unknown = baixa(scan_message(930_003, device_id="pi-zz"))
    no_id = scan_message(930_004)
    no_id["device_id"] = None
    nameless = baixa(no_id)

    assert honest["outcome"] == "removed"
    assert [other_store["outcome"], unknown["outcome"], nameless["outcome"]] == ["refused"] * 3
    assert other_store["reason"] == ("Leitura recusada: dispositivo pi-b não está autorizado "
                                     "na loja LOJA-001.")
    assert unknown["reason"] == "Leitura recusada: dispositivo pi-zz não está cadastrado."
    assert "sem identificação" in nameless["reason"]
    assert removals_by_product([930_001, 930_002, 930_003, 930_004]) == {930_001: 1}
    # The Pi named in the scan gets the outcome, so it drops the scan from its spool.
    assert [(r["outcome"], r["reason"]) for r in take_replies("pi-b", 1)] == [
        ("refused", other_store["reason"])]

    page = client.get("/api/baixas/leituras?loja=LOJA-001&rejeitadas=1").get_json()
    assert {(i["product_id"], i["outcome"], i["reason"]) for i in page["items"]} == {
        ("930002", "refused", other_store["reason"]), ("930003", "refused", unknown["reason"]),
        ("930004", "refused", nameless["reason"])}
    assert client.get("/baixas?loja=LOJA-001").status_code == 200
    assert 'refused: "Recusado"' in client.get("/static/js/baixa.js").get_data(as_text=True)


def test_a_revoked_device_is_refused_within_the_cache_time(
        worker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    cache_s = 1.0
    require_registry(monkeypatch, cache_s=cache_s)
    register("pi-a", "LOJA-001")
    seed_products("LOJA-001", range(931_001, 931_500))
    assert baixa(signed(scan_message(931_001, device_id="pi-a")))["outcome"] == "removed"

    # Revoked by another process (the CLI on another host): this worker's cache is not told.
    with session_scope() as session:
        session.execute(update(Device).where(Device.device_id == "pi-a")
                        .values(state=REVOKED, revoked_at=utcnow(), revoked_by="test"))
    revoked_at = time.monotonic()
    product = iter(range(931_002, 931_500))
    while (outcome := baixa(signed(scan_message(next(product), device_id="pi-a"))))["outcome"] != "refused":
        assert time.monotonic() - revoked_at < cache_s + 10, "still accepted long after revoke"
        time.sleep(0.05)  # the pace of a clerk scanning, not a wait for anything
    assert outcome["reason"].startswith("Leitura recusada: dispositivo pi-a revogado em ")
    assert removals_by_product([int(outcome["product_id"])]) == {}
    # Only the scans sent while the lookup was still cached went through, each once.
    removed = [int(o.product_id) for o in outcomes() if o.outcome == "removed"]
    assert removals_by_product(range(931_001, 931_500)) == dict.fromkeys(removed, 1)


def test_health_reports_from_unregistered_devices_are_refused_and_counted(
        worker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    require_registry(monkeypatch)
    register("pi-a", "LOJA-001")
    report = {"id": "pi-a", "store_key": "LOJA-001", "cpu_percent": 12.5}

    assert health(signed_health(report)) == {"device": "pi-a", "applied": True}
    assert health({**report, "id": "pi-zz"}) == {
        "rejected": REFUSED_DEVICE, "reason": "relatório recusado: dispositivo pi-zz não está cadastrado"}
    assert health(signed_health({**report, "store_key": "LOJA-009"}))["reason"] == (
        "relatório recusado: dispositivo pi-a não está autorizado na loja LOJA-009")
    assert health(signed_health({"id": "pi-a"}))["reason"] == (
        "relatório recusado: dispositivo pi-a não informou a loja (store_key)")
    assert rejection_counts()[REFUSED_DEVICE] == 3
    with session_scope() as session:
        stored = session.scalars(select(DeviceStatus.raspberry_id)).all()
    assert stored == ["pi-a"]


def test_without_the_registry_required_any_device_is_served(worker: Any) -> None:
    # The development default: `make up` and the Pis of the demo need no registry.
    seed_products("LOJA-001", [932_001])
    assert baixa(scan_message(932_001, device_id="pi-anyone"))["outcome"] == "removed"
    assert health({"id": "pi-anyone", "store_key": "LOJA-001"})["applied"] is True


def test_production_refuses_to_run_without_the_registry() -> None:
    with pytest.raises(ConfigurationError) as refused:
        Settings(env="production", device_registry_required=False)
    assert "STOCKFLOW_DEVICE_REGISTRY_REQUIRED" in str(refused.value)
    with pytest.raises(ConfigurationError) as other_reasons:
        Settings(env="production")
    assert "STOCKFLOW_DEVICE_REGISTRY_REQUIRED" not in str(other_reasons.value)
    assert Settings.model_construct(env="production").devices_enforced is True
    assert Settings.model_construct(env="development").devices_enforced is False
    assert Settings.model_construct(env="test", device_registry_required=True).devices_enforced


def test_the_health_batch_worker_refuses_unregistered_devices_too(
        db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    require_registry(monkeypatch)
    register("pi-a", "LOJA-001")
    queue = f"health-test-{uuid.uuid4().hex[:10]}"
    stop = threading.Event()
    worker = threading.Thread(target=HealthBatchWorker(batch_max=50, queue=queue).run,
                              args=(stop,), daemon=True)
    try:
        for report in (signed_health({"id": "pi-a", "store_key": "LOJA-001"}),
                       {"id": "pi-zz", "store_key": "LOJA-001"},
                       signed_health({"id": "pi-a", "store_key": "LOJA-002"}),
                       {"id": "pi-a", "store_key": "LOJA-001", "signature": "0" * 64}):
            send(queue, report)
        worker.start()
        wait_until(lambda: drained(queue) and rejection_counts().get("total") == 3, 30,
                   "the batch worker to take the four reports")
    finally:
        stop.set()
        worker.join(timeout=15)
        get_redis().delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    assert rejection_counts() == {REFUSED_DEVICE: 3, "total": 3}
    with session_scope() as session:
        assert session.scalars(select(DeviceStatus.raspberry_id)).all() == ["pi-a"]
    kept = [entry.error for entry in dead_letters.list_open("health.batch_worker")]
    assert sorted(kept) == [  # one open entry per device, holding its newest report
        "refused_device: relatório recusado: assinatura não confere com o segredo do dispositivo pi-a",
        "refused_device: relatório recusado: dispositivo pi-zz não está cadastrado"]
    assert [r["reason"] for r in recent_rejections()][1] == (
        "relatório recusado: dispositivo pi-a não está autorizado na loja LOJA-002")
