"""Numbers and dates as people in Brazil read them, one way for every page.

Jinja filters (registered by `init_formats`): `data_hora` (dd/mm/aaaa hh:mm in
STOCKFLOW_TIMEZONE), `data` (dd/mm/aaaa), `dinheiro` (R$ 1.234,56), `tamanho` (KB/MB/GB),
`numero` (1.234,5). The page scripts use the same rules from `Stockflow.format*` in
static/js/common.js. A missing value shows as "—".
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask

from core.settings import get_settings

MISSING = "—"
_UNITS = ("bytes", "KB", "MB", "GB", "TB")


def _local(value: datetime) -> datetime:
    """Stored datetimes are UTC (naive ones too); show them in the business's time zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(ZoneInfo(get_settings().timezone))


def _parse(value: Any) -> datetime | date | None:
    if isinstance(value, (datetime, date)):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def data_hora(value: Any, local: bool = True) -> str:
    """`dd/mm/aaaa hh:mm`; `local=False` for a time already local (as printed on a receipt)."""
    parsed = _parse(value)
    if parsed is None:
        return MISSING if value in (None, "") else str(value)
    if not isinstance(parsed, datetime):
        return parsed.strftime("%d/%m/%Y")
    if local and (parsed.tzinfo is not None or not isinstance(value, str)):
        parsed = _local(parsed)
    return parsed.strftime("%d/%m/%Y %H:%M")


def data(value: Any) -> str:
    parsed = _parse(value)
    if parsed is None:
        return MISSING if value in (None, "") else str(value)
    return parsed.strftime("%d/%m/%Y")


def _decimal(value: Any) -> Decimal | str:
    """The value as a Decimal, or what to show instead (— for nothing, the text if not a number)."""
    if value in (None, ""):
        return MISSING
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return str(value)


def numero(value: Any, casas: int | None = None) -> str:
    """1234.5 -> "1.234,5"; `casas` fixes the decimal places."""
    number = _decimal(value)
    if isinstance(number, str):
        return number
    if casas is None:
        text = f"{number:,f}" if number != number.to_integral_value() else f"{number:,.0f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
    else:
        text = f"{number:,.{casas}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def dinheiro(value: Any) -> str:
    """Decimal("1234.5") -> "R$ 1.234,50" (negative: "-R$ 1.234,50")."""
    number = _decimal(value)
    if isinstance(number, str):
        return number
    text = "R$ " + numero(abs(number), 2)
    return "-" + text if number < 0 else text


def tamanho(value: Any) -> str:
    """514806710 -> "491,0 MB" (powers of 1024, as file managers show)."""
    if value in (None, ""):
        return MISSING
    size = float(value)
    unit = 0
    while abs(size) >= 1024 and unit < len(_UNITS) - 1:
        size /= 1024
        unit += 1
    if unit == 0:
        return f"{int(size)} bytes"
    return f"{numero(size, 1)} {_UNITS[unit]}"


def init_formats(app: Flask) -> None:
    for name, function in (("data_hora", data_hora), ("data", data), ("numero", numero),
                           ("dinheiro", dinheiro), ("tamanho", tamanho)):
        app.add_template_filter(function, name)

    @app.context_processor
    def _timezone() -> dict[str, Any]:  # base.html hands it to the page scripts
        return {"timezone": get_settings().timezone}
