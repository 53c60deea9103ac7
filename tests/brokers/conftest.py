"""The `broker` fixture: each test here runs once on Redis and once on RabbitMQ."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.brokers import Broker, broker_of


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Broker]:
    """A broker of this test alone: its own Redis, or its own vhost on the shared RabbitMQ."""
    with broker_of(request.param, tmp_path) as broker:
        yield broker
