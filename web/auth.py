"""Login (hashed passwords, Flask-Login), bearer tokens for scripts, and CSRF on cookie posts."""
from __future__ import annotations

from datetime import timedelta
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
from sqlalchemy import select

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
    with session_scope() as session:
        token = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == digest))
        now = utcnow()
        if token is None or not token.usable(now):
            return None
        user = session.get(User, token.user_id)
        if user is None or not user.active:
            return None
        # A write per scripted call would cost more than the call; a minute's precision will do.
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
            token.last_used_at = now
    g.bearer_auth = True
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

