"""Flower behind the app's own login: /flower/... is forwarded to Flower on STOCKFLOW_FLOWER_HOST
(started with --url_prefix=flower) for users with the "flower" permission (administrators).

Flower's basic-auth credentials are added here, so people never type them and Flower answers
nobody who skips the app. Flower 2.x refreshes its pages by plain HTTP polling (no
websockets), so forwarding requests is all it needs. Its state-changing calls (revoke,
restart...) carry Flower's own XSRF token (the _xsrf cookie, a double submit), so the app's
CSRF check leaves these routes to it; they must also come from this site (Origin/Referer).
"""
from __future__ import annotations

import base64
import logging
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Blueprint, Response, abort, request, stream_with_context

from core.models.auth import FLOWER
from core.settings import get_settings
from web import access

log = logging.getLogger(__name__)

bp = Blueprint("flower_proxy", __name__)

PREFIX = "flower"  # Flower's --url_prefix, and the path here
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE"]
UNSAFE_METHODS = {"POST", "PUT", "DELETE"}
CONNECT_TIMEOUT_S, READ_TIMEOUT_S = 3.0, 30.0
CHUNK_BYTES = 64 * 1024
# Request headers Flower needs; the app's session cookie and anything else stay here.
REQUEST_HEADERS = ("Accept", "Accept-Language", "Content-Type", "If-Modified-Since",
                   "If-None-Match", "X-Requested-With", "X-XSRFToken")
RESPONSE_HEADERS = ("Cache-Control", "ETag", "Last-Modified", "Location",
                    "Set-Cookie", "Expires")
FLOWER_COOKIES = ("_xsrf",)
# Flower's workers page has one inline <script> (its refresh flag); its pages get this
# policy, the app's own keep the strict one (web/security_headers.py).
FLOWER_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' "
              "'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; "
              "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def flower_base_url() -> str:
    """Return Flower's own address, its prefix included (an IPv6 host in brackets)."""
    settings = get_settings()
    host = settings.flower_host.strip()
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{host}:{settings.flower_port}/{PREFIX}"


def _basic_auth_header() -> dict[str, str]:
    credentials = get_settings().flower_basic_auth
    if not credentials:
        return {}
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def _same_origin() -> bool:
    """Whether a state-changing call comes from a page of this site (Origin, else Referer)."""
    source = request.headers.get("Origin") or request.headers.get("Referer") or ""
    parts = urlsplit(source)
    return bool(parts.netloc) and parts.netloc == request.host and parts.scheme == request.scheme


@bp.route(f"/{PREFIX}/", defaults={"path": ""}, methods=METHODS)
@bp.route(f"/{PREFIX}/<path:path>", methods=METHODS)
@access.requires(FLOWER)
def forward(path: str) -> Any:
    """Forward one request to Flower and stream its answer back."""
    if ".." in path.split("/"):
        abort(404)
    if request.method in UNSAFE_METHODS and not _same_origin():
        abort(403, description="Chamada ao Flower de fora desta página recusada.")
    url = f"{flower_base_url()}/{path}"
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    headers = {name: request.headers[name] for name in REQUEST_HEADERS if name in request.headers}
    headers.update(_basic_auth_header())
    cookies = {name: request.cookies[name] for name in FLOWER_COOKIES if name in request.cookies}
    try:
        upstream = requests.request(request.method, url, headers=headers, cookies=cookies,
                                    data=request.get_data(), stream=True, allow_redirects=False,
                                    timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S))
    except requests.RequestException as exc:
        log.warning("flower unreachable url=%s error=%s", flower_base_url(), type(exc).__name__)
        abort(502, description="O Flower não está respondendo; veja se o serviço "
                               "stockflow-flower está no ar.")
    return _streamed(upstream)


def _streamed(upstream: requests.Response) -> Response:
    """The app's answer carrying Flower's status, chosen headers and body (decoded as it streams)."""
    def body() -> Any:
        try:
            yield from upstream.iter_content(CHUNK_BYTES)
        finally:
            upstream.close()

    response = Response(stream_with_context(body()), status=upstream.status_code,
                        content_type=upstream.headers.get("Content-Type"))
    for name in RESPONSE_HEADERS:
        for value in upstream.raw.headers.getlist(name):
            response.headers.add(name, _local_location(value) if name == "Location" else value)
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = FLOWER_CSP
    return response


def _local_location(location: str) -> str:
    """A redirect to Flower's own address, made a path on this site."""
    base = urlsplit(flower_base_url())
    parts = urlsplit(location)
    if parts.netloc and parts.netloc != base.netloc:
        return f"/{PREFIX}/"  # somewhere else entirely: back to Flower's first page
    return location if not parts.netloc else parts._replace(scheme="", netloc="").geturl()
