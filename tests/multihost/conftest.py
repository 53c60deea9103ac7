"""The multi-host deployment, made once for the module's tests and removed at the end."""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.multihost.deployment import Deployment
from tests.multihost.netns import Network, namespaces_problem
from tests.support.brokers import REDIS_SERVER
from tests.support.database import database_url
from tests.support.environment import service_unavailable

# Short, so a lost host's tasks come back within the test (production: 3,600 s).
VISIBILITY_TIMEOUT_S = 10


@pytest.fixture(scope="module")
def deployment_hosts(tmp_path_factory: Any) -> Iterator[Deployment]:
    """The hosts and the server, workers on both worker hosts; torn down even on failure."""
    problem = namespaces_problem()
    if problem:
        service_unavailable("Linux network namespaces", "ip netns", problem)
    if not os.path.exists(REDIS_SERVER):  # the broker: Redis 7, for the devices' ACL rules
        service_unavailable("redis-server 7", REDIS_SERVER, "not installed")
    url = database_url("mariadb")  # migrated once a session; skips or fails like MariaDB tests
    network = Network()
    deployment = None
    try:
        deployment = Deployment(network, tmp_path_factory.mktemp("multihost"), url,
                                VISIBILITY_TIMEOUT_S)
        yield deployment
    finally:
        if deployment is not None:
            deployment.close()
        network.close()


@pytest.fixture
def deployment(deployment_hosts: Deployment, db: str) -> Iterator[Deployment]:
    """Every host up (a previous test may have killed some) on an empty database; the Pis
    this test starts are stopped after it."""
    deployment_hosts.ensure_up()
    yield deployment_hosts
    deployment_hosts.stop_pis()
