"""The start page: what each area is for, and links to them."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from web.access import LOGGED_IN, requires

bp = Blueprint("home", __name__)


@bp.get("/")
@requires(LOGGED_IN)
def index() -> Any:
    return render_template("home.html")
