"""Stockflow across hosts (tests/multihost/deployment.py): faults mid-burst, a count at the end.

Scaled down (2 Pis x 200 scans, an 8 s cut); bench/multihost.py runs the same scenarios at
full size (2 x 1,000 scans, a 30 s cut). The scenarios and what each must survive are in
tests/multihost/scenarios.py. Not here: a scan forged with another device's identity and a
Pi's broker credentials refused, which need the per-device credentials (Deployment.start_pis
takes each Pi's broker URL and environment for them).
"""
from __future__ import annotations

from typing import Any

import pytest

from tests.multihost import scenarios
from tests.multihost.deployment import Deployment

pytestmark = pytest.mark.mariadb_only

SCANS_PER_PI = 200


def report(record_property: Any, figures: dict[str, Any]) -> None:
    for key, value in figures.items():
        record_property(key, value)
    print(figures)


def test_worker_host_lost_mid_burst_every_scan_written_off_once(
        deployment: Deployment, record_property: Any) -> None:
    report(record_property, scenarios.worker_host_lost(deployment, SCANS_PER_PI))


def test_pi_link_cut_mid_burst_spool_holds_and_drains_in_order(
        deployment: Deployment, record_property: Any) -> None:
    report(record_property, scenarios.pi_link_cut(deployment, SCANS_PER_PI, cut_s=8))


def test_broker_restarted_mid_burst_nothing_lost(
        deployment: Deployment, record_property: Any) -> None:
    report(record_property, scenarios.broker_restarted(deployment, SCANS_PER_PI, down_s=2))
