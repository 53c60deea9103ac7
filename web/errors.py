"""Errors as users read them: pt-BR messages, JSON for API calls, the app's error page for pages."""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, render_template, request
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from core.comprovantes.validation import too_large_message

# Werkzeug's default descriptions are English; users read Portuguese.
DEFAULT_MESSAGES = {
    400: "Requisição inválida.", 401: "Autenticação necessária.", 403: "Acesso negado.",
    404: "Não encontrado.", 405: "Método não permitido.", 422: "Dados inválidos.",
    429: "Muitas requisições; tente de novo em instantes.", 500: "Erro interno do servidor.",
}
log = logging.getLogger(__name__)

# A service the request needs is away (a database restart, a cut link, Redis restarting): the
# answer is 503 with a retry hint, not a bare 500 (the client knows to try again).
UNAVAILABLE = {OperationalError: "o banco de dados", InterfaceError: "o banco de dados",
               PoolTimeoutError: "o banco de dados", RedisConnectionError: "o Redis",
               RedisTimeoutError: "o Redis"}
UNAVAILABLE_RETRY_AFTER_S = 5

# The error page's title, per status (the message says what exactly went wrong).
TITLES = {400: "Requisição inválida", 401: "Autenticação necessária", 403: "Acesso negado",
          404: "Página não encontrada", 405: "Método não permitido", 413: "Arquivo grande demais",
          415: "Tipo de arquivo não aceito", 422: "Dados inválidos", 429: "Muitas requisições"}


def init_errors(app: Flask) -> None:
    """Answer HTTP errors as JSON for API calls and as the pt-BR error page for pages."""

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if wants_json():
            return jsonify(error=describe(exc), status=exc.code), exc.code
        if exc.code is None or exc.code < 400 or exc.code >= 500:
            return exc  # redirects, and server errors: nothing more should run for those
        title = TITLES.get(exc.code, "Erro")
        return render_template("error.html", title=title, message=describe(exc)), exc.code

    for kind, service in UNAVAILABLE.items():
        app.register_error_handler(kind, _unavailable(service))


def _unavailable(service: str) -> Any:
    def answer(exc: Exception) -> Any:
        log.warning("request refused, %s unavailable path=%s error=%s: %s", service,
                    request.path, type(exc).__name__, str(exc)[:200])
        message = (f"Serviço temporariamente indisponível ({service} não respondeu). "
                   "Tente de novo em instantes.")
        headers = {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)}
        if wants_json():
            return jsonify(error=message, status=503), 503, headers
        # Not the app's layout: it shows the signed-in user, whom the database would load.
        return UNAVAILABLE_PAGE.format(message=message), 503, headers
    return answer


UNAVAILABLE_PAGE = """<!doctype html>
<html lang="pt-BR"><head><meta charset="utf-8"><title>Serviço indisponível</title>
<link rel="stylesheet" href="/static/css/app.css"></head>
<body><main><h1>Serviço indisponível</h1><p>{message}</p><p><a href="">Tentar de novo</a></p>
</main></body></html>"""


def wants_json() -> bool:
    """True for API calls: JSON bodies, /api, /jobs, /stream, or an Accept that prefers JSON."""
    if request.is_json or request.path.startswith(("/api/", "/jobs/", "/stream")):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def describe(exc: HTTPException) -> str:
    """Return the error's own message, or a pt-BR one in place of Werkzeug's default."""
    if exc.description != type(exc).description:
        return str(exc.description)
    if exc.code == 413:
        return too_large_message()
    return DEFAULT_MESSAGES.get(exc.code or 500, str(exc.description))
