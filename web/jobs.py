"""GET /jobs/<job_id>/status: the job registry as seed 004 answers it."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify
from flask_login import current_user

from core import jobs
from web.access import LOGGED_IN, requires

bp = Blueprint("jobs", __name__)


def may_read_job(user: Any, job_id: str) -> bool:
    """A job's channel is for its owner and administrators (an ownerless job: anyone)."""
    exists, owner_id = jobs.get_owner(job_id)
    return exists and (owner_id is None or owner_id == user.id or user.is_admin)


SSE_CHANNELS = {"job": may_read_job}


@bp.get("/jobs/<job_id>/status")
@requires(LOGGED_IN)
def status(job_id: str) -> Any:
    state = jobs.get_status(job_id) if len(job_id) <= 36 else None
    if state is None:
        abort(404, description=f"Job {job_id} não encontrado.")
    _, owner_id = jobs.get_owner(job_id)
    if owner_id is not None and owner_id != current_user.id and not current_user.is_admin:
        abort(404, description=f"Job {job_id} não encontrado.")
    state["channel"] = jobs.channel(job_id)
    return jsonify(state)
