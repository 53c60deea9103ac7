"""Stockflow across hosts (tests/multihost/deployment.py): faults mid-burst, a count at the end.

Scaled down (2 Pis x 200 scans, an 8 s cut); bench/multihost.py runs the same scenarios at
full size (2 x 1,000 scans, a 30 s cut). The scenarios and what each must survive are in
tests/multihost/scenarios.py. Every Pi is issued as a device (its own broker user and signing
secret) and the workers require the registry, as in production.
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


def test_scans_forged_from_a_pi_host_with_another_identity_or_store_are_refused(
        deployment: Deployment, record_property: Any) -> None:
    report(record_property, scenarios.forged_scans_refused(deployment, scans=20))


def test_a_pis_redis_credentials_may_not_read_delete_or_publish_anything_else(
        deployment: Deployment, record_property: Any) -> None:
    report(record_property, scenarios.redis_credentials_refused(deployment))


def test_a_pis_rabbitmq_credentials_may_not_read_delete_or_publish_anything_else(
        deployment: Deployment, record_property: Any) -> None:
    report(record_property, scenarios.rabbitmq_credentials_refused(deployment))
