"""Live pages at scale: one Redis reader per web process, several channels per stream, a cap per
user and per process, and dead clients freed within two heartbeats (heartbeat is 1 s here)."""
from __future__ import annotations

import socket
import struct
from typing import Any

import pytest

from core.redis_client import get_redis
from core.settings import get_settings, reset_settings
from core.sse import publish
from tests.support.sse import events
from tests.support.waiting import wait_until
from web.sse import add_channel_rules
from web.stream_hub import hub


@pytest.fixture(autouse=True)
def _test_channels(live_server: Any) -> None:
    """Channels only these tests use, readable by any logged-in user."""
    add_channel_rules(live_server.app, {"escala": lambda user, rest: True})


def _raw_stream(live_server: Any, cookie: str, channel: str) -> socket.socket:
    """Open a stream on a bare socket (a client that can vanish without a goodbye)."""
    host, port = live_server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.sendall((f"GET /stream?channel={channel} HTTP/1.1\r\nHost: {host}\r\n"
                  f"Cookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n").encode())
    assert b"200" in sock.recv(4096).split(b"\r\n", 1)[0]
    return sock


def _redis_clients() -> int:
    return len(get_redis().client_list())


def test_streams_share_one_reader_and_dead_clients_are_freed(live_server: Any,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # Must survive: 30 clients vanishing at once (RST, no FIN) leave no stream and no Redis
    # connection behind, and the streams never held a Redis connection each.
    monkeypatch.setenv("STOCKFLOW_SSE_MAX_STREAMS_PER_USER", "100")
    reset_settings()
    http = live_server.session()
    cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    baseline_streams, baseline_redis = hub.stream_count(), _redis_clients()
    sockets = [_raw_stream(live_server, cookie, f"escala:{n % 5}") for n in range(30)]
    wait_until(lambda: hub.stream_count() >= baseline_streams + 30, 10, "30 open streams")
    # one reader for every stream, plus the bounded shared pool: not a connection per stream
    bound = baseline_redis + get_settings().redis_max_connections + 1
    assert _redis_clients() <= bound

    for sock in sockets:  # vanish: an RST, as a killed browser or a cut network gives
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    # two heartbeats (1 s each here), plus room for a loaded 2-core CI machine
    # (<=: streams of earlier tests whose clients left may end meanwhile too)
    wait_until(lambda: hub.stream_count() <= baseline_streams, 2 * 1 + 10,
               "the server noticing the dead clients")
    assert _redis_clients() <= bound


def test_one_stream_carries_several_channels_and_resumes_each(live_server: Any) -> None:
    http = live_server.session()
    url = f"{live_server.url}/stream?channel=escala:a&channel=escala:b"
    stream = events(http, url)
    publish("escala:a", "tick", {"n": 1})
    first = next(stream)
    assert first.data == {"channel": "escala:a", "data": {"n": 1}}
    publish("escala:b", "tick", {"n": 2})
    second = next(stream)
    assert second.data == {"channel": "escala:b", "data": {"n": 2}}
    assert second.id.count(",") == 1 and second.id.split(",")[0] == first.id.split(",")[0]
    stream.close()

    publish("escala:a", "tick", {"n": 3})
    publish("escala:b", "tick", {"n": 4})
    resumed = events(http, url, last_event_id=second.id)
    missed = [next(resumed).data for _ in range(2)]
    assert sorted(m["data"]["n"] for m in missed) == [3, 4]
    resumed.close()


def test_per_user_cap_answers_429_and_capacity_503_while_pages_work(
        live_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    http = live_server.session()
    monkeypatch.setenv("STOCKFLOW_SSE_MAX_STREAMS_PER_USER", "2")
    reset_settings()
    opened = [events(http, f"{live_server.url}/stream?channel=escala:cap") for _ in range(2)]
    over = http.get(f"{live_server.url}/stream?channel=escala:cap", stream=True)
    assert over.status_code == 429 and "páginas ao vivo" in over.json()["error"]
    assert over.headers["Retry-After"]

    monkeypatch.setenv("STOCKFLOW_SSE_MAX_STREAMS_PER_USER", "100")
    monkeypatch.setenv("STOCKFLOW_SSE_MAX_STREAMS", str(hub.stream_count()))
    reset_settings()
    full = http.get(f"{live_server.url}/stream?channel=escala:cap", stream=True)
    assert full.status_code == 503 and full.headers["Retry-After"]
    assert http.get(f"{live_server.url}/readyz").status_code in (200, 503)
    assert http.get(f"{live_server.url}/baixas").status_code == 200  # the rest still works
    for stream in opened:
        stream.close()


@pytest.mark.parametrize("bad", ["²-0", "١-0", "99999999999999999999-0", "1-", "-1", "1-0,2-0",
                                 "abc", "1-0 "])
def test_malformed_last_event_id_is_a_clear_400(live_server: Any, bad: str) -> None:
    http = live_server.session()
    # as the query parameter pages use (a header cannot carry non-Latin-1 text)
    response = http.get(f"{live_server.url}/stream",
                        params={"channel": "escala:id", "last_event_id": bad}, stream=True)
    assert response.status_code == 400 and response.json()["error"] == "Last-Event-ID inválido."
