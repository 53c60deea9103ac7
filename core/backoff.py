"""Exponential backoff with jitter, for task retries and for long-running consumers that
reconnect to a broker or database."""
from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


def backoff_s(attempt: int, base_s: float, cap_s: float) -> float:
    """Return base_s * 2**attempt capped at cap_s, with ±25% jitter so clients spread out."""
    return min(cap_s, base_s * 2 ** attempt) * random.uniform(0.75, 1.25)


def run_until_stopped(consume: Callable[[threading.Event], None], stop: threading.Event,
                      errors: tuple[type[BaseException], ...], cap_s: float, what: str,
                      base_s: float = 0.5, logger: logging.Logger = log) -> None:
    """Call consume(stop) until `stop` is set; after one of `errors`, wait a growing backoff
    (reset by a clean return) and call it again."""
    failures = 0
    while not stop.is_set():
        try:
            consume(stop)
            failures = 0
        except errors as exc:
            delay = backoff_s(failures, base_s, cap_s)
            failures += 1
            logger.warning("%s error=%s retry_in_s=%.1f", what, f"{type(exc).__name__}: {exc}", delay)
            stop.wait(delay)
