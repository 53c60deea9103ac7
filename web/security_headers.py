"""The browser-facing protections of every answer: CSP, HSTS, nosniff, referrer and framing
rules, and ProxyFix when TLS ends at a reverse proxy (STOCKFLOW_PROXY_COUNT)."""
from __future__ import annotations

from flask import Flask, Response
from werkzeug.middleware.proxy_fix import ProxyFix

from core.settings import get_settings

# No inline script or style anywhere (templates use data-* attributes and web/static/js);
# nothing may frame the app (clickjacking), and forms post only to the app itself.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
    "font-src 'self'", "connect-src 'self'", "object-src 'none'", "base-uri 'self'",
    "form-action 'self'", "frame-ancestors 'none'"))


def init_security_headers(app: Flask) -> None:
    """Trust the configured proxies' X-Forwarded-* headers and add the headers to every answer
    (a view that sets its own CSP, the Flower proxy's, keeps it)."""
    settings = get_settings()
    if settings.proxy_count:
        hops = settings.proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    hsts = (f"max-age={settings.hsts_max_age_s}; includeSubDomains"
            if settings.hsts_max_age_s else None)

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        # HSTS only where cookies are Secure, i.e. the site is served over HTTPS.
        if hsts and app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", hsts)
        return response
