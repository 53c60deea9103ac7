"""Login (hashed passwords, Flask-Login), bearer tokens for scripts, and CSRF on cookie posts."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from time import monotonic
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import select, update
from sqlalchemy.orm import make_transient_to_detached

from core import audit
from core.db import session_scope
from core.models import ApiToken, User
from core.models.types import utcnow
from core.settings import get_settings
from core.users import authenticate, token_digest
from web import access
from web.errors import wants_json
from web.limits import client_address, limiter, login_account

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Routes whose calls carry their own CSRF token instead of ours: Flower's pages send its _xsrf
# double-submit token (web/flower_proxy.py also checks that they come from this site).
OWN_CSRF_ENDPOINTS = {"flower_proxy.forward"}
LAST_USED_PRECISION = timedelta(minutes=1)
# A script calling often finds its token here instead of in the database (two round trips and
# about 1.5 ms of a web worker's CPU per call): each process looks a token up again once its
# entry is this old, so a revoked token, or a user deactivated or given another role, takes
# effect within TOKEN_CACHE_S on every web process. Expiry is checked on every request.
TOKEN_CACHE_S = 5.0
TOKEN_CACHE_MAX = 4096
USER_COLUMNS = tuple(User.__table__.columns)  # all of them: the cached User is whole


@dataclass(frozen=True)
class _TokenHit:
    """What one lookup found for a token digest: its expiry and its user's columns."""

    expires_at: datetime
    user: dict[str, Any]
    checked_at: float  # monotonic() of the lookup


_token_hits: dict[str, _TokenHit] = {}


def init_auth(app: Flask) -> None:
    """Wire Flask-Login, CSRF and the login requirement into the app."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Entre para continuar."
    csrf.init_app(app)

    @app.before_request
    def _require_access_and_csrf() -> Any:
        rule = access.rule_for(request.endpoint)
        if rule == access.PUBLIC:
            return None
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not access.allowed(current_user, rule):
            access.refuse(rule)
        if (request.method in UNSAFE_METHODS and not g.get("bearer_auth")
                and request.endpoint not in OWN_CSRF_ENDPOINTS):
            check_csrf()
        return None

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError) -> Any:
        message = "Sessão expirada ou token CSRF ausente: recarregue a página."
        if wants_json():
            return jsonify(error=message, status=400), 400
        return render_template("error.html", title="Sessão expirada", message=message), 400


def check_csrf() -> None:
    """Validate the CSRF token of a cookie-authenticated request (unless disabled in tests)."""
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    with session_scope() as session:
        user = session.get(User, int(user_id))
        return user if user is not None and user.active else None


@login_manager.request_loader
def _load_user_from_bearer(req: Any) -> User | None:
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    digest = token_digest(header[7:].strip())
    hit = _token_hits.get(digest)
    if hit is None or monotonic() - hit.checked_at >= TOKEN_CACHE_S:
        hit = _look_up_token(digest)
    now = utcnow()
    if hit is None or now >= hit.expires_at:
        return None
    g.bearer_auth = True
    return _detached_user(hit.user)


def _look_up_token(digest: str) -> _TokenHit | None:
    """Read a usable token and its active user in one SELECT (None: unknown, revoked or
    inactive, never kept), note its use (a minute's precision), and keep it for TOKEN_CACHE_S."""
    _token_hits.pop(digest, None)
    query = (select(ApiToken.id.label("token_id"), ApiToken.expires_at, ApiToken.last_used_at,
                    *USER_COLUMNS).join(User, User.id == ApiToken.user_id)
             .where(ApiToken.token_sha256 == digest, ApiToken.revoked_at.is_(None), User.active))
    now = utcnow()
    with session_scope() as session:
        row = session.execute(query).one_or_none()
        if row is None or now >= row.expires_at:
            return None
        # A write per scripted call would cost more than the call; a minute's precision will do.
        if row.last_used_at is None or now - row.last_used_at > LAST_USED_PRECISION:
            session.execute(update(ApiToken).where(ApiToken.id == row.token_id)
                            .values(last_used_at=now))
    if len(_token_hits) >= TOKEN_CACHE_MAX:
        _token_hits.clear()  # thousands of live tokens in one process: start over, stay bounded
    hit = _TokenHit(row.expires_at, {column.key: row._mapping[column.key] for column in USER_COLUMNS},
                    monotonic())
    _token_hits[digest] = hit
    return hit


def _detached_user(columns: dict[str, Any]) -> User:
    """A User of this request only, as a session would leave it after loading the row."""
    user = User(**columns)
    make_transient_to_detached(user)
    return user


@login_manager.unauthorized_handler
def _unauthorized() -> Any:
    if wants_json() or request.headers.get("Authorization"):
        return jsonify(error="Autenticação necessária.", status=401), 401
    return redirect(url_for("auth.login", next=request.full_path))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: get_settings().login_limit_per_address, key_func=client_address,
               methods=["POST"], error_message="Muitas tentativas de entrada deste endereço.")
@limiter.limit(lambda: get_settings().login_failures_per_account, key_func=login_account,
               methods=["POST"], deduct_when=lambda response: response.status_code == 401,
               error_message="Muitas tentativas com senha errada para este usuário: a entrada "
                             "dele está bloqueada por enquanto, mesmo com a senha certa.")
@access.requires(access.PUBLIC)
def login() -> Any:
    if request.method == "POST":
        check_csrf()
        username = request.form.get("username", "").strip()
        user = authenticate(username, request.form.get("password", ""))
        if user is None:
            audit.record("login_failed", actor=audit.ANONYMOUS_ACTOR, target=username,
                         outcome="failed")
            flash("Usuário ou senha inválidos.", "erro")
            return render_template("login.html", username=username), 401
        if not audit_login(user.username):
            return render_template("login.html", username=username), 503
        login_user(user, remember=False)
        target = request.args.get("next") or ""
        return redirect(target if same_site_path(target) else url_for("home.index"))
    return render_template("login.html", username="")


def audit_login(username: str) -> bool:
    """Record a successful login; False (and a pt-BR message) when it cannot be recorded.

    Fails closed: a login nobody could trace later is refused.
    """
    try:
        audit.record("login", actor=username, target=username, required=True)
    except audit.AuditUnavailable:
        flash("Não foi possível registrar a entrada agora; tente novamente em instantes.", "erro")
        return False
    return True


def same_site_path(target: str) -> bool:
    """Whether a ?next= target is a path on this site, so the redirect cannot leave it.

    Browsers read a backslash as a slash and drop tabs and line breaks inside a URL, so
    '/\\evil', or '/' and a tab before '/evil', would be '//evil': another site.
    """
    return (target.startswith("/") and not target.startswith("//") and "\\" not in target
            and target.isprintable() and not urlsplit(target).netloc)


@bp.route("/logout", methods=["POST"])
@access.requires(access.LOGGED_IN)
def logout() -> Any:
    logout_user()
    return redirect(url_for("auth.login"))

