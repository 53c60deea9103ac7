"""The fleet page and device page: what they show, who may watch the devices channel, and in a
real browser the table's sorting and its live update over SSE."""
from __future__ import annotations

from typing import Any

import pytest

from core.health.fleet import mark_silent_devices
from core.health.report import parse_report
from core.health.store import apply_reports
from tests.health.support import ago, seed_report
from web.sse import may_read


def given_fleet() -> None:
    apply_reports([parse_report(seed_report("pi-ok", at=ago(2), store_key="LOJA-001"), received_at=ago(2)),
                   parse_report(seed_report("pi-hot", at=ago(2), cpu_temp="81°C", store_key="LOJA-002"),
                                received_at=ago(2)),
                   parse_report(seed_report("pi-gone", at=ago(900), store_key="LOJA-003"),
                                received_at=ago(900))])
    mark_silent_devices()


def test_fleet_page_and_api_list_sick_first(client: Any) -> None:
    given_fleet()
    page = client.get("/dispositivos")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "pi-hot" in html and 'id="fleet"' in html and "health.js" in html

    body = client.get("/api/dispositivos").get_json()
    assert [(d["id"], d["status"]) for d in body["devices"]] == [
        ("pi-gone", "offline"), ("pi-hot", "online"), ("pi-ok", "online")]
    assert body["devices"][1]["problems"] == ["CPU quente (81 °C)"]
    assert body["since"]


def test_device_page_and_history(client: Any) -> None:
    given_fleet()
    apply_reports([parse_report(seed_report("pi-ok", at=ago(1), cpu_temp="50°C"))])
    page = client.get("/dispositivos/pi-ok")
    assert page.status_code == 200 and "Temperatura da CPU" in page.get_data(as_text=True)
    history = client.get("/api/dispositivos/pi-ok/historico?horas=24").get_json()
    assert [s["cpu_temp_c"] for s in history["samples"]] == [48.0, 50.0]
    assert client.get("/dispositivos/nao-existe").status_code == 404
    missing = client.get("/api/dispositivos/nao-existe/historico")
    assert missing.status_code == 404 and missing.get_json()["error"]
    assert client.get("/api/dispositivos/pi-ok/historico?horas=-1").status_code == 400


def test_devices_channel_is_for_those_who_see_the_fleet(app: Any, users: dict[str, Any]) -> None:
    class Anonymous:
        is_authenticated = False

    with app.app_context():
        assert may_read(users["admin"], "devices")
        assert not may_read(users["admin"], "devices:pi-ok")
        assert not may_read(users["ana"], "devices")  # store staff (role "loja")
        assert not may_read(Anonymous(), "devices")


def test_fleet_page_needs_login(app: Any) -> None:
    response = app.test_client().get("/dispositivos")
    assert response.status_code in (302, 401)


@pytest.mark.browser
def test_browser_sorts_and_updates_live(page: Any) -> None:
    given_fleet()
    page.goto("/dispositivos")
    rows = page.locator("#fleet tbody tr")
    rows.first.wait_for()
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.id)") == ["pi-gone", "pi-hot", "pi-ok"]

    page.click("th[data-key=id]")  # by name, ascending
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.id)") == ["pi-gone", "pi-hot", "pi-ok"]
    page.click("th[data-key=id]")  # descending
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.id)") == ["pi-ok", "pi-hot", "pi-gone"]
    page.click("th[data-key=cpu_temp_c]")  # coolest first
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.id)") == ["pi-gone", "pi-ok", "pi-hot"]

    # the offline Pi reports again, hot: the page updates without a reload
    apply_reports([parse_report(seed_report("pi-gone", cpu_temp="90°C", store_key="LOJA-003"))])
    gone = page.locator('#fleet tbody tr[data-id="pi-gone"]')
    gone.locator("td", has_text="90,0 °C").wait_for(timeout=15_000)
    assert gone.locator("[data-status]").get_attribute("data-status") == "online"
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.id)") == ["pi-ok", "pi-hot", "pi-gone"]
    assert "1 offline" not in page.inner_text("#fleet-summary")

    page.click("text=pi-hot")
    page.wait_for_url("**/dispositivos/pi-hot")
    # one sample so far: the chart draws its point (a one-point line has no size to see)
    page.locator("svg.chart circle").first.wait_for()
    assert page.locator("svg[data-field=cpu_temp_c] path.line").count() == 1
    # seed 002's report has no memory percentage nor backlog: those charts say so
    assert page.locator("svg[data-field=spool_depth] text.empty").count() == 1
