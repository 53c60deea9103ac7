"""Stockflow across hosts at full size: the fault scenarios of tests/multihost on Linux network
namespaces (a server, two worker hosts, two Pis; docs/deploying-across-stores.md).

- a worker host lost whole mid-burst, 2 Pis x 1,000 scans, visibility timeout 20 s: seconds
  until every scan was written off (the agents' resend) and until the lost host's tasks were
  delivered again (the broker's visibility timeout);
- a Pi's link cut for 30 s mid-burst: scans held in its spool, seconds to drain once back,
  share of pairs drained out of scan order;
- the broker kill -9'd mid-burst and restarted on its data 2 s later: seconds until every scan
  was written off, workers that exited and were restarted meanwhile;
- scans forged from a Pi host with another device's identity or store (all refused, none
  written off), and a Pi's Redis user trying what it may not (all refused by the ACL).
Every Pi is issued as a device (its own Redis ACL user and signing secret), as in production.
Each scenario also checks its count (every accepted scan written off once, none twice).
No baseline: the figures are the times a fault costs. Needs root (`ip netns`); without it the
last line says why it did not run. MariaDB from STOCKFLOW_BENCH_MYSQL_URL, else
root@127.0.0.1:3306, database stockflow_bench_multihost (dropped and recreated).
Last line: JSON with the figures. Run: .venv/bin/python bench/multihost.py
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCANS_PER_PI = int(os.environ.get("BENCH_SCANS_PER_PI", 1_000))
LINK_CUT_S = float(os.environ.get("BENCH_LINK_CUT_S", 30))
VISIBILITY_TIMEOUT_S = 20
BROKER_DOWN_S = 2
MYSQL_URL = os.environ.get("STOCKFLOW_BENCH_MYSQL_URL",
                           "mysql+mysqldb://root@127.0.0.1:3306/stockflow_bench_multihost")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_scenarios(workdir: Path) -> dict[str, Any]:
    """Build the hosts, run each scenario on an empty database, tear everything down."""
    # The harness's helpers live with the tests; this sets their environment (and starts a
    # Redis of the test session, unused here, stopped at the end).
    from tests.support import environment  # noqa: I001 - first: it sets the environment
    from tests.support.database import clean_tables, use_database

    from core import migrate
    from core.db import dispose_engine, recreate_mysql_database
    from tests.multihost import scenarios
    from tests.multihost.deployment import Deployment
    from tests.multihost.netns import Network

    recreate_mysql_database(MYSQL_URL)
    use_database(MYSQL_URL)
    migrate.upgrade()
    network = Network()
    deployment = None
    figures: dict[str, Any] = {"scans_per_pi": SCANS_PER_PI}
    try:
        deployment = Deployment(network, workdir, MYSQL_URL, VISIBILITY_TIMEOUT_S)
        runs = [("worker host lost", lambda: scenarios.worker_host_lost(deployment, SCANS_PER_PI)),
                ("Pi link cut", lambda: scenarios.pi_link_cut(deployment, SCANS_PER_PI, LINK_CUT_S)),
                ("broker restarted",
                 lambda: scenarios.broker_restarted(deployment, SCANS_PER_PI, BROKER_DOWN_S)),
                ("forged scans", lambda: scenarios.forged_scans_refused(deployment, 100)),
                ("a Pi's broker credentials", lambda: scenarios.redis_credentials_refused(deployment))]
        for name, scenario in runs:
            deployment.ensure_up()
            clean_tables()
            log(f"{name}: 2 Pis x {SCANS_PER_PI} scans")
            result = scenario()
            log(f"{name}: {result}")
            figures.update(result)
            deployment.stop_pis()
    finally:
        if deployment is not None:
            deployment.close()
        network.close()
        dispose_engine()
        recreate_mysql_database(MYSQL_URL, create=False)
        environment.shutdown()
    return figures


def main() -> int:
    from tests.multihost.netns import namespaces_problem

    problem = namespaces_problem()
    if problem:
        print(json.dumps({"skipped": problem}))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-multihost-") as workdir:
        figures = run_scenarios(Path(workdir))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
