"""The agent as a real process against a real broker and a real worker."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.baixa.support import (
    Agent,
    OwnRedis,
    outcomes,
    removals_by_product,
    seed_products,
    shelf_count,
    spawn_worker_on,
    stop_process,
)
from tests.support.environment import REDIS_URL
from tests.support.waiting import wait_until

# A scan sent without an outcome is sent again after 1 s, then 2 s, then every 4 s.
QUICK_RESEND = {"STOCKFLOW_AGENT_ACK_TIMEOUT_S": "1", "STOCKFLOW_AGENT_ACK_TIMEOUT_MAX_S": "4"}


@pytest.mark.mariadb
def test_kill_9_agent_mid_burst_every_scan_lands_once(tmp_path: Path, worker: Any) -> None:
    # What must survive the SIGKILL: every scan the agent acknowledged (spooled) reaches the
    # database exactly once, and no product is ever written off twice.
    # The killed agent may take outcome replies with it: those scans are sent again.
    ids = seed_products("LOJA-001", range(500_001, 500_151))
    agent = Agent(tmp_path, REDIS_URL, env=QUICK_RESEND).start()
    assert agent.process is not None and agent.process.stdin is not None
    agent.process.stdin.write(b"".join(f"{pid}\n".encode() for pid in ids))
    agent.process.stdin.flush()
    acked = [agent.ack() for _ in range(60)]
    agent.kill9()
    assert all(a["accepted"] for a in acked)

    agent.start()  # the same spool: whatever was spooled is published after the restart
    for pid in ids[len(acked):]:  # the clerk scans again what got no beep
        agent.send(str(pid).encode())
    wait_until(lambda: len(removals_by_product(ids)) == len(ids), 60, "every product written off")
    wait_until(lambda: agent.status()["spool_depth"] == 0, 30, "the spool to drain")
    assert agent.stop() == 0

    assert set(removals_by_product(ids).values()) == {1}
    assert shelf_count(ids) == 0
    recorded = outcomes()
    scan_ids = [o.scan_id for o in recorded]
    assert len(scan_ids) == len(set(scan_ids))
    assert {a["scan_id"] for a in acked} <= set(scan_ids)
    assert {o.outcome for o in recorded} <= {"removed", "already_removed"}
    assert sum(o.outcome == "removed" for o in recorded) == len(ids)


@pytest.mark.mariadb
def test_redis_stopped_while_scanning_scans_wait_and_drain_in_order(tmp_path: Path, db: str) -> None:
    # What must survive a broker outage: every scan made while Redis is down waits in the
    # spool and reaches the database after Redis returns, in the order it was scanned.
    ids = seed_products("LOJA-001", range(600_001, 600_031))
    redis = OwnRedis(tmp_path / "redis")
    worker = spawn_worker_on(redis.url, concurrency=1)  # one at a time: order is visible
    agent = Agent(tmp_path / "agent", redis.url, env=QUICK_RESEND).start()
    try:
        for pid in ids[:10]:
            assert agent.scan(str(pid).encode())["accepted"]
        wait_until(lambda: len(removals_by_product(ids[:10])) == 10, 30, "first scans")

        redis.stop()
        for pid in ids[10:]:
            assert agent.scan(str(pid).encode())["accepted"]  # spooled, beep, clerk goes on
        status = agent.status()
        assert status["waiting_to_send"] == 20 and status["broker_reachable"] is False
        assert shelf_count(ids[10:]) == 20
        assert "broker unreachable" in agent.log()

        redis.start()
        wait_until(lambda: len(removals_by_product(ids)) == 30, 60, "the spool to drain")
        wait_until(lambda: agent.status()["spool_depth"] == 0, 30, "spool empty")
    finally:
        agent.stop()
        stop_process(worker)
        redis.stop()
    processed = [int(o.product_id) for o in outcomes()]
    assert processed == ids  # drained in scan order
    assert set(removals_by_product(ids).values()) == {1}


GARBAGE = [
    b"ABC123",
    b"",
    b"   ",
    b"1" * 10_240,
    b"7" * 19,
    b"1; DROP TABLE tb_produto; --",
    b"1' OR '1'='1",
    b"\xff\xfe\x00\x81",
    b"12\xc3\x28",
    "１２３".encode(),  # full-width digits: not ASCII
    b"-5",
    b"\x1b[A",
]


@pytest.mark.mariadb
def test_garbage_input_is_rejected_with_a_reason_and_never_sent(tmp_path: Path, worker: Any) -> None:
    ids = seed_products("LOJA-001", [700_001, 700_002])
    agent = Agent(tmp_path, REDIS_URL).start()
    try:
        answers = [agent.scan(line) for line in GARBAGE]
        valid = [agent.scan(str(pid).encode()) for pid in ids]
        wait_until(lambda: len(removals_by_product(ids)) == 2, 30, "the valid scans")
        assert agent.status()["spool_depth"] == 0
    finally:
        assert agent.stop() == 0  # garbage never crashed it
    assert all(not a["accepted"] and a["reason"] for a in answers)
    assert all(v["accepted"] for v in valid)
    assert sorted(o.product_id for o in outcomes()) == [str(i) for i in ids]  # nothing else sent
    log = agent.log()
    assert "not UTF-8" in log and "longer than 18" in log and "empty read" in log
