"""The alert history: alerts newest first with their messages, filtered for the page."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.sql import Select

from core.alerts.config import shown
from core.db import session_scope
from core.models import Alert, AlertDelivery
from core.settings import get_settings

STATUSES = ("firing", "resolved")
DELIVERY_STATUSES = ("pending", "delivered", "failed")


@dataclass(frozen=True)
class HistoryFilter:
    regra: str = ""
    situacao: str = ""  # firing | resolved
    entrega: str = ""  # an alert with at least one delivery in this state
    de: date | None = None
    ate: date | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        """Return `query` narrowed to the alerts this filter asks for (days in the local zone)."""
        if self.regra:
            query = query.where(Alert.rule == self.regra)
        if self.situacao:
            query = query.where(Alert.status == self.situacao)
        if self.entrega:
            query = query.where(Alert.id.in_(select(AlertDelivery.alert_id)
                                             .where(AlertDelivery.status == self.entrega)))
        if self.de:
            query = query.where(Alert.started_at >= _midnight(self.de))
        if self.ate:
            query = query.where(Alert.started_at < _midnight(self.ate + timedelta(days=1)))
        return query

    def as_args(self) -> dict[str, str]:
        return {key: str(value) for key, value in asdict(self).items() if value}


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(get_settings().timezone))


def search(filtro: HistoryFilter, page: int, per_page: int) -> tuple[list[dict[str, Any]], bool]:
    """Return one page of alerts (newest first) with their deliveries, and whether more follow."""
    query = filtro.apply(select(Alert)).order_by(Alert.id.desc())
    with session_scope() as session:
        alerts = list(session.scalars(query.offset((page - 1) * per_page).limit(per_page + 1)))
        has_next = len(alerts) > per_page
        alerts = alerts[:per_page]
        deliveries: dict[int, list[dict[str, Any]]] = {}
        if alerts:
            for row in session.scalars(select(AlertDelivery).where(
                    AlertDelivery.alert_id.in_([a.id for a in alerts])).order_by(AlertDelivery.id)):
                deliveries.setdefault(row.alert_id, []).append({
                    "event": row.event, "channel": row.channel,
                    "destination": shown(row.channel, row.destination), "status": row.status,
                    "attempts": row.attempts, "error": row.last_error, "created_at": row.created_at,
                    "delivered_at": row.delivered_at})
        views = [{"id": a.id, "rule": a.rule, "subject": a.subject, "status": a.status,
                  "message": a.message, "started_at": a.started_at, "resolved_at": a.resolved_at,
                  "deliveries": deliveries.get(a.id, [])} for a in alerts]
    for view in views:
        counts: dict[str, int] = {}
        for item in view["deliveries"]:
            counts[item["status"]] = counts.get(item["status"], 0) + 1
        view["counts"] = counts
    return views, has_next


def firing_by_rule() -> dict[str, int]:
    """How many alerts fire now, per rule (the metrics and the page's header)."""
    with session_scope() as session:
        return dict(session.execute(select(Alert.rule, func.count()).where(Alert.status == "firing")
                                    .group_by(Alert.rule)).all())
