"""The Flask app factory: settings, auth, CSRF, SSE and one blueprint per area."""
from __future__ import annotations

import importlib
from datetime import timedelta
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from core.logs import configure_logging
from core.settings import get_settings

# Each area's blueprint, as "module:attribute".
BLUEPRINTS = [
    "web.auth:bp",
    "web.home:bp",
    "web.probes:bp",
    "web.jobs:bp",
    "web.sse:bp",
    "web.baixas:bp",
    "web.carteira:bp",
    "web.dispositivos:bp",
    "web.sync:bp",
    "web.comprovantes:bp",
]

# The navigation bar: (label, endpoint); an area shows once its blueprint is registered.
NAVIGATION = [
    ("Baixas", "baixas.index"),
    ("Carteira", "carteira.index"),
    ("Comprovantes", "comprovantes.index"),
    ("Dispositivos", "dispositivos.index"),
    ("Sincronização", "sync.index"),
]


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the web app; `overrides` patches Flask config (tests)."""
    settings = get_settings()
    configure_logging()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024 + 64 * 1024,  # a 16 MB file plus form overhead
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in web.auth, skipping bearer-token calls
        WTF_CSRF_TIME_LIMIT=None,
        JSON_SORT_KEYS=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    if overrides:
        app.config.update(overrides)

    for spec in BLUEPRINTS:
        module_name, attr = spec.split(":")
        app.register_blueprint(getattr(importlib.import_module(module_name), attr))

    from web.auth import init_auth
    from web.cli import register_cli

    init_auth(app)
    register_cli(app)

    @app.context_processor
    def _navigation() -> dict[str, Any]:
        return {"navigation": [(label, endpoint) for label, endpoint in NAVIGATION
                               if endpoint in app.view_functions]}

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if wants_json():
            return jsonify(error=describe(exc), status=exc.code), exc.code
        return exc

    return app


def wants_json() -> bool:
    """True for API calls: JSON bodies, /api, /jobs, /stream, or an Accept that prefers JSON."""
    if request.is_json or request.path.startswith(("/api/", "/jobs/", "/stream")):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


# Werkzeug's default descriptions are English; users read Portuguese.
DEFAULT_MESSAGES = {
    400: "Requisição inválida.", 401: "Autenticação necessária.", 403: "Acesso negado.",
    404: "Não encontrado.", 405: "Método não permitido.", 422: "Dados inválidos.",
    429: "Muitas requisições; tente de novo em instantes.", 500: "Erro interno do servidor.",
}


def describe(exc: HTTPException) -> str:
    """Return the error's own message, or a pt-BR one in place of Werkzeug's default."""
    if exc.description != type(exc).description:
        return str(exc.description)
    if exc.code == 413:
        from core.comprovantes.validation import too_large_message

        return too_large_message()
    return DEFAULT_MESSAGES.get(exc.code or 500, str(exc.description))
