"""A minimal SSE client over requests (tests and benchmarks): parses events; close() drops it."""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests


@dataclass
class Event:
    type: str
    data: Any
    id: str | None


def events(http: requests.Session, url: str, last_event_id: str | None = None,
           timeout_s: float = 10) -> Iterator[Event]:
    """Connect now (the server fixes the stream position before answering) and return an
    iterator over the events; comments and retry lines are skipped. close() drops it."""
    headers = {"Accept": "text/event-stream"}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    response = http.get(url, headers=headers, stream=True, timeout=timeout_s)
    response.raise_for_status()
    return parse_sse(response)


def parse_sse(response: requests.Response) -> Iterator[Event]:
    """Yield the events of a streaming response (comments and retry lines skipped)."""
    with response:
        fields: dict[str, str] = {}
        for raw in response.iter_lines(decode_unicode=True):
            if raw == "":
                if "data" in fields:
                    yield Event(fields.get("event", "message"), json.loads(fields["data"]),
                                fields.get("id"))
                fields = {}
                continue
            if raw.startswith(":"):
                continue
            name, _, value = raw.partition(":")
            fields[name] = value.lstrip(" ") if name != "data" else value
