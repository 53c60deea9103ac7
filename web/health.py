"""The fleet page (/dispositivos): every Pi's health, live over SSE, sick ones first; a page per device."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, render_template, request
from flask_login import current_user

from core import audit, sse
from core.health import fleet, thresholds
from core.health.report import recent_rejections, rejection_counts
from core.models.auth import DISPOSITIVOS, DISPOSITIVOS_LIMITES
from core.settings import get_settings
from core.sse import publish_safely
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
                           history=fleet.history(raspberry_id, hours=24),
                           limits=thresholds.LIMITS, defaults=thresholds.defaults(),
                           may_set_limits=current_user.can(DISPOSITIVOS_LIMITES))


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


@bp.put("/api/dispositivos/<raspberry_id>/limites")
@requires(DISPOSITIVOS_LIMITES)
def api_set_limits(raspberry_id: str) -> Any:
    """Set the device's own limits: body {"temp_warn_c": 80, "backlog_warn": null, ...} (null:
    back to the default; limits not named stay as they are). Answers the device as the page
    shows it; audited."""
    if fleet.get_device(raspberry_id) is None:
        abort(404, description="Dispositivo não encontrado.")
    try:
        values = thresholds.validate(request.get_json(silent=True))
    except ValueError as exc:
        abort(400, description=str(exc))
    before, after = thresholds.save(raspberry_id, values, by=current_user.username)
    audit.record("health.limits", actor=None, target=raspberry_id,
                 detail={"antes": before["valores"], "depois": after["valores"],
                         "proprios": after["proprios"]})
    detail = fleet.get_device(raspberry_id)
    # The limits change the device's problems: the fleet page and the device page show it now.
    publish_safely(fleet.CHANNEL, "devices", {"devices": [detail]})
    return jsonify(device=detail)
