"""The one poll-until loop of the tests."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(condition: Callable[[], Any], timeout_s: float = 30.0,
               what: str | Callable[[], str] = "condition") -> Any:
    """Return condition()'s first truthy value, polling every 20 ms; fail after timeout_s.

    `what` names what is awaited in the failure; it may be a function, called on timeout,
    to show the last state seen. An exception raised by condition() ends the wait at once.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for "
                                 f"{what() if callable(what) else what}")
        time.sleep(0.02)
