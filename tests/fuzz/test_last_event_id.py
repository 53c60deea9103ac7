"""Last-Event-ID on /stream (issue 12, finding 5): whatever the header or the last_event_id
parameter holds, the answer is a 200 stream that replays and goes live, or a 400 before any
header is sent; never a 500, never an error inside a stream already answered 200."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from core.settings import reset_settings
from core.sse import publish
from web.sse import valid_id

CHANNELS = ("devices", "store:fuzz")
# The three values of the finding: '²' and '١' are digits to str.isdigit, the third is 67 bits.
FOUND = ("²-0", "١-0", "99999999999999999999-0")
# Every example opens a stream, so fewer examples than the pure fuzzers (about 20 ms each).
FUZZ = settings(max_examples=120, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Ids that parse (small ones replay the events published, or are past the trimmed log: a gap),
# ids that almost do (past 64 bits, odd digits, any text), and any text at all.
valid_parts = st.integers(min_value=0, max_value=10**19 - 1).map(str)
odd_parts = st.integers(min_value=0, max_value=2**70).map(str) | st.text(max_size=8)
stream_ids = (st.builds("{}-{}".format, valid_parts, valid_parts)
              | st.builds("{}-{}".format, valid_parts | odd_parts, valid_parts | odd_parts) | odd_parts)
composites = st.lists(stream_ids, min_size=1, max_size=2).map(",".join)
header_texts = composites | st.text(max_size=40)


@pytest.mark.parametrize("value", FOUND)
def test_the_finding_values_are_400_before_headers(live_server: Any, value: str) -> None:
    http = live_server.session()
    url = f"{live_server.url}/stream?channel=devices"
    for response in (http.get(f"{url}&last_event_id={quote(value)}", stream=True, timeout=10),
                     http.get(url, headers={"Last-Event-ID": value.encode()}, stream=True, timeout=10)):
        with response:
            assert response.status_code == 400
            assert response.json() == {"error": "Last-Event-ID inválido.", "status": 400}


def test_valid_id_takes_ascii_digits_within_64_bits_only() -> None:
    assert valid_id("0-0") and valid_id("1718000000000-5")
    assert not any(valid_id(value) for value in (*FOUND, "1-", "-1", "1", " 1-0", "1-0 ", "+1-0", "1_0-0"))


@pytest.fixture
def stream_client(client: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The logged-in test client, with a heartbeat short enough to see each stream go live,
    and a few events on both channels to replay."""
    monkeypatch.setenv("STOCKFLOW_SSE_HEARTBEAT_S", "0.02")
    reset_settings()
    for n in range(3):
        for channel in CHANNELS:
            publish(channel, "fuzz", {"n": n})
    yield client
    monkeypatch.undo()
    reset_settings()


def read_until_live(response: Any) -> str:
    """Read a 200 stream through its replay up to its first keepalive, then close it."""
    received = ""
    try:
        for chunk in response.response:
            received += chunk.decode() if isinstance(chunk, bytes) else chunk
            if ": keepalive" in received:
                return received
    finally:
        response.close()
    raise AssertionError(f"the stream ended before going live: {received!r}")


@FUZZ
@given(value=header_texts, channels=st.sampled_from([CHANNELS[:1], CHANNELS]),
       in_header=st.booleans())
@example(value=FOUND[0], channels=CHANNELS[:1], in_header=False)
@example(value=FOUND[1], channels=CHANNELS[:1], in_header=False)
@example(value=FOUND[2], channels=CHANNELS[:1], in_header=True)
@example(value="0-0", channels=CHANNELS[:1], in_header=True)
@example(value="0-0,9999999999999999999-9999999999999999999", channels=CHANNELS, in_header=True)
def test_any_last_event_id_is_a_live_stream_or_a_400(stream_client: Any, value: str,
                                                    channels: tuple[str, ...], in_header: bool) -> None:
    query = "&".join(f"channel={quote(channel)}" for channel in channels)
    if in_header:
        # what a server hands the app: the header's UTF-8 bytes read as latin-1, no line breaks
        header = value.encode("utf-8").decode("latin-1").replace("\r", "").replace("\n", "")
        response = stream_client.get(f"/stream?{query}", headers={"Last-Event-ID": header})
    else:
        response = stream_client.get(f"/stream?{query}&last_event_id={quote(value)}")
    event(f"status {response.status_code}")
    if response.status_code == 400:
        assert response.get_json() == {"error": "Last-Event-ID inválido.", "status": 400}
        return
    assert response.status_code == 200, response.get_data(as_text=True)
    body = read_until_live(response)
    ids = [line[4:] for line in body.splitlines() if line.startswith("id: ")]
    assert all(part and valid_id(part) for event_id in ids for part in event_id.split(","))
