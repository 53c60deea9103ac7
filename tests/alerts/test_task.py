"""The Beat task on a real worker, and the workers' watchdog that evaluates when Beat is down."""
from __future__ import annotations

from typing import Any

import pytest

from core.alerts import evaluator
from core.celery_app import celery_app
from core.redis_client import get_redis
from core.settings import reset_settings
from tests.alerts.support import alerts, only
from tests.support.waiting import wait_until


def test_beat_task_evaluates_on_a_worker(worker: Any, receivers: dict[str, Any]) -> None:
    only("disco_cheio", "100")
    outcome = celery_app.send_task("alerts.evaluate", queue="default").get(timeout=60)
    assert outcome["fired"] == 1 and outcome["sent"]["delivered"] == 2
    assert receivers["webhook"].texts()[0].startswith("[Stockflow] ALERTA: Disco com pouco espaço")
    assert celery_app.conf.beat_schedule["alerts.evaluate"]["schedule"] == 60.0


def test_the_watchdog_sends_an_evaluation_when_none_ran(worker: Any, receivers: dict[str, Any],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from tasks.alerts import WATCHDOG_KEY, watchdog_check

    assert not watchdog_check()  # off in tests unless set
    monkeypatch.setenv("STOCKFLOW_ALERTS_WATCHDOG_S", "150")
    reset_settings()
    only("beat_parado", "1")
    get_redis().delete(evaluator.LAST_RUN_KEY, WATCHDOG_KEY)
    assert watchdog_check()  # no evaluation ever: one is sent
    assert not watchdog_check()  # and only one a minute
    wait_until(lambda: receivers["webhook"].texts(), 60, "the watchdog's evaluation to deliver")
    assert "Beat parado" in receivers["webhook"].texts()[0] and len(alerts()) == 1
    get_redis().delete(WATCHDOG_KEY)
    assert not watchdog_check()  # an evaluation ended just now: nothing to do
