"""POST a batch to Plusoft: timeouts, bounded retries with backoff, Retry-After, idempotency.

A POST is only ever retried with the batch's Idempotency-Key, so Plusoft (and the stand-in)
can tell a retry from new data when the first attempt did land but its answer was lost.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from core.backoff import backoff_s
from core.settings import Settings, get_settings

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
# The first wait between attempts at one batch (doubles each attempt, with jitter).
BACKOFF_BASE_S = 0.5


class PlusoftError(RuntimeError):
    """Plusoft did not accept a batch; the run stops at its last checkpoint."""


class PlusoftUnavailable(PlusoftError):
    """Every attempt failed on connection errors, timeouts, 429 or 5xx (worth retrying later)."""


class PlusoftRefused(PlusoftError):
    """Plusoft answered 4xx: the batch itself is wrong, retrying cannot help."""


@dataclass
class BatchAnswer:
    """What Plusoft said about one batch: how many rows it took, and the ones it refused."""

    accepted: int
    rejected: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 1


class PlusoftClient:
    """One keep-alive HTTP session to Plusoft; `send_batch` is safe to call again after a crash."""

    def __init__(self, settings: Settings | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings or get_settings()
        self.sleep = sleep
        self.http = requests.Session()
        self.http.headers.update({"Content-Type": "application/json",
                                  "Accept": "application/json",
                                  "User-Agent": "stockflow-sync/1"})
        if self.settings.plusoft_token:
            self.http.headers["Authorization"] = f"Bearer {self.settings.plusoft_token}"

    def close(self) -> None:
        self.http.close()

    def url(self, entidade: str) -> str:
        return f"{self.settings.plusoft_base_url.rstrip('/')}/{entidade}"

    def send_batch(self, entidade: str, records: list[dict[str, Any]], idempotency_key: str,
                   context: str = "") -> BatchAnswer:
        """POST the records; return Plusoft's answer or raise PlusoftUnavailable/Refused."""
        settings = self.settings
        body = json.dumps(records, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Idempotency-Key": idempotency_key}
        timeout = (settings.plusoft_connect_timeout_s, settings.plusoft_read_timeout_s)
        problem = ""
        for attempt in range(1, settings.plusoft_max_attempts + 1):
            wait: float | None = None
            try:
                response = self.http.post(self.url(entidade), data=body, headers=headers,
                                          timeout=timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.ok:
                    return _answer(response, len(records), attempt)
                if response.status_code not in RETRY_STATUSES:
                    raise PlusoftRefused(
                        f"Plusoft recusou o lote ({response.status_code}): {response.text[:300]}")
                problem = f"HTTP {response.status_code}"
                wait = retry_after_s(response.headers.get("Retry-After"))
            if attempt == settings.plusoft_max_attempts:
                break
            # attempt counts from 1, the backoff from 0: the first wait is about base_s
            delay = min(settings.plusoft_retry_max_s, wait if wait is not None
                        else backoff_s(attempt - 1, BACKOFF_BASE_S, settings.plusoft_retry_max_s))
            log.warning("plusoft retry %s entidade=%s key=%s attempt=%d problem=%r wait_s=%.2f",
                        context, entidade, idempotency_key, attempt, problem, delay)
            self.sleep(delay)
        raise PlusoftUnavailable(
            f"Plusoft indisponível após {settings.plusoft_max_attempts} tentativas: {problem}")


def retry_after_s(header: str | None) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date), or None."""
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _answer(response: requests.Response, sent: int, attempt: int) -> BatchAnswer:
    """Read a 2xx answer; a body listing `rejeitados` means Plusoft refused those rows."""
    try:
        body = response.json()
    except ValueError:
        body = None
    rejected = body.get("rejeitados", []) if isinstance(body, dict) else []
    rejected = rejected if isinstance(rejected, list) else []
    return BatchAnswer(accepted=sent - len(rejected), rejected=rejected, attempts=attempt)
