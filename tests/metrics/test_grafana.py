"""The Grafana dashboard (platform/grafana) is valid JSON and graphs only metrics /metrics has."""
from __future__ import annotations

import json
import re

from tests.metrics.test_metrics import FAMILIES
from tests.support.environment import ROOT


def test_the_dashboard_uses_only_exposed_metrics() -> None:
    dashboard = json.loads((ROOT / "platform/grafana/stockflow-dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = {re.sub(r"_(bucket|count|sum)$", "", name)
            for expr in exprs for name in re.findall(r"stockflow_[a-z_]+", expr)}
    assert used and used <= FAMILIES, used - FAMILIES
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    assert FAMILIES - used <= {"stockflow_sync_last_success_timestamp_seconds", "stockflow_sync_running"}
