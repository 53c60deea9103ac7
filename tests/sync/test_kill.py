"""A worker killed with SIGKILL in the middle of a sync: its lock dies with it, and the next
trigger resumes the same run from the last accepted batch without resending the others."""
from __future__ import annotations

import os
import signal
from typing import Any

import psutil
import pytest

from core.settings import reset_settings
from core.sync import locks, runs
from core.sync.consinco.queries import FULL
from core.sync.trigger import trigger
from standins.plusoft import PlusoftStandIn
from tests.support.waiting import wait_until
from tests.support.workers import spawn_worker
from tests.sync.support import delivered_keys, load_source, wait_for_job


@pytest.mark.mariadb
def test_sigkill_mid_sync_then_next_run_resumes_from_checkpoint(
        worker: Any, standin: PlusoftStandIn, sync_env: Any) -> None:
    # Must survive: kill -9 of the worker (parent and child) while batches are in flight.
    # Checks: the run is resumed (same run id), batches accepted before the kill are not sent
    # again, at most the one in-flight batch is repeated (and dropped by its Idempotency-Key),
    # and every row reaches Plusoft exactly once.
    sync_env["STOCKFLOW_PLUSOFT_LOCK_TTL_S"] = "5"
    reset_settings()
    load_source(vendas=4_000)  # 8 batches of 500
    standin.inject(*["lento:0.15"] * 100)
    queue = f"sync-kill-{os.getpid()}"
    process = spawn_worker(queue, concurrency=1)
    try:
        first = trigger(["vendas"], FULL, triggered_by="teste", queue=queue)

        def two_batches_done() -> dict[str, Any] | None:
            run = runs.latest_by_entity(["vendas"])["vendas"]
            return run if run and run["lotes"] >= 2 else None

        wait_until(two_batches_done, 30, "two batches accepted")
    finally:
        for proc in [*psutil.Process(process.pid).children(recursive=True), process]:
            os.kill(proc.pid, signal.SIGKILL)
        process.wait(timeout=10)
    killed = runs.latest_by_entity(["vendas"])["vendas"]
    assert killed is not None and killed["status"] == "running" and killed["lotes"] < 8
    requests_before = standin.state()["requisicoes"]

    # While the dead worker's lock lives, a trigger is answered with the (dead) running job...
    assert trigger(["vendas"], FULL, triggered_by="teste").job_id == first.job_id
    # ...and once it expires (no renewal without a worker) the next run resumes the same run.
    wait_until(lambda: locks.holder("vendas") is None, 15, "the dead worker's lock to expire")
    second = trigger(["vendas"], FULL, triggered_by="teste")
    assert second.created and second.job_id != first.job_id
    wait_for_job(second.job_id)

    resumed = runs.latest_by_entity(["vendas"])["vendas"]
    assert resumed is not None and resumed["id"] == killed["id"]
    assert resumed["status"] == "finished" and resumed["retomadas"] == 1
    assert resumed["linhas_enviadas"] == 4_000
    # one request per batch after the checkpoint: nothing accepted before it was sent again
    assert standin.state()["requisicoes"] - requests_before == 8 - killed["lotes"]
    assert standin.duplicates <= 1  # the batch in flight at the kill, if it had landed
    keys = delivered_keys(standin, "vendas")
    assert len(keys) == len(set(keys)) == 4_000
