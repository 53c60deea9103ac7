"""Errors as users read them: pt-BR messages, JSON for API calls, the app's error page for pages."""
from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from core.comprovantes.validation import too_large_message

# Werkzeug's default descriptions are English; users read Portuguese.
DEFAULT_MESSAGES = {
    400: "Requisição inválida.", 401: "Autenticação necessária.", 403: "Acesso negado.",
    404: "Não encontrado.", 405: "Método não permitido.", 422: "Dados inválidos.",
    429: "Muitas requisições; tente de novo em instantes.", 500: "Erro interno do servidor.",
}
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
