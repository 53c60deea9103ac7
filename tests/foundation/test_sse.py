"""SSE: an event published by a worker reaches a client; a dropped client reconnecting with
Last-Event-ID receives exactly what it missed; channels are access-controlled."""
from __future__ import annotations

from typing import Any

import pytest

from core import jobs
from core.sse import publish
from tests import sample_tasks
from tests.support.sse import events
from web.sse import add_channel_rules


@pytest.fixture(autouse=True)
def _test_channels(live_server: Any) -> None:
    """A channel family only these tests use, readable by any logged-in user."""
    add_channel_rules(live_server.app, {"testes": lambda user, rest: True})


def test_worker_event_reaches_client_and_reconnect_replays_exactly_the_missed(
        live_server: Any, worker: Any) -> None:
    http = live_server.session()
    url = f"{live_server.url}/stream?channel=testes:a"
    stream = events(http, url)
    # the first event proves the subscription is live before the worker publishes more
    publish("testes:a", "tick", {"n": -1})
    assert next(stream).data == {"n": -1}

    sample_tasks.publish_events.delay("testes:a", 3, 0).get(timeout=20)
    received = [next(stream) for _ in range(3)]
    assert [e.data["n"] for e in received] == [0, 1, 2]
    assert all(e.type == "tick" and e.id for e in received)
    stream.close()  # the connection drops

    # published while nobody listens
    sample_tasks.publish_events.delay("testes:a", 4, 3).get(timeout=20)
    resumed = events(http, url, last_event_id=received[-1].id)
    missed = [next(resumed) for _ in range(4)]
    assert [e.data["n"] for e in missed] == [3, 4, 5, 6]
    # and nothing else: the next event is a fresh one, not a duplicate
    publish("testes:a", "tick", {"n": 99})
    assert next(resumed).data == {"n": 99}
    resumed.close()


def test_channel_without_access_is_403(live_server: Any) -> None:
    http = live_server.session("ana", "ana-password")
    job_id = jobs.create_job("tests", owner_id=1)  # the admin's job
    response = http.get(f"{live_server.url}/stream?channel=job:{job_id}", stream=True)
    assert response.status_code == 403
    unknown = http.get(f"{live_server.url}/stream?channel=segredo", stream=True)
    assert unknown.status_code == 403


def test_anonymous_stream_is_401(live_server: Any) -> None:
    import requests

    response = requests.get(f"{live_server.url}/stream?channel=testes:a", stream=True, timeout=5)
    assert response.status_code == 401


def test_bad_last_event_id_is_400(live_server: Any) -> None:
    http = live_server.session()
    response = http.get(f"{live_server.url}/stream?channel=testes:a",
                        headers={"Last-Event-ID": "../../x"}, stream=True)
    assert response.status_code == 400


def test_job_owner_reads_its_job_channel(live_server: Any) -> None:
    http = live_server.session("ana", "ana-password")
    job_id = jobs.create_job("tests", owner_id=_user_id("ana"))
    stream = events(http, f"{live_server.url}/stream?channel=job:{job_id}")
    jobs.mark_started(job_id)
    jobs.set_progress(job_id, 40, stage="ocr")
    started, progressed = next(stream), next(stream)
    assert started.type == "job" and started.data["status"] == "started"
    assert progressed.data["progress"] == 40 and progressed.data["stage"] == "ocr"
    stream.close()


def _user_id(username: str) -> int:
    from sqlalchemy import select

    from core.db import session_scope
    from core.models import User

    with session_scope() as session:
        return session.scalar(select(User.id).where(User.username == username))
