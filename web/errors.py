"""Errors as users read them: pt-BR messages, JSON for API calls, HTML for pages."""
from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from core.comprovantes.validation import too_large_message

# Werkzeug's default descriptions are English; users read Portuguese.
DEFAULT_MESSAGES = {
    400: "Requisição inválida.", 401: "Autenticação necessária.", 403: "Acesso negado.",
    404: "Não encontrado.", 405: "Método não permitido.", 422: "Dados inválidos.",
    429: "Muitas requisições; tente de novo em instantes.", 500: "Erro interno do servidor.",
}


def init_errors(app: Flask) -> None:
    """Answer HTTP errors as JSON for API calls (pages keep Werkzeug's HTML)."""

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if wants_json():
            return jsonify(error=describe(exc), status=exc.code), exc.code
        return exc


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
