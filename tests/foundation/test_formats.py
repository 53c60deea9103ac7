"""Numbers and dates as people in Brazil read them (web/formats.py)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from web import formats


def test_dates_show_day_first_in_the_business_time_zone() -> None:
    # 18:17 UTC is 15:17 in São Paulo (no daylight saving since 2019).
    assert formats.data_hora(datetime(2026, 10, 8, 18, 17, 38, tzinfo=timezone.utc)) == "08/10/2026 15:17"
    assert formats.data_hora(datetime(2026, 10, 8, 18, 17, 38)) == "08/10/2026 15:17"  # naive = UTC
    # A receipt's printed time is already local: shown as printed.
    assert formats.data_hora("2026-10-08T18:17:38", local=False) == "08/10/2026 18:17"
    assert formats.data(date(2026, 1, 2)) == "02/01/2026"
    assert formats.data_hora(None) == "—"


def test_money_sizes_and_numbers() -> None:
    assert formats.dinheiro(Decimal("1234.56")) == "R$ 1.234,56"
    assert formats.dinheiro("0.5") == "R$ 0,50"
    assert formats.dinheiro(Decimal("-1000000")) == "-R$ 1.000.000,00"
    assert formats.tamanho(514806710) == "491,0 MB"
    assert formats.tamanho(512) == "512 bytes"
    assert formats.tamanho(3 * 1024 ** 3) == "3,0 GB"
    assert formats.numero(1234.5) == "1.234,5"
    assert formats.numero(1000) == "1.000"
    assert formats.numero(2, 2) == "2,00"
