"""The Pi's power and throttling state (firmware get_throttled bits) from the probe to the fleet
status, per-device limits changing the status (set by IT, audited), and the device page in
pt-BR formats with readable chart labels in a real browser."""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.db import session_scope
from core.health import fleet, throttling
from core.health.report import InvalidReport, parse_report
from core.health.store import apply_reports
from core.models import AuditEntry
from edge_agent import health
from edge_agent.config import load_config
from tests.health.support import seed_report

SYSFS = "sys/devices/platform/soc/soc:firmware/get_throttled"


@pytest.mark.parametrize("text, word", [
    ("throttled=0x0\n", 0x0),
    ("throttled=0x50005\n", 0x50005),   # undervoltage + throttled, now and since boot
    ("throttled=0x80000", 0x80000),     # soft temperature limit was hit since boot
    ("throttled=0xE000F", 0xE000F),
    ("50005\n", 0x50005),               # the sysfs file: hex without 0x
    ("0", 0),
    ("  0xffffffff  ", 0xFFFFFFFF),
])
def test_firmware_answers_are_read_as_the_word(text: str, word: int) -> None:
    assert health.parse_throttled(text) == word


@pytest.mark.parametrize("text", ["", "throttled=", "throttled=50005", "throttled=0x", "0x123456789",
                                  "throttled=0xZZ", "-1", "throttled=0x5 0x6", "error=2 error_msg=..."])
def test_garbled_firmware_answers_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        health.parse_throttled(text)


@pytest.mark.parametrize("word, now, since_boot", [
    (0x0, [], []),
    (0x1, ["subtensao"], []),
    (0x2, ["frequencia_limitada"], []),
    (0x4, ["estrangulado"], []),
    (0x8, ["limite_temperatura"], []),
    (0x10000, [], ["subtensao"]),
    (0x50005, ["subtensao", "estrangulado"], ["subtensao", "estrangulado"]),
    (0x80000, [], ["limite_temperatura"]),
    (0xF000F, ["subtensao", "frequencia_limitada", "estrangulado", "limite_temperatura"],
     ["subtensao", "frequencia_limitada", "estrangulado", "limite_temperatura"]),
    (0xFFF0_FFF0, [], []),  # bits the firmware does not document mean nothing here
])
def test_bits_now_and_since_boot(word: int, now: list[str], since_boot: list[str]) -> None:
    assert throttling.decode(word) == {"agora": now, "desde_boot": since_boot}


def test_problems_name_what_holds_now_and_what_happened_since_boot() -> None:
    assert throttling.problems(None) == [] and throttling.problems(0) == []
    assert throttling.problems(0x50001) == ["Subtensão agora",
                                            "CPU foi estrangulada desde a inicialização"]


def test_probe_reads_the_sysfs_file_else_the_command(tmp_path: Path) -> None:
    root = tmp_path / "pi"
    (root / SYSFS).parent.mkdir(parents=True)
    (root / SYSFS).write_text("50005\n")
    fake = f"{sys.executable} -c \"print('throttled=0x80000')\""
    assert health.collect(root, throttled_command=fake)["throttled"] == 0x50005
    (root / SYSFS).unlink()
    assert health.collect(root, throttled_command=fake)["throttled"] == 0x80000
    assert health.collect(root)["throttled"] is None  # no file, no command: null, not a crash
    broken = f"{sys.executable} -c \"print('garbage')\""
    assert health.collect(root, throttled_command=broken)["throttled"] is None
    assert parse_report(health.collect(root, device_id="pi-1", throttled_command=fake))["throttled"] == 0x80000


def test_agent_config_points_at_the_throttling_sources(tmp_path: Path) -> None:
    printers = tmp_path / "printers.json"
    printers.write_text('{"store_key": "LOJA-001"}')
    env = {"STOCKFLOW_AGENT_PRINTERS_JSON": str(printers)}
    default = load_config(env)
    assert default.throttled_file == "/sys/devices/platform/soc/soc:firmware/get_throttled"
    assert default.throttled_command == "vcgencmd get_throttled"
    custom = load_config({**env, "STOCKFLOW_AGENT_THROTTLED_FILE": "none",
                          "STOCKFLOW_AGENT_THROTTLED_COMMAND": "/opt/fake/vcgencmd get_throttled"})
    assert (custom.throttled_file, custom.throttled_command) == ("", "/opt/fake/vcgencmd get_throttled")


@pytest.mark.parametrize("value", ["0x50005", "327685", True, -1, 2**32, 1.5, [5]])
def test_the_report_takes_the_word_as_an_integer_only(value: Any) -> None:
    with pytest.raises(InvalidReport) as refused:
        parse_report(seed_report("pi-x", throttled=value))
    assert refused.value.code == "invalid" and "throttled" in refused.value.reason


@pytest.mark.mariadb
def test_a_report_with_throttling_is_stored_shown_and_counted_as_a_problem(client: Any) -> None:
    apply_reports([parse_report(seed_report("pi-power", throttled=0x50005)),
                   parse_report(seed_report("pi-well", throttled=0))])
    devices = {d["id"]: d for d in client.get("/api/dispositivos").get_json()["devices"]}
    sick = devices["pi-power"]
    assert sick["severity"] == 2 and sick["throttled"] == 0x50005
    assert sick["problems"] == ["Subtensão agora", "CPU estrangulada agora"]
    assert sick["energia"] == {"agora": ["subtensao", "estrangulado"],
                               "desde_boot": ["subtensao", "estrangulado"]}
    assert devices["pi-well"]["severity"] == 0 and devices["pi-well"]["problems"] == []
    # a later report without the field (an old agent) does not keep a stale power problem
    apply_reports([parse_report(seed_report("pi-power"))])
    assert fleet.get_device("pi-power")["problems"] == []  # type: ignore[index]
    assert "Energia" in client.get("/dispositivos/pi-power").get_data(as_text=True)


def limits(client: Any, device: str, body: Any) -> Any:
    return client.put(f"/api/dispositivos/{device}/limites", json=body)


def test_per_device_limits_change_the_status_and_are_audited(client: Any) -> None:
    apply_reports([parse_report(seed_report("pi-deposito", cpu_temp="75°C", spool_depth=3)),
                   parse_report(seed_report("pi-caixa", cpu_temp="75°C", spool_depth=3))])
    expected = ["CPU quente (75 °C)", "3 leitura(s) não enviada(s)"]
    assert fleet.get_device("pi-deposito")["problems"] == expected  # type: ignore[index]

    answer = limits(client, "pi-deposito", {"temp_warn_c": 80, "backlog_warn": 10})
    assert answer.status_code == 200, answer.get_json()
    device = answer.get_json()["device"]
    assert device["problems"] == [] and device["severity"] == 0
    assert device["limites"]["proprios"] == ["backlog_warn", "temp_warn_c"]
    assert device["limites"]["valores"]["temp_warn_c"] == 80.0
    # the other Pi keeps the fleet's defaults
    by_id = {d["id"]: d for d in fleet.fleet()}
    assert by_id["pi-caixa"]["problems"] == expected and by_id["pi-deposito"]["problems"] == []

    # null puts one limit back to the default; the one not named stays
    device = limits(client, "pi-deposito", {"temp_warn_c": None}).get_json()["device"]
    assert device["problems"] == ["CPU quente (75 °C)"] and device["limites"]["proprios"] == ["backlog_warn"]

    with session_scope() as session:
        trail = session.scalars(select(AuditEntry).where(AuditEntry.action == "health.limits")
                                .order_by(AuditEntry.id)).all()
        assert [(e.actor, e.target) for e in trail] == [("admin", "pi-deposito")] * 2
        assert trail[0].detail["antes"]["temp_warn_c"] == 70.0
        assert trail[0].detail["depois"]["temp_warn_c"] == 80.0


def test_bad_limits_are_refused_with_the_reason(client: Any) -> None:
    apply_reports([parse_report(seed_report("pi-1"))])
    for body in ({"temp_warn_c": "80"}, {"temp_warn_c": True}, {"temp_warn_c": 500},
                 {"wifi_warn_dbm": -70.5}, {"disco": 90}, [80], None):
        answer = limits(client, "pi-1", body)
        assert answer.status_code == 400 and answer.get_json()["error"], body
    assert fleet.get_device("pi-1")["limites"]["proprios"] == []  # type: ignore[index]
    assert limits(client, "pi-nenhum", {"temp_warn_c": 80}).status_code == 404


@pytest.mark.browser
def test_device_page_in_pt_br_with_readable_charts_and_limits_form(page: Any) -> None:
    apply_reports([parse_report(seed_report("pi-power", throttled=0x50005, cpu_temp="75.5°C",
                                            net_bytes_sent=514806710, net_bytes_recv=102400,
                                            spool_depth=1234))])
    page.goto("/dispositivos/pi-power")
    now = page.locator("#device-now")
    now.locator("dd", has_text="75,5 °C").wait_for()
    text = page.inner_text("#device")
    assert "491,0 MB" in text and "100,0 KB" in text and "bytes" not in text
    assert "1.234 leitura(s)" in now.inner_text()
    assert re.search(r"\b\d{2}/\d{2}/\d{4} \d{2}:\d{2}\b", now.inner_text())
    power = page.locator("#device-power")
    assert power.locator('tr[data-condition="subtensao"] [data-when="agora"]').inner_text() == "sim"
    assert power.locator('tr[data-condition="limite_temperatura"] [data-when="desde_boot"]').inner_text() == "não"
    assert "Subtensão agora" in now.inner_text()

    # every axis label is drawn at least 12 px high on screen
    heights = page.locator("svg.chart text").evaluate_all(
        "ts => ts.map(t => [parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a,"
        " t.getBoundingClientRect().height])")
    assert heights and all(size >= 12 and box >= 12 for size, box in heights), heights

    # IT raises this Pi's temperature limit from the page: the hot CPU is no longer a problem
    assert "CPU quente" in now.inner_text()
    page.fill("#limit-temp_warn_c", "80")
    page.click("#device-limits button[type=submit]")
    page.locator("#limits-message", has_text="Limites salvos.").wait_for()
    assert "CPU quente" not in now.inner_text()
    assert page.inner_text('[data-limit-source="temp_warn_c"]') == "deste dispositivo"
