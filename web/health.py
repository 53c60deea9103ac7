"""The fleet page (/dispositivos): every Pi's health, live over SSE, sick ones first; a page per device."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, render_template

from core import sse
from core.health import fleet
from core.health.report import recent_rejections, rejection_counts
from core.models.auth import DISPOSITIVOS
from core.settings import get_settings
from web.access import requires
from web.params import positive_number_arg

bp = Blueprint("health", __name__)

# Whoever may see the fleet may watch it (channel "devices", no sub-channels).
SSE_CHANNELS = {fleet.CHANNEL: lambda user, rest: rest == "" and user.can(DISPOSITIVOS)}


@bp.get("/dispositivos")
@requires(DISPOSITIVOS)
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
@requires(DISPOSITIVOS)
def device(raspberry_id: str) -> Any:
    since = sse.latest_id(fleet.CHANNEL)
    detail = fleet.get_device(raspberry_id)
    if detail is None:
        abort(404, description="Dispositivo não encontrado.")
    return render_template("health/device.html", device=detail, since=since,
                           history=fleet.history(raspberry_id, hours=24))


@bp.get("/api/dispositivos")
@requires(DISPOSITIVOS)
def api_fleet() -> Any:
    since = sse.latest_id(fleet.CHANNEL)
    return jsonify(devices=fleet.fleet(), since=since)


@bp.get("/api/dispositivos/<raspberry_id>/historico")
@requires(DISPOSITIVOS)
def api_history(raspberry_id: str) -> Any:
    hours = positive_number_arg("horas", 24.0, maximum=24 * 31)
    if fleet.get_device(raspberry_id) is None:
        abort(404, description="Dispositivo não encontrado.")
    return jsonify(device=raspberry_id, samples=fleet.history(raspberry_id, hours=hours))
