"""Every alert rule fires against the local SMTP server and webhook receiver, and sends
"resolved" when its cause is gone. Time is passed to the evaluator (`now=`), never slept."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import update

from core import dead_letters, heartbeats
from core.celery_app import QUEUES
from core.db import session_scope
from core.models import DeviceStatus, SyncRun
from core.models.types import utcnow
from core.redis_client import get_redis
from tests.alerts.support import alerts, evaluate, only, sent

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=timezone.utc)


def add_device(raspberry_id: str, last_update: datetime, **fields: Any) -> None:
    with session_scope() as session:
        session.add(DeviceStatus(raspberry_id=raspberry_id, store_key="LOJA-001", status="online",
                                 reported_at=last_update, last_update=last_update,
                                 first_seen=last_update, **fields))


def add_run(entidade: str, status: str, started_at: datetime, error: str | None = None) -> None:
    with session_scope() as session:
        session.add(SyncRun(id=str(uuid.uuid4()), entidade=entidade, mode="incremental",
                            status=status, triggered_by="agendador", rows_total=10, rows_read=10,
                            rows_sent=10, rows_rejected=0, rows_unchanged=0, batches=1, resumes=0,
                            error=error, started_at=started_at, heartbeat_at=started_at,
                            finished_at=started_at + timedelta(minutes=5)
                            if status == "finished" else None))


@pytest.mark.mariadb
def test_device_offline_fires_once_reminds_after_the_cooldown_and_resolves(receivers: dict[str, Any]) -> None:
    only("dispositivo_offline", "10")
    add_device("pi-loja1-01", NOW - timedelta(minutes=25))
    add_device("pi-loja1-02", NOW + timedelta(minutes=60))  # heard of until NOW + 60 min
    assert evaluate(NOW).fired == 1
    [(subject, text)] = sent(receivers)
    assert subject == "[Stockflow] ALERTA: Dispositivo offline — pi-loja1-01"
    assert "sem relatório há 25 min" in text and "https://stockflow.test/dispositivos/pi-loja1-01" in text
    # still firing a minute later: de-duplicated (one open alert), nothing sent
    assert evaluate(NOW + timedelta(minutes=1)).reminded == 0
    assert len(sent(receivers)) == 1 and len(alerts()) == 1
    # past the cooldown (60 min): a reminder, still one alert
    assert evaluate(NOW + timedelta(minutes=61)).reminded == 1
    assert sent(receivers)[-1][0].startswith("[Stockflow] AINDA ATIVO: Dispositivo offline")
    assert len(alerts()) == 1
    with session_scope() as session:
        session.execute(update(DeviceStatus).where(DeviceStatus.raspberry_id == "pi-loja1-01")
                        .values(last_update=NOW + timedelta(minutes=62)))
    assert evaluate(NOW + timedelta(minutes=63)).resolved == 1
    subject, text = sent(receivers)[-1]
    assert subject == "[Stockflow] RESOLVIDO: Dispositivo offline — pi-loja1-01"
    [alert] = alerts()
    assert alert.status == "resolved" and alert.open_key is None
    # the same device silent again later opens a new alert (and the other one's first)
    assert evaluate(NOW + timedelta(minutes=200)).fired == 2
    assert len(alerts()) == 3


def test_a_revoked_device_is_retired_not_offline(receivers: dict[str, Any]) -> None:
    from core.models import Device

    only("dispositivo_offline", "10")
    add_device("pi-velho", NOW - timedelta(days=3))
    with session_scope() as session:
        session.add(Device(device_id="pi-velho", state="revoked", broker="redis",
                           broker_user="pi-velho", created_by="teste"))
    assert evaluate(NOW).fired == 0


def test_spool_with_an_old_scan_fires_and_resolves_when_drained(receivers: dict[str, Any]) -> None:
    only("spool_antigo", "15")
    add_device("pi-loja2-01", NOW - timedelta(seconds=20), spool_depth=7,
               spool_oldest_at=NOW - timedelta(minutes=40))
    add_device("pi-loja2-02", NOW - timedelta(seconds=20), spool_depth=2,
               spool_oldest_at=NOW - timedelta(minutes=3))
    assert evaluate(NOW).fired == 1
    subject, text = sent(receivers)[0]
    assert subject.endswith("Leituras presas no Pi — pi-loja2-01")
    assert "7 leitura(s) esperando" in text and "há 40 min" in text
    with session_scope() as session:
        session.execute(update(DeviceStatus).where(DeviceStatus.raspberry_id == "pi-loja2-01")
                        .values(spool_depth=0, spool_oldest_at=None))
    assert evaluate(NOW + timedelta(minutes=1)).resolved == 1
    assert sent(receivers)[-1][0].startswith("[Stockflow] RESOLVIDO: Leituras presas no Pi")


@pytest.mark.mariadb
def test_new_dead_letters_fire_per_area_and_resolve_when_handled(receivers: dict[str, Any]) -> None:
    only("dead_letters", "1")
    first = dead_letters.record("baixa.registrar", [], {"scan_id": "a"}, "banco fora", reference="a")
    assert evaluate(NOW).fired == 1
    subject, text = sent(receivers)[0]
    assert subject.endswith("Dead letters novas — baixa")
    assert "1 dead letter(s) nova(s) em baixa; 1 aguardando" in text and "/falhas?area=baixa" in text
    # another one in the same area while open: the same alert (cooldown), none new sent
    dead_letters.record("baixa.registrar", [], {"scan_id": "b"}, "banco fora", reference="b")
    outcome = evaluate(NOW + timedelta(minutes=1))
    assert (outcome.fired, outcome.reminded) == (0, 0) and len(sent(receivers)) == 1
    # one area's letters are not another's: sync fires on its own
    dead_letters.record("sync.sincronizar", [], {"entidade": "produtos"}, "Plusoft 503", reference="s")
    assert evaluate(NOW + timedelta(minutes=2)).fired == 1
    assert sent(receivers)[-1][0].endswith("Dead letters novas — sync")
    # no new letter, but still open: the alert stays; handled: resolved
    assert evaluate(NOW + timedelta(minutes=3)).resolved == 0
    assert dead_letters.discard(first, "teste", "duplicada")
    assert dead_letters.discard(first + 1, "teste", "duplicada")
    assert evaluate(NOW + timedelta(minutes=4)).resolved == 1
    assert sent(receivers)[-1][0] == "[Stockflow] RESOLVIDO: Dead letters novas — baixa"


def test_a_queue_without_a_live_consumer_fires(receivers: dict[str, Any]) -> None:
    only("fila_sem_consumidor")
    heartbeats.record_worker("fast@teste", [q for q in QUEUES if q != "sync"])
    assert evaluate(NOW).fired == 1
    assert sent(receivers)[0][0].endswith("Fila sem consumidor — sync")
    heartbeats.record_worker("slow@teste", ["sync"])
    assert evaluate(NOW + timedelta(minutes=1)).resolved == 1


def test_a_queue_deeper_than_the_threshold_fires(receivers: dict[str, Any],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The depth comes from core.overview.queue_depths (the broker; tested with the overview):
    a session worker may be consuming every queue here, so the broker's answer is given."""
    from core import overview

    depths = dict.fromkeys(QUEUES, 0)
    monkeypatch.setattr(overview, "queue_depths", lambda: dict(depths))
    only("fila_profunda", "100")
    depths["comprovantes"] = 101
    assert evaluate(NOW).fired == 1
    subject, text = sent(receivers)[0]
    assert subject.endswith("Fila acumulada — comprovantes") and "101 mensagens" in text
    depths["comprovantes"] = 100
    assert evaluate(NOW + timedelta(minutes=1)).resolved == 1
    # the broker not answering (every depth unknown) is no recovery: the rule is skipped
    depths["comprovantes"] = 500
    evaluate(NOW + timedelta(minutes=2))
    monkeypatch.setattr(overview, "queue_depths", lambda: dict.fromkeys(QUEUES))
    from core.alerts import evaluator

    outcome = evaluator.evaluate(now=NOW + timedelta(minutes=3))
    assert outcome.failed_rules == ["fila_profunda"] and outcome.resolved == 0


def test_a_queue_left_by_a_worker_shut_down_on_purpose_fires(receivers: dict[str, Any]) -> None:
    only("fila_sem_consumidor")
    heartbeats.record_worker("fast@teste", [q for q in QUEUES if q != "sync"])
    heartbeats.record_worker("sync@teste", ["sync"], stopped=True, on_purpose=True)
    assert evaluate(NOW).fired == 1
    assert sent(receivers)[0][0].endswith("Fila sem consumidor — sync")


def test_a_stopped_worker_fires_after_the_threshold(receivers: dict[str, Any]) -> None:
    only("worker_parado", "1")
    heartbeats.record_worker("ruptura@teste", ["ruptura"], stopped=True)  # gave up on an error
    heartbeats.record_worker("deploy@teste", ["ruptura"], stopped=True, on_purpose=True)
    real_now = utcnow()
    assert evaluate(real_now).fired == 0  # stopped just now: within the minute's patience
    assert evaluate(real_now + timedelta(minutes=2)).fired == 1  # deploy@teste: no alert
    subject, text = sent(receivers)[0]
    assert subject.endswith("Worker parado — ruptura@teste") and "filas: ruptura" in text
    heartbeats.record_worker("ruptura@teste", ["ruptura"])
    assert evaluate(real_now + timedelta(minutes=3)).resolved == 1


def test_a_stopped_beat_fires_and_resolves_when_it_beats_again(receivers: dict[str, Any]) -> None:
    only("beat_parado", "1")
    get_redis().set(heartbeats.BEAT_KEY, json.dumps({"host": "h", "pid": 1,
                                                     "at": utcnow().timestamp() - 600}))
    assert evaluate(utcnow()).fired == 1
    assert sent(receivers)[0][0].endswith("Beat parado — beat")
    heartbeats.record_beat()
    assert evaluate(utcnow()).resolved == 1


def test_a_failed_sync_fires_until_a_later_run(receivers: dict[str, Any]) -> None:
    only("sync_falhou")
    add_run("produtos", "failed", NOW - timedelta(hours=2), error="Plusoft respondeu 503")
    add_run("clientes", "finished", NOW - timedelta(hours=2))
    assert evaluate(NOW).fired == 1
    subject, text = sent(receivers)[0]
    assert subject.endswith("Sincronização falhou — produtos") and "Plusoft respondeu 503" in text
    add_run("produtos", "running", NOW - timedelta(minutes=5))
    assert evaluate(NOW + timedelta(minutes=1)).resolved == 1


def test_the_nightly_sync_dead_man_check(receivers: dict[str, Any]) -> None:
    """01:00 São Paulo is 04:00 UTC; with 180 minutes of grace the deadline is 07:00 UTC."""
    only("sync_atrasada", "180")
    night = datetime(2026, 12, 1, 4, 0, tzinfo=timezone.utc)
    for entidade in ("filiais", "produtos", "clientes", "vendas"):
        add_run(entidade, "finished", night - timedelta(days=1))  # last night's all done
    assert evaluate(datetime(2026, 12, 1, 6, 59, tzinfo=timezone.utc)).fired == 0  # before the deadline
    for entidade in ("filiais", "produtos"):
        add_run(entidade, "finished", night + timedelta(minutes=10))
    assert evaluate(datetime(2026, 12, 1, 7, 1, tzinfo=timezone.utc)).fired == 1
    subject, text = sent(receivers)[0]
    assert subject.endswith("Sincronização noturna atrasada — noturna")
    assert "não terminou até 01/12/2026 04:00: clientes, vendas." in text
    for entidade in ("clientes", "vendas"):
        add_run(entidade, "finished", night + timedelta(hours=3, minutes=30))
    assert evaluate(datetime(2026, 12, 1, 7, 40, tzinfo=timezone.utc)).resolved == 1


def test_low_disk_fires_below_the_threshold(receivers: dict[str, Any]) -> None:
    only("disco_cheio", "100")  # no disk in use has 100 % free
    assert evaluate(NOW).fired == 1
    subject, text = sent(receivers)[0]
    assert "Disco com pouco espaço" in subject and "% livre" in text and "uploads" in text
    only("disco_cheio", "0,1")
    assert evaluate(NOW + timedelta(minutes=1)).resolved == 1


def test_a_rule_turned_off_resolves_its_alerts(receivers: dict[str, Any]) -> None:
    only("disco_cheio", "100")
    evaluate(NOW)
    only("beat_parado")  # disco_cheio off now
    get_redis().set(heartbeats.BEAT_KEY, json.dumps({"host": "h", "pid": 1, "at": utcnow().timestamp()}))
    assert evaluate(NOW + timedelta(minutes=1)).resolved == 1
    assert "(regra desativada)" in sent(receivers)[-1][1]
