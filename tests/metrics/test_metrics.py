"""/metrics scraped with Prometheus's own text parser: the token, every family, values read
from the state at scrape time, and histograms shared by every web process (Redis)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from core import dead_letters, jobs
from core.db import session_scope
from core.models import DeviceStatus, Job
from core.models.types import utcnow
from core.settings import ConfigurationError, Settings, reset_settings
from tests.support.settings import PRODUCTION

TOKEN = "t" * 40
FAMILIES = {
    "stockflow_queue_depth", "stockflow_queue_consumers", "stockflow_worker_up", "stockflow_beat_up",
    "stockflow_jobs", "stockflow_dead_letters", "stockflow_devices", "stockflow_device_spool_depth",
    "stockflow_device_spool_oldest_timestamp_seconds", "stockflow_sync_rows", "stockflow_sync_running",
    "stockflow_sync_last_success_timestamp_seconds", "stockflow_sync_lag_seconds",
    "stockflow_sync_rejections_pending", "stockflow_upload_duration_seconds",
    "stockflow_ocr_duration_seconds", "stockflow_sse_clients", "stockflow_alerts_firing",
    "stockflow_metrics_section_up", "stockflow_metrics_scrape_duration_seconds"}


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("STOCKFLOW_METRICS_TOKEN", TOKEN)
    reset_settings()
    return TOKEN


def scrape(app: Any, token: str = TOKEN) -> dict[str, Any]:
    answer = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.data
    assert answer.headers["Content-Type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(answer.get_data(as_text=True))}


def value(families: dict[str, Any], sample_name: str, **labels: str) -> float:
    family_name = sample_name.removesuffix("_count").removesuffix("_sum").removesuffix("_bucket")
    for sample in families[family_name].samples:
        if sample.name == sample_name and all(sample.labels.get(k) == v for k, v in labels.items()):
            return sample.value
    raise AssertionError(f"no sample {sample_name} {labels}")


def test_the_token_is_required(app: Any, client: Any) -> None:
    assert app.test_client().get("/metrics").status_code == 404  # no token set: off
    import os

    os.environ["STOCKFLOW_METRICS_TOKEN"] = TOKEN
    reset_settings()
    try:
        anonymous = app.test_client()
        assert anonymous.get("/metrics").status_code == 401
        wrong = anonymous.get("/metrics", headers={"Authorization": "Bearer " + "x" * 40})
        assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
        assert anonymous.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401
        assert client.get("/metrics").status_code == 401  # an administrator's session is no token
    finally:
        del os.environ["STOCKFLOW_METRICS_TOKEN"]
        reset_settings()


def test_production_refuses_a_short_metrics_token() -> None:
    Settings(**PRODUCTION)
    for weak in ("", "curto"):
        with pytest.raises(ConfigurationError, match="STOCKFLOW_METRICS_TOKEN"):
            Settings(**{**PRODUCTION, "metrics_token": weak})
    with pytest.raises(ConfigurationError, match="STOCKFLOW_ALERTS_SMTP_SECURITY"):
        Settings(**{**PRODUCTION, "alerts_smtp_host": "smtp.example.com", "alerts_smtp_security": "none"})
    Settings(**{**PRODUCTION, "alerts_smtp_host": "127.0.0.1", "alerts_smtp_security": "none"})


@pytest.mark.mariadb
def test_every_family_from_the_current_state(app: Any, token: str) -> None:
    now = utcnow()
    with session_scope() as session:
        for n, status in enumerate(("online", "online", "offline")):
            session.add(DeviceStatus(raspberry_id=f"pi-{n}", store_key="LOJA-001", status=status,
                                     reported_at=now, last_update=now, first_seen=now,
                                     spool_depth=4 if n == 2 else 0,
                                     spool_oldest_at=now - timedelta(minutes=9) if n == 2 else None))
    dead_letters.record("baixa.registrar", [], {"scan_id": "x"}, "erro", reference="x")
    dead_letters.record("sync.sincronizar", [], {}, "erro", reference="y")
    jobs.create_job("ruptura", task_name="ruptura.analisar_lote")
    families = scrape(app, token)
    assert FAMILIES <= set(families), FAMILIES - set(families)
    assert {s.labels["section"]: s.value for s in families["stockflow_metrics_section_up"].samples} == \
        dict.fromkeys(("queues", "jobs", "dead_letters", "devices", "sync", "latency", "sse", "alerts"), 1.0)
    assert value(families, "stockflow_devices", status="online") == 2
    assert value(families, "stockflow_devices", status="offline") == 1
    assert value(families, "stockflow_device_spool_depth", device="pi-2", store="LOJA-001") == 4
    assert value(families, "stockflow_device_spool_oldest_timestamp_seconds", device="pi-2") == \
        pytest.approx((now - timedelta(minutes=9)).timestamp(), abs=1)
    assert value(families, "stockflow_dead_letters", area="baixa") == 1
    assert value(families, "stockflow_dead_letters", area="sync") == 1
    assert value(families, "stockflow_jobs", task="ruptura.analisar_lote", state="queued") == 1
    assert {s.labels["queue"] for s in families["stockflow_queue_depth"].samples} >= {"baixa", "sync"}
    assert value(families, "stockflow_sse_clients") == 0


@pytest.mark.mariadb
def test_sync_rows_and_lag(app: Any, token: str) -> None:
    import uuid

    from core.models import SyncRun

    ended = utcnow() - timedelta(hours=2)
    with session_scope() as session:
        session.add(SyncRun(id=str(uuid.uuid4()), entidade="produtos", mode="incremental",
                            status="finished", triggered_by="agendador", rows_total=120,
                            rows_read=120, rows_sent=100, rows_rejected=5, rows_unchanged=15,
                            batches=1, resumes=0, started_at=ended - timedelta(minutes=3),
                            heartbeat_at=ended, finished_at=ended))
    families = scrape(app, token)
    assert value(families, "stockflow_sync_rows", entidade="produtos", kind="sent") == 100
    assert value(families, "stockflow_sync_rows", entidade="produtos", kind="rejected") == 5
    assert value(families, "stockflow_sync_lag_seconds", entidade="produtos") == pytest.approx(7200, abs=60)
    assert value(families, "stockflow_sync_running", entidade="produtos") == 0


def test_latency_histograms_count_each_upload_and_each_ocr_job_once(app: Any, client: Any,
                                                                    token: str) -> None:
    created = utcnow() - timedelta(minutes=5)
    with session_scope() as session:
        for n, seconds in enumerate((3.0, 40.0)):
            session.add(Job(id=f"ocr-{n}", kind="comprovantes", status="finished", progress=100,
                            created_at=created, ended_at=created + timedelta(seconds=seconds),
                            resends=0))
        # ended within the last 30 s: left for a later scrape (its commit may still be coming)
        session.add(Job(id="ocr-recente", kind="comprovantes", status="finished", progress=100,
                        created_at=created, ended_at=utcnow(), resends=0))
    before = scrape(app, token)
    assert value(before, "stockflow_ocr_duration_seconds_count") == 2
    assert value(before, "stockflow_ocr_duration_seconds_bucket", le="5.0") == 1
    assert value(before, "stockflow_ocr_duration_seconds_bucket", le="60.0") == 2
    assert value(before, "stockflow_ocr_duration_seconds_sum") == pytest.approx(43.0)
    uploads = value(before, "stockflow_upload_duration_seconds_count")
    assert client.post("/api/comprovantes", data={}).status_code == 400  # refused: timed too
    again = scrape(app, token)  # folded once: a second scrape counts nothing twice
    assert value(again, "stockflow_ocr_duration_seconds_count") == 2
    assert value(again, "stockflow_upload_duration_seconds_count") == uploads + 1
    assert value(again, "stockflow_upload_duration_seconds_bucket", le="+Inf") == uploads + 1


def test_a_section_that_cannot_be_read_is_reported_not_fatal(app: Any, token: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from core import overview

    monkeypatch.setattr(overview, "queue_depths", lambda: (_ for _ in ()).throw(RuntimeError("fora")))
    families = scrape(app, token)
    assert value(families, "stockflow_metrics_section_up", section="queues") == 0
    assert value(families, "stockflow_metrics_section_up", section="devices") == 1
    assert "stockflow_queue_depth" not in families


def test_sse_clients_count_every_open_stream(app: Any, client: Any, token: str) -> None:
    """The count comes from the streams' registry in Redis, so any web process answers it."""
    job_id = jobs.create_job("matriz")
    stream = client.get(f"/stream?channel=job:{job_id}", buffered=False)
    try:
        assert stream.status_code == 200
        next(iter(stream.response))  # the stream is open (its first chunk)
        assert value(scrape(app, token), "stockflow_sse_clients") == 1
    finally:
        stream.close()
    assert value(scrape(app, token), "stockflow_sse_clients") == 0


def test_upload_latencies_reach_redis_within_a_second_without_a_scrape(db: str) -> None:
    # Must survive: observations batched in a process are in the shared hash (what the other
    # web processes' scrapes read) within FLUSH_S, with the right buckets and sum; a child
    # forked while one is pending sends its own observations and not its parent's again.
    import os

    from core.redis_client import get_redis, reset_redis
    from tests.support.waiting import wait_until
    from web.metrics import FLUSH_S, RedisHistogram

    histogram = RedisHistogram("stockflow_test_batched_seconds", "test", (0.1, 1.0))
    get_redis().delete(histogram.key)
    for seconds in (0.05, 0.5, 0.07, 3.0):
        histogram.observe(seconds)
    assert get_redis().hgetall(histogram.key) == {}  # batched, not one round trip each
    wait_until(lambda: get_redis().hget(histogram.key, "+Inf") == "1", timeout_s=FLUSH_S + 5)
    counts = get_redis().hgetall(histogram.key)
    assert (counts["0.1"], counts["1.0"], counts["+Inf"]) == ("2", "1", "1")
    assert float(counts["sum"]) == pytest.approx(3.62)

    histogram.observe(0.2)  # a timer is pending when the process forks
    child = os.fork()
    if child == 0:  # the child: its own Redis connection, its own timer
        reset_redis()
        histogram.observe(0.3)
        histogram.flush()
        os._exit(0)
    assert os.waitpid(child, 0)[1] == 0
    assert get_redis().hget(histogram.key, "1.0") == "2"  # the child's 0.3; the parent's 0.2 waits
    wait_until(lambda: get_redis().hget(histogram.key, "1.0") == "3", timeout_s=FLUSH_S + 5)
    get_redis().delete(histogram.key)
