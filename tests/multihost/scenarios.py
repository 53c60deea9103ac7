"""The fault scenarios across hosts, each ending in a count; run small by the tests
(tests/multihost/test_across_hosts.py) and at full size by bench/multihost.py.

Each feeds both Pis a burst of scans, breaks something in the middle, then counts: every scan
a Pi accepted is written off exactly once, none twice, and every spool is empty. Each returns
its figures (seconds are measured from the fault).
"""
from __future__ import annotations

import itertools
import time
from collections.abc import Iterable
from typing import Any

from tests.baixa.support import outcomes, removals_by_product
from tests.multihost.deployment import PROCESSES_PER_WORKER, Burst, Deployment, PiAgent
from tests.support.waiting import wait_until

# A scan without an outcome is sent again after 5 s, then 10 s (production: 60 s, up to 3,600 s).
AGENT_ENV = {"STOCKFLOW_AGENT_ACK_TIMEOUT_S": "5", "STOCKFLOW_AGENT_ACK_TIMEOUT_MAX_S": "10"}


def written_off(ids: Iterable[int]) -> int:
    return len(removals_by_product(ids))


def inverted_share(order: list[Any], expected: list[Any]) -> float:
    """Return the share of pairs that `order` has the other way round from `expected`
    (0: the same order, about 0.5: shuffled, 1: reversed)."""
    rank = {item: n for n, item in enumerate(expected)}
    pairs = list(itertools.combinations([rank[item] for item in order], 2))
    return sum(a > b for a, b in pairs) / max(1, len(pairs))


def assert_each_scan_written_off_once(deployment: Deployment, products: dict[str, list[int]],
                                      accepted: dict[str, list[str]]) -> None:
    """The count at the end: each accepted scan has one outcome, each product one removal,
    and every Pi's spool is empty."""
    every_id = [pid for ids in products.values() for pid in ids]
    wait_until(lambda: written_off(every_id) == len(every_id), 120,
               lambda: f"every product written off ({written_off(every_id)}/{len(every_id)})")
    for pi in deployment.pis:
        wait_until(lambda: pi.status()["spool_depth"] == 0, 60, f"{pi.device_id}'s spool to drain")
    assert set(removals_by_product(every_id).values()) == {1}  # none twice
    for device_id, scan_ids in accepted.items():
        recorded = [o for o in outcomes() if o.device_id == device_id]
        assert sorted(o.scan_id for o in recorded) == sorted(scan_ids)  # each once, no other
        assert [o.outcome for o in recorded] == ["removed"] * len(scan_ids)


def start_bursts(deployment: Deployment, scans_per_pi: int,
                 rate_per_s: float | None = None) -> tuple[dict[str, list[int]], list[Burst]]:
    """Start both Pis on products of their own; return the products per Pi and the bursts."""
    pis: list[PiAgent] = deployment.start_pis(AGENT_ENV)
    products = deployment.seed(scans_per_pi)
    return products, [Burst(pi, products[pi.device_id], rate_per_s) for pi in pis]


def worker_host_lost(deployment: Deployment, scans_per_pi: int) -> dict[str, Any]:
    """A worker host lost whole mid-burst (every process kill -9'd, no socket closed): every
    accepted scan written off exactly once; the tasks the lost host held are delivered again
    to the other host after the visibility timeout."""
    products, bursts = start_bursts(deployment, scans_per_pi)  # as fast as the Pis take them
    every_id = [pid for ids in products.values() for pid in ids]
    wait_until(lambda: written_off(every_id) >= len(every_id) // 4, 60, "a quarter written off")
    lost_at = time.monotonic()
    assert deployment.lose_host(deployment.worker_hosts[0]) >= 1 + PROCESSES_PER_WORKER
    held = deployment.in_flight()  # the lost host's tasks, and the other's of the moment
    # No baixa takes this long and nothing is delivered again before the visibility timeout:
    # what is still unacked then was the lost host's.
    time.sleep(max(0.0, lost_at + deployment.visibility_timeout_s / 2 - time.monotonic()))
    lost = held & deployment.in_flight()
    accepted = {burst.pi.device_id: burst.join() for burst in bursts}

    wait_until(lambda: written_off(every_id) == len(every_id), 120, "every product written off")
    all_written_off_s = time.monotonic() - lost_at
    wait_until(lambda: not lost & deployment.in_flight(), deployment.visibility_timeout_s + 40,
               "the lost host's tasks to be delivered again")
    redelivered_s = time.monotonic() - lost_at
    wait_until(lambda: deployment.redis().llen("baixa") == 0 and not deployment.in_flight(), 30,
               "the other host to run them")
    assert_each_scan_written_off_once(deployment, products, accepted)
    assert lost  # the host was lost with work in hand
    return {"host_lost_scans": len(every_id), "host_lost_in_flight": len(lost),
            "host_lost_all_written_off_s": round(all_written_off_s, 1),
            "host_lost_redelivered_s": round(redelivered_s, 1),
            "visibility_timeout_s": deployment.visibility_timeout_s}


def pi_link_cut(deployment: Deployment, scans_per_pi: int, cut_s: float) -> dict[str, Any]:
    """A Pi's cable pulled mid-burst for `cut_s`: the clerk's scans are still accepted (spooled,
    beep), none reaches the server while the link is down, and once it is back every one is
    written off, in scan order; the other store goes on meanwhile."""
    products, bursts = start_bursts(deployment, scans_per_pi, rate_per_s=scans_per_pi / cut_s)
    cut, other = (burst.pi for burst in bursts)
    wait_until(lambda: len(bursts[0].answers) >= scans_per_pi // 4, 60, "a quarter scanned")
    cut.host.unplug()
    plug_at = time.monotonic() + cut_s
    other_before = written_off(products[other.device_id])
    status = cut.status()  # asked on the Pi itself: the broker does not answer there
    reached_before_cut = written_off(products[cut.device_id])  # what was queued before the cut
    time.sleep(max(0.0, plug_at - time.monotonic()))  # the cut lasts cut_s
    assert written_off(products[cut.device_id]) == reached_before_cut
    held = len(bursts[0].answers) - reached_before_cut
    assert written_off(products[other.device_id]) > other_before
    cut.host.plug()
    plugged_at = time.monotonic()

    accepted = {burst.pi.device_id: burst.join() for burst in bursts}
    wait_until(lambda: written_off(products[cut.device_id]) == scans_per_pi, 120, "the drain")
    drained_s = time.monotonic() - plugged_at
    assert_each_scan_written_off_once(deployment, products, accepted)
    assert status["broker_reachable"] is False and status["waiting_to_send"] >= 1
    assert held >= scans_per_pi // 4  # scans made during the cut waited in the spool
    drained = [int(o.product_id) for o in outcomes() if o.device_id == cut.device_id]
    inverted = inverted_share(drained, products[cut.device_id])
    # In scan order, but for the overtaking of the worker processes running side by side.
    assert inverted < 0.02
    return {"link_cut_s": cut_s, "link_cut_held_scans": held,
            "link_cut_drained_s": round(drained_s, 1), "link_cut_inverted_share": round(inverted, 4)}


def broker_restarted(deployment: Deployment, scans_per_pi: int, down_s: float) -> dict[str, Any]:
    """The broker kill -9'd mid-burst and started again on its data dir after `down_s`
    (appendfsync everysec: up to a second of writes lost, tasks and replies among them):
    every accepted scan written off exactly once; the agents send again what got no outcome."""
    products, bursts = start_bursts(deployment, scans_per_pi, rate_per_s=50)
    every_id = [pid for ids in products.values() for pid in ids]
    wait_until(lambda: written_off(every_id) >= len(every_id) // 4, 60, "a quarter written off")
    restarts_before = deployment.worker_restarts
    deployment.kill_broker()
    killed_at = time.monotonic()
    time.sleep(down_s)  # the broker is down this long
    deployment.start_broker()
    accepted = {burst.pi.device_id: burst.join() for burst in bursts}
    wait_until(lambda: written_off(every_id) == len(every_id), 120, "every product written off")
    recovered_s = time.monotonic() - killed_at
    assert_each_scan_written_off_once(deployment, products, accepted)
    return {"broker_down_s": down_s, "broker_all_written_off_s": round(recovered_s, 1),
            "broker_worker_restarts": deployment.worker_restarts - restarts_before}
