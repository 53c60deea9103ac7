"""The users page (/admin/usuarios) for administrators: users and their roles (create, change
role, deactivate, reset password) and bearer tokens (create, shown once; list with last use
and expiry; revoke). Plain forms: each change answers 303 back to the page, or 400 with why."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from core import users
from core.models.auth import ROLE_LABELS, ROLE_PERMISSIONS, ROLES, USUARIOS
from core.settings import get_settings
from web.access import requires

bp = Blueprint("admin", __name__)


def _page(status: int = 200, new_token: str | None = None) -> Any:
    return render_template("admin/users.html", users=users.list_users(), tokens=users.list_tokens(),
                           roles=ROLES, role_labels=ROLE_LABELS, permissions=ROLE_PERMISSIONS,
                           token_days=get_settings().token_days, new_token=new_token), status


def _done(message: str) -> Any:
    flash(message, "sucesso")
    return redirect(url_for("admin.index"), code=303)


def _refused(error: Exception) -> Any:
    flash(str(error.args[0] if error.args else error), "erro")
    return _page(400)


def _form(name: str, max_chars: int = 200) -> str:
    return (request.form.get(name) or "").strip()[:max_chars]


def _days(text: str) -> int:
    if not text:
        return get_settings().token_days
    if not (text.isascii() and text.isdigit()):
        raise ValueError("validade do token: informe um número de dias")
    return int(text)


def _not_yourself(username: str, what: str) -> None:
    if username == current_user.username:
        raise ValueError(f"você não pode {what} a si mesmo; peça a outro administrador")


@bp.get("/admin/usuarios")
@requires(USUARIOS)
def index() -> Any:
    return _page()


@bp.post("/admin/usuarios")
@requires(USUARIOS)
def create_user() -> Any:
    username = _form("username", 80)
    try:
        users.create_user(username, request.form.get("password") or "", name=_form("name", 120),
                          role=_form("role", 16))
    except ValueError as exc:
        return _refused(exc)
    return _done(f"Usuário {username} criado.")


@bp.post("/admin/usuarios/<username>/papel")
@requires(USUARIOS)
def change_role(username: str) -> Any:
    role = _form("role", 16)
    try:
        _not_yourself(username, "mudar o papel de")
        users.set_role(username, role)
    except (ValueError, LookupError) as exc:
        return _refused(exc)
    return _done(f"{username} agora é {ROLE_LABELS[role]}.")


@bp.post("/admin/usuarios/<username>/ativo")
@requires(USUARIOS)
def set_active(username: str) -> Any:
    active = _form("ativo", 1) == "1"
    try:
        _not_yourself(username, "desativar")
        users.set_active(username, active)
    except (ValueError, LookupError) as exc:
        return _refused(exc)
    return _done(f"{username} {'reativado' if active else 'desativado'}.")


@bp.post("/admin/usuarios/<username>/senha")
@requires(USUARIOS)
def reset_password(username: str) -> Any:
    try:
        users.reset_password(username, request.form.get("password") or "")
    except (ValueError, LookupError) as exc:
        return _refused(exc)
    return _done(f"Senha de {username} redefinida.")


@bp.post("/admin/tokens")
@requires(USUARIOS)
def create_token() -> Any:
    try:
        days = _days(_form("dias", 5))
        token = users.create_token(_form("username", 80), _form("label", 120), days=days)
    except (ValueError, LookupError) as exc:
        return _refused(exc)
    flash("Token criado. Copie-o agora: ele não será mostrado de novo.", "sucesso")
    return _page(201, new_token=token)


@bp.post("/admin/tokens/<int:token_id>/revogar")
@requires(USUARIOS)
def revoke_token(token_id: int) -> Any:
    if not users.revoke_token(token_id):
        return _refused(LookupError(f"token {token_id} não existe ou já foi revogado"))
    return _done(f"Token {token_id} revogado.")
