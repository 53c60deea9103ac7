"""The Flask app factory: settings, auth, CSRF, errors, SSE and one blueprint per feature."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask

from core.logs import configure_logging
from core.settings import get_settings
from web import (
    access,
    admin,
    alerts,
    audit,
    auth,
    baixa,
    cli,
    comprovantes,
    dead_letters,
    errors,
    exports,
    flower_proxy,
    formats,
    forms,
    health,
    home,
    jobs,
    limits,
    metrics,
    params,
    probes,
    ruptura,
    security_headers,
    sse,
    sync,
)

# Every blueprint, in registration order; a module's SSE_CHANNELS says who may read its channels.
BLUEPRINT_MODULES = (auth, home, probes, jobs, sse, baixa, ruptura, comprovantes, exports, health,
                     sync, audit, admin, flower_proxy, dead_letters, alerts, metrics)

# The navigation bar: (label, endpoint), each shown to those who may open it. Pages keep the
# business's words.
NAVIGATION = [
    ("Baixas", "baixa.index"),
    ("Carteira", "ruptura.index"),
    ("Comprovantes", "comprovantes.index"),
    ("Dispositivos", "health.index"),
    ("Sincronização", "sync.index"),
    ("Falhas", "dead_letters.index"),
    ("Alertas", "alerts.history_page"),
    ("Auditoria", "audit.index"),
    ("Usuários", "admin.index"),
]


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the web app; `overrides` patches Flask config (tests)."""
    settings = get_settings()
    configure_logging()
    app = Flask(__name__)
    app.request_class = forms.Request  # multipart bodies read by `multipart` (web.forms)
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

    params.init_params(app)  # before any rule: `<int:...>` is the strict id converter
    for module in BLUEPRINT_MODULES:
        app.register_blueprint(module.bp)
        sse.add_channel_rules(app, getattr(module, "SSE_CHANNELS", {}))
    auth.init_auth(app)
    errors.init_errors(app)
    formats.init_formats(app)
    limits.init_limits(app)  # after the login requirement: limits keyed on the user see who it is
    security_headers.init_security_headers(app)
    cli.register_cli(app)

    @app.context_processor
    def _navigation() -> dict[str, Any]:
        return {"navigation": [(label, endpoint) for label, endpoint in NAVIGATION
                               if access.may_visit(endpoint)]}

    return app
