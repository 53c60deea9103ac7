"""Liveness: real workers and a real Beat record heartbeats; stopped ones are seen as stopped."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core import heartbeats
from core.settings import get_settings, reset_settings
from tests.support.environment import ROOT
from tests.support.waiting import wait_until
from tests.support.workers import spawn_worker, stop_worker

FAST_BEATS = {"STOCKFLOW_HEARTBEAT_INTERVAL_S": "1"}


@pytest.fixture
def stale_after_3s(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Readers judge a heartbeat older than 3 s stale (the default is 45 s)."""
    monkeypatch.setenv("STOCKFLOW_HEARTBEAT_STALE_S", "3")
    reset_settings()
    yield
    monkeypatch.delenv("STOCKFLOW_HEARTBEAT_STALE_S")
    reset_settings()


def beat_of(hostname: str) -> heartbeats.WorkerBeat | None:
    return next((beat for beat in heartbeats.workers() if beat.hostname == hostname), None)


def test_default_staleness_shows_a_stop_within_a_minute() -> None:
    settings = get_settings()
    assert settings.heartbeat_stale_s == 45 and settings.heartbeat_interval_s == 10


def test_a_killed_worker_and_a_stopped_beat_are_seen_stopped(stale_after_3s: None, tmp_path: Path) -> None:
    # Beat and a prefork worker start side by side (a test of each would wait twice)
    log = tmp_path / "beat.log"
    with log.open("wb") as out:
        beat = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tasks", "beat", "-S", "redbeat.RedBeatScheduler",
             "--loglevel", "INFO", "--pidfile", "", "--schedule", str(tmp_path / "beat-schedule")],
            cwd=ROOT, env=dict(os.environ), stdout=out, stderr=subprocess.STDOUT)
    name = f"hb-prefork-{os.getpid()}@localhost"
    process = None
    try:
        process = spawn_worker("sync,ruptura", concurrency=1, name=name, env=FAST_BEATS)
        first = wait_until(lambda: beat_of(name), 10, "the worker's first heartbeat")
        assert first.alive and first.queues == ["ruptura", "sync"]
        # the repeating timer runs on the event loop: the heartbeat moves on
        wait_until(lambda: beat_of(name).last_seen > first.last_seen, 5, "a second heartbeat")
        counts = heartbeats.consumers_by_queue()
        assert counts["sync"] >= 1 and counts["ruptura"] >= 1
        assert set(counts) >= {"baixa", "health", "ruptura", "comprovantes", "sync", "default"}
        wait_until(heartbeats.beat_alive, 30, lambda: f"Beat's heartbeat; log {log.read_text()[-1500:]}")
        assert heartbeats.beat_last_seen().tzinfo is not None
        # a worker that dies without shutting down is judged by its silence, as is Beat
        os.kill(process.pid, signal.SIGKILL)
        stop_worker(beat)  # SIGTERM (then SIGKILL)
        wait_until(lambda: not beat_of(name).alive, 6, "the killed worker to look stopped")
        wait_until(lambda: not heartbeats.beat_alive(), 6, "the stopped Beat to look stopped")
    finally:
        stop_worker(beat)
        if process is not None and process.poll() is None:
            process.kill()
        for child in _orphans(name):
            child.kill()


def _orphans(name: str) -> list[Any]:
    """Pool processes a SIGKILLed prefork worker left behind (they exit on their own soon)."""
    import psutil

    return [proc for proc in psutil.process_iter(["cmdline"])
            if name in " ".join(proc.info["cmdline"] or []) and proc.pid != os.getpid()]
