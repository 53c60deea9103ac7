"""Login (hashed passwords, Flask-Login), bearer tokens for scripts, and CSRF on cookie posts."""
from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
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

from core.db import session_scope
from core.models import ApiToken, User
from core.models.types import utcnow
from core.users import authenticate, token_digest
from web.errors import wants_json

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
LAST_USED_PRECISION = timedelta(minutes=1)


def init_auth(app: Flask) -> None:
    """Wire Flask-Login, CSRF and the login requirement into the app."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Entre para continuar."
    csrf.init_app(app)

    @app.before_request
    def _require_login_and_csrf() -> Any:
        endpoint = request.endpoint or ""
        if endpoint in PUBLIC_ENDPOINTS or endpoint.endswith(".static") or endpoint == "static":
            return None
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if request.method in UNSAFE_METHODS and not g.get("bearer_auth"):
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


PUBLIC_ENDPOINTS = {"auth.login", "probes.healthz", "probes.readyz"}


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
        if token is None:
            return None
        user = session.get(User, token.user_id)
        if user is None or not user.active:
            return None
        now = utcnow()
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
def login() -> Any:
    if request.method == "POST":
        check_csrf()
        username = request.form.get("username", "").strip()
        user = authenticate(username, request.form.get("password", ""))
        if user is None:
            flash("Usuário ou senha inválidos.", "erro")
            return render_template("login.html", username=username), 401
        login_user(user, remember=False)
        target = request.args.get("next") or ""
        return redirect(target if same_site_path(target) else url_for("home.index"))
    return render_template("login.html", username="")


def same_site_path(target: str) -> bool:
    """Whether a ?next= target is a path on this site, so the redirect cannot leave it.

    Browsers read a backslash as a slash and drop tabs and line breaks inside a URL, so
    '/\\evil', or '/' and a tab before '/evil', would be '//evil': another site.
    """
    return (target.startswith("/") and not target.startswith("//") and "\\" not in target
            and target.isprintable() and not urlsplit(target).netloc)


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    logout_user()
    return redirect(url_for("auth.login"))


def require_admin() -> None:
    """Abort with 403 unless the current user is an administrator."""
    if not current_user.is_authenticated or not current_user.is_admin:
        abort(403, description="Apenas administradores podem fazer isso.")
