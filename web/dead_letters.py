"""Falhas: the dead letters of every area in one page: filter, read, replay or discard.

Reading needs FALHAS, acting FALHAS_TRATAR; each replay and discard is in the audit trail
(core/dead_letters.py records it). The baixa page keeps its own list (its API is unchanged)
and links here for the other areas.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, jsonify, render_template, request
from flask_login import current_user

from core import dead_letters
from core.db import session_scope
from core.models import DeadLetter
from core.models.auth import FALHAS, FALHAS_TRATAR
from core.settings import get_settings
from web.access import allowed, requires
from web.params import MAX_ID, choice_arg, date_arg, int_arg, strict_int, text_arg

bp = Blueprint("dead_letters", __name__)

PER_PAGE = 50
MAX_PER_PAGE = 200
# At most this many entries per replay or discard request (the page sends one page at most).
MAX_BATCH = 200


def entry_json(entry: DeadLetter, full: bool = False) -> dict[str, Any]:
    state = ("descartada" if entry.discarded_at else "reenviada" if entry.replayed_at else "aberta")
    data = {"id": entry.id, "area": dead_letters.area_of(entry.task_name), "task": entry.task_name,
            "referencia": entry.reference, "erro": entry.error if full else entry.error[:300],
            "criada_em": entry.created_at.isoformat(), "situacao": state,
            "reenviada_em": entry.replayed_at.isoformat() if entry.replayed_at else None,
            "reenviada_por": entry.replayed_by,
            "descartada_em": entry.discarded_at.isoformat() if entry.discarded_at else None,
            "descartada_por": entry.discarded_by, "motivo_descarte": entry.discard_reason}
    if full:
        data.update(args=entry.args, kwargs=entry.kwargs)
    return data


def _local_day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(get_settings().timezone))


def _filters() -> dict[str, Any]:
    """The list's filters from the query string (dates are local days, both included)."""
    since, until = date_arg("de"), date_arg("ate")
    if since and until and until < since:
        abort(400, description="A data final ('ate') vem antes da inicial ('de').")
    return {
        "area": text_arg("area", 64) or None,
        "task_name": text_arg("task", 128) or None,
        "text": text_arg("erro", 200) or None,
        "since": _local_day_start(since) if since else None,
        "until": _local_day_start(until + timedelta(days=1)) if until else None,
        "state": choice_arg("situacao", "abertas", dead_letters.STATES),
    }


@bp.get("/falhas")
@requires(FALHAS)
def index() -> Any:
    tasks = dead_letters.task_names()
    return render_template("dead_letters/index.html", tasks=tasks,
                           areas=sorted({dead_letters.area_of(task) for task in tasks}),
                           may_act=allowed(current_user, FALHAS_TRATAR))


@bp.get("/api/falhas")
@requires(FALHAS)
def listing() -> Any:
    """?area=&task=&de=AAAA-MM-DD&ate=AAAA-MM-DD&erro=&situacao=abertas|reenviadas|descartadas|todas
    &pagina=1&por_pagina=50, newest first."""
    filters = _filters()
    page = int_arg("pagina", 1, minimum=1, maximum=100_000)
    per_page = int_arg("por_pagina", PER_PAGE, minimum=1, maximum=MAX_PER_PAGE)
    items, total = dead_letters.search(**filters, page=page, per_page=per_page)
    return jsonify(items=[entry_json(entry) for entry in items], total=total, pagina=page,
                   por_pagina=per_page, por_area=dead_letters.open_by_area())


@bp.get("/api/falhas/<int:entry_id>")
@requires(FALHAS)
def detail(entry_id: int) -> Any:
    """One entry with its message (args, kwargs) and the whole error."""
    with session_scope() as session:
        entry = session.get(DeadLetter, entry_id)
        if entry is None:
            abort(404, description=f"Falha {entry_id} não encontrada.")
        return jsonify(entry_json(entry, full=True))


def _ids() -> list[int]:
    """The body's "ids": 1 to MAX_BATCH entry ids (JSON numbers or digit strings)."""
    body = request.get_json(silent=True)
    raw = body.get("ids") if isinstance(body, dict) else None
    if not isinstance(raw, list) or not raw:
        abort(400, description="Informe as falhas: {\"ids\": [1, 2, ...]}.")
    if len(raw) > MAX_BATCH:
        abort(400, description=f"No máximo {MAX_BATCH} falhas por vez.")
    ids = []
    for value in raw:
        number = value if isinstance(value, int) and not isinstance(value, bool) else strict_int(str(value))
        if number is None or not 1 <= number <= MAX_ID:
            abort(400, description=f"Identificador de falha inválido: {str(value)[:40]!r}.")
        ids.append(number)
    return list(dict.fromkeys(ids))


@bp.post("/api/falhas/reenviar")
@requires(FALHAS_TRATAR)
def replay() -> Any:
    """Replay the entries {"ids": [...]}: each open one is sent again (a new task id); the
    others are reported as not replayed. 404 when none was open."""
    results = dead_letters.replay_many(_ids(), current_user.username)
    if not any(results.values()):
        abort(404, description="Nenhuma das falhas está aberta (já reenviadas, descartadas ou inexistentes).")
    return jsonify(reenviadas={str(k): v for k, v in results.items() if v},
                   ignoradas=[k for k, v in results.items() if not v])


@bp.post("/api/falhas/descartar")
@requires(FALHAS_TRATAR)
def discard() -> Any:
    """Discard the entries {"ids": [...], "motivo": "..."} (the reason is required)."""
    body = request.get_json(silent=True)
    reason = body.get("motivo") if isinstance(body, dict) else None
    if refused := dead_letters.reason_refused(reason):
        abort(400, description=refused)
    ids = _ids()
    done = dead_letters.discard_many(ids, current_user.username, reason)
    if not done:
        abort(404, description="Nenhuma das falhas está aberta (já reenviadas, descartadas ou inexistentes).")
    return jsonify(descartadas=done, ignoradas=[entry_id for entry_id in ids if entry_id not in done])
