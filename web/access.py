"""Who may call which route. Each view declares its rule with `@requires(...)`: a permission
of core.models.auth (granted by roles), PUBLIC or LOGGED_IN. web.auth's one before_request
checks it; a view that declares nothing is refused to everyone (deny by default), and the
route-permission matrix test (tests/security/test_permission_matrix.py) fails on it.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, current_app, request
from flask_login import current_user

from core.models.auth import PERMISSIONS, ROLE_LABELS

log = logging.getLogger(__name__)

PUBLIC = "publico"  # no login: the login page, the probes, static files
LOGGED_IN = "autenticado"  # any signed-in user, whatever the role
RULES = PERMISSIONS | {PUBLIC, LOGGED_IN}
RULE_ATTRIBUTE = "access_rule"

View = TypeVar("View", bound=Callable[..., Any])


def requires(rule: str) -> Callable[[View], View]:
    """Declare what a view needs: a permission, PUBLIC or LOGGED_IN (unknown names raise)."""
    if rule not in RULES:
        raise ValueError(f"unknown access rule {rule!r}")

    def declare(view: View) -> View:
        setattr(view, RULE_ATTRIBUTE, rule)
        return view

    return declare


def rule_for(endpoint: str | None) -> str | None:
    """Return the rule of an endpoint in the current app; None when it declares none.

    No endpoint (no route matched) needs a login, so the 404 or 405 says nothing to strangers.
    """
    if endpoint is None:
        return LOGGED_IN
    if endpoint == "static" or endpoint.endswith(".static"):
        return PUBLIC
    return getattr(current_app.view_functions.get(endpoint), RULE_ATTRIBUTE, None)


def declared_rules() -> dict[str, str | None]:
    """Every endpoint of the current app and its rule (None: undeclared, so refused)."""
    return {endpoint: rule_for(endpoint) for endpoint in current_app.view_functions}


def allowed(user: Any, rule: str | None) -> bool:
    """Whether this user (maybe anonymous) passes this rule; no rule passes nobody."""
    if rule == PUBLIC:
        return True
    if rule is None or not user.is_authenticated:
        return False
    return rule == LOGGED_IN or user.can(rule)


def refuse(rule: str | None) -> None:
    """Abort with 403 saying why (a route without a rule is logged: it is a bug)."""
    if rule is None:
        log.error("route without an access rule refused endpoint=%s", request.endpoint)
        abort(403, description="Esta rota não declara quem pode usá-la; acesso recusado.")
    role = ROLE_LABELS.get(current_user.role, current_user.role)
    abort(403, description=f"Seu papel ({role}) não permite isto.")


def require(permission: str) -> None:
    """Inside a view: abort with 403 unless the signed-in user has the permission."""
    if not allowed(current_user, permission):
        refuse(permission)


def may_visit(endpoint: str) -> bool:
    """Whether the signed-in user may open this endpoint (the navigation shows only those)."""
    return allowed(current_user, rule_for(endpoint))
