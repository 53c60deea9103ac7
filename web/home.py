"""The start page: the operations overview, live over SSE (core/overview.py), each block shown
to those whose role may open the page where its numbers are acted on."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, url_for
from flask_login import current_user

from core import overview
from core.models.auth import (
    BAIXAS,
    COMPROVANTES_REVISAR,
    DISPOSITIVOS,
    FALHAS,
    FLOWER,
    SYNC,
)
from core.sse import latest_id
from web.access import LOGGED_IN, allowed, requires

bp = Blueprint("home", __name__)

# block -> (the page its numbers link to, the permission that page needs). Receipts waiting
# for review are for those who review them, not everyone who may upload one.
BLOCK_TARGETS = {
    overview.OPERATIONS: ("dead_letters.index", FALHAS),
    overview.BAIXAS: ("baixa.index", BAIXAS),
    overview.DEVICES: ("health.index", DISPOSITIVOS),
    overview.SYNC: ("sync.index", SYNC),
    overview.RECEIPTS: ("comprovantes.index", COMPROVANTES_REVISAR),
}


def may_see(user: Any, block: str) -> bool:
    target = BLOCK_TARGETS.get(block)
    return target is not None and allowed(user, target[1])


SSE_CHANNELS = {"overview": lambda user, rest: may_see(user, rest)}


@bp.get("/")
@requires(LOGGED_IN)
def index() -> Any:
    visible = [block for block in overview.BLOCKS if may_see(current_user, block)]
    # Cursors first, then the figures: a change in between is replayed, not missed.
    cursors = {block: latest_id(overview.channel(block)) for block in visible}
    blocks = {block: overview.block(block) for block in visible}
    links = {block: url_for(BLOCK_TARGETS[block][0]) for block in visible}
    if allowed(current_user, FLOWER):
        links["flower"] = url_for("flower_proxy.forward", path="")
    return render_template("home.html", blocks=blocks, cursors=cursors, links=links)
