"""Per-device limits of the fleet status: a Pi in a hot storeroom is not a Pi at a till.

Each limit a device does not set is the default from the settings (STOCKFLOW_HEALTH_TEMP_WARN_C,
_MEM_WARN_PCT, _WIFI_WARN_DBM, _BACKLOG_WARN). `save` validates strictly and returns the limits
before and after, for the caller's audit entry.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import session_scope
from core.models.health import DeviceThresholds
from core.models.types import utcnow
from core.settings import get_settings


@dataclass(frozen=True)
class Limit:
    """One limit: its column, the setting giving its default, its bounds and whether it is a
    whole number; `above` means a value at or above it is a problem (below for Wi-Fi)."""

    name: str
    setting: str
    minimum: float
    maximum: float
    whole: bool
    label: str


LIMITS = (
    Limit("temp_warn_c", "health_temp_warn_c", 30, 110, False, "CPU quente a partir de (°C)"),
    Limit("mem_warn_pct", "health_mem_warn_pct", 1, 100, False, "Memória alta a partir de (%)"),
    Limit("wifi_warn_dbm", "health_wifi_warn_dbm", -120, 0, True, "Wi-Fi fraco abaixo de (dBm)"),
    Limit("backlog_warn", "health_backlog_warn", 1, 1_000_000, True,
          "Fila alta a partir de (leituras)"),
)
BY_NAME = {limit.name: limit for limit in LIMITS}


@dataclass(frozen=True)
class Limits:
    """The limits in force for one device, and which of them are its own."""

    temp_warn_c: float
    mem_warn_pct: float
    wifi_warn_dbm: int
    backlog_warn: int
    own: frozenset[str] = frozenset()

    def as_dict(self) -> dict[str, Any]:
        return {"valores": {limit.name: getattr(self, limit.name) for limit in LIMITS},
                "proprios": sorted(self.own)}


def defaults() -> Limits:
    """Return the fleet-wide limits from the settings."""
    settings = get_settings()
    return Limits(**{limit.name: getattr(settings, limit.setting) for limit in LIMITS})


def _combine(row: DeviceThresholds | None, base: Limits) -> Limits:
    if row is None:
        return base
    own = {limit.name: getattr(row, limit.name) for limit in LIMITS
           if getattr(row, limit.name) is not None}
    return Limits(**{**{limit.name: getattr(base, limit.name) for limit in LIMITS}, **own},
                  own=frozenset(own))


def limits_of(session: Session, raspberry_ids: Iterable[str]) -> dict[str, Limits]:
    """Return the limits in force for each of these devices (one query)."""
    ids = set(raspberry_ids)
    base = defaults()
    rows = {row.raspberry_id: row for row in session.scalars(
        select(DeviceThresholds).where(DeviceThresholds.raspberry_id.in_(ids)))} if ids else {}
    return {raspberry_id: _combine(rows.get(raspberry_id), base) for raspberry_id in ids}


def validate(values: Any) -> dict[str, float | int | None]:
    """Return the limits of a request body ({name: number or null}; null = the default), or
    raise ValueError saying in pt-BR what is wrong."""
    if not isinstance(values, Mapping):
        raise ValueError("Envie um objeto JSON com os limites.")
    unknown = sorted(set(values) - set(BY_NAME))
    if unknown:
        raise ValueError(f"Limite desconhecido: {', '.join(map(str, unknown))[:80]}. "
                         f"Use: {', '.join(BY_NAME)}.")
    clean: dict[str, float | int | None] = {}
    for name, value in values.items():
        limit = BY_NAME[name]
        if value is None:
            clean[name] = None
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise ValueError(f"O limite {name} deve ser um número ou null (o padrão).")
        if limit.whole and value != int(value):
            raise ValueError(f"O limite {name} deve ser um número inteiro.")
        if not limit.minimum <= value <= limit.maximum:
            raise ValueError(f"O limite {name} deve estar entre {limit.minimum:g} e "
                             f"{limit.maximum:g}.")
        clean[name] = int(value) if limit.whole else float(value)
    return clean


def save(raspberry_id: str, values: Mapping[str, float | int | None],
         by: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Set the given limits of a device (validated values; None = back to the default);
    return its limits before and after."""
    with session_scope() as session:
        row = session.get(DeviceThresholds, raspberry_id)
        before = _combine(row, defaults()).as_dict()
        if row is None:
            row = DeviceThresholds(raspberry_id=raspberry_id)
            session.add(row)
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_by, row.updated_at = by[:80], utcnow()
        session.flush()
        after = _combine(row, defaults()).as_dict()
    return before, after
