"""Rate limits (Flask-Limiter on the app's Redis): the login per address and per account, the
receipt uploads per user; 429 answers in pt-BR with Retry-After.

Each limit is named by a setting (core.settings, "security"); the counters live in Redis so
every web process and worker shares them.
"""
from __future__ import annotations

import math
import time
from typing import Any

from flask import Flask, flash, jsonify, render_template, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_login import current_user
from limits import RateLimitItemPerDay
from limits.strategies import FixedWindowRateLimiter

from core import audit
from core.settings import get_settings
from web.errors import describe, wants_json

# A throttled answer always says when to come back; never less than a second.
MIN_RETRY_AFTER_S = 1
LOGIN_ENDPOINT = "auth.login"

limiter = Limiter(get_remote_address, key_prefix="stockflow", strategy="moving-window",
                  headers_enabled=False, swallow_errors=True, in_memory_fallback_enabled=True)


def init_limits(app: Flask) -> None:
    """Point the limiter at the app's Redis and answer its 429s (after the login requirement,
    so a limit keyed on the user sees who is signed in)."""
    app.config.setdefault("RATELIMIT_STORAGE_URI", get_settings().effective_redis_url)
    limiter.init_app(app)

    @app.errorhandler(RateLimitExceeded)
    def _throttled(exc: RateLimitExceeded) -> Any:
        retry_after_s = _retry_after_s()
        if request.endpoint == LOGIN_ENDPOINT:  # the view never ran: audit the refusal here
            audit.record("login_throttled", actor=audit.ANONYMOUS_ACTOR,
                         target=request.form.get("username", "")[:80], outcome="refused",
                         detail={"retry_after_s": retry_after_s})
        return throttled_response(f"{describe(exc)} Tente de novo em {minutes(retry_after_s)}.",
                                  retry_after_s)


def throttled_response(message: str, retry_after_s: int) -> Any:
    """The 429 answer: the login form again with the message, JSON for API calls, else the
    error page; always with Retry-After."""
    if request.endpoint == LOGIN_ENDPOINT and not wants_json():
        flash(message, "erro")
        response = render_template("login.html", username=request.form.get("username", "")), 429
    elif wants_json():
        response = jsonify(error=message, status=429, retry_after_s=retry_after_s), 429
    else:
        response = render_template("error.html", title="Muitas tentativas", message=message), 429
    body, status = response
    return body, status, {"Retry-After": str(max(MIN_RETRY_AFTER_S, retry_after_s))}


def _retry_after_s() -> int:
    """Seconds until every limit this request broke lets one more through."""
    breached = [limit for limit in limiter.current_limits if limit.breached]
    reset_at = max((limit.reset_at for limit in breached), default=time.time())
    return math.ceil(reset_at - time.time())


def client_address() -> str:
    """The limit key of the client's address (the real one behind STOCKFLOW_PROXY_COUNT proxies)."""
    return f"address:{get_remote_address()}"


def login_account() -> str:
    """The limit key of the account a login names (case and blanks ignored, like the lookup)."""
    return f"account:{request.form.get('username', '').strip().lower()}"


def current_user_key() -> str:
    """The limit key of the signed-in user."""
    return f"user:{getattr(current_user, 'id', None)}"


def minutes(seconds: float) -> str:
    """Say a wait in pt-BR ("1 minuto", "15 minutos")."""
    count = max(1, math.ceil(seconds / 60))
    return f"{count} minuto" if count == 1 else f"{count} minutos"


def take_daily_upload_bytes(user_id: int, size: int) -> int:
    """Count an upload's bytes against the user's daily volume; return 0 when it fits, else
    the seconds until the day's window ends (nothing counted)."""
    allowed = RateLimitItemPerDay(get_settings().upload_daily_bytes_per_user)
    # Fixed window: the moving window keeps one entry per unit, which bytes cannot afford.
    volume = FixedWindowRateLimiter(limiter.storage)
    key = ("stockflow", "upload-bytes", str(user_id))
    # Counted first and taken back when over: one round trip for an upload that fits (the
    # common case). Two at once near the limit may both be refused where one would fit.
    if volume.hit(allowed, *key, cost=size):
        return 0
    limiter.storage.incr(allowed.key_for(*key), allowed.get_expiry(), amount=-size)
    reset_at, _ = volume.get_window_stats(allowed, *key)
    return max(MIN_RETRY_AFTER_S, math.ceil(reset_at - time.time()))
