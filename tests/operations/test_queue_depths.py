"""Queue depths from either broker: Redis (the queue list's length) and RabbitMQ (a passive
declare's message count)."""
from __future__ import annotations

from pathlib import Path

import pytest

from core import overview
from tests.support.brokers import broker_of, platform_app


@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
def test_depth_of_each_queue(kind: str, tmp_path: Path) -> None:
    with broker_of(kind, tmp_path) as broker:
        app = platform_app(broker)
        for _ in range(2):  # nobody consumes this broker: the messages wait
            app.send_task("sync.sincronizar_agendado", queue="sync", routing_key="sync")
        app.send_task("health.report", queue="health", routing_key="health")
        depths = overview.queue_depths(app)
        assert depths["sync"] == 2 and depths["health"] == 1
        # Redis: an empty queue has no list, so 0; RabbitMQ: never declared, so unknown
        assert depths["baixa"] == (0 if kind == "redis" else None)
        if kind == "redis":  # (a cut RabbitMQ connection takes its timeout to fail)
            broker.outage()
            assert set(overview.queue_depths(app).values()) == {None}  # unknown, and no error
