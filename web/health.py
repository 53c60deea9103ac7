"""The fleet page (/dispositivos): every Pi's health, live over SSE, sick ones first; a page per device."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, render_template

from core import sse
from core.health import fleet
from core.health.report import recent_rejections, rejection_counts
from core.settings import get_settings
from web.params import positive_number_arg

bp = Blueprint("health", __name__)

# Any logged-in user may watch the fleet (channel "devices", no sub-channels).
SSE_CHANNELS = {fleet.CHANNEL: lambda user, rest: rest == ""}


@bp.get("/dispositivos")
def index() -> Any:
    since = sse.latest_id(fleet.CHANNEL)
    settings = get_settings()
    return render_template(
        "health/index.html", devices=fleet.fleet(), since=since,
        rejected=rejection_counts().get("total", 0), rejections=recent_rejections()[:10],
        interval_s=settings.health_interval_s,
        stale_after_s=settings.health_interval_s * settings.health_stale_factor,
        offline_after_s=settings.health_interval_s * settings.health_offline_factor)


@bp.get("/dispositivos/<raspberry_id>")
def device(raspberry_id: str) -> Any:
    since = sse.latest_id(fleet.CHANNEL)
    detail = fleet.get_device(raspberry_id)
    if detail is None:
        abort(404, description="Dispositivo não encontrado.")
    return render_template("health/device.html", device=detail, since=since,
                           history=fleet.history(raspberry_id, hours=24))


@bp.get("/api/dispositivos")
def api_fleet() -> Any:
    since = sse.latest_id(fleet.CHANNEL)
    return jsonify(devices=fleet.fleet(), since=since)


@bp.get("/api/dispositivos/<raspberry_id>/historico")
def api_history(raspberry_id: str) -> Any:
    hours = positive_number_arg("horas", 24.0, maximum=24 * 31)
    if fleet.get_device(raspberry_id) is None:
        abort(404, description="Dispositivo não encontrado.")
    return jsonify(device=raspberry_id, samples=fleet.history(raspberry_id, hours=hours))
