"""Liveness: real workers and a real Beat record heartbeats; stopped ones are seen as stopped,
and one shut down on purpose as ended ("encerrado"), which worker_parado does not alert."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from core import heartbeats
from core.celery_app import celery_app
from core.models.types import utcnow
from core.settings import get_settings, reset_settings
from tests.alerts.support import alerts, evaluate, only
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


def test_a_worker_shut_down_on_purpose_raises_no_alert_and_a_killed_one_does(
        db: str, stale_after_3s: None) -> None:
    only("worker_parado", "0")  # no patience: a worker not alive fires at once
    names = {how: f"hb-{how}-{os.getpid()}@localhost" for how in ("sigterm", "control", "killed")}
    processes = {"sigterm": spawn_worker("sync", concurrency=1, name=names["sigterm"], env=FAST_BEATS),
                 "control": spawn_worker("baixa", concurrency=1, name=names["control"],
                                         env=FAST_BEATS, pool="threads"),
                 # threads: a SIGKILL leaves no pool processes behind
                 "killed": spawn_worker("ruptura", concurrency=1, name=names["killed"],
                                        env=FAST_BEATS, pool="threads")}
    try:
        wait_until(lambda: all(beat_of(name) for name in names.values()), 10, "three heartbeats")
        stop_worker(processes["sigterm"])  # a deploy: SIGTERM, warm shutdown
        celery_app.control.shutdown(destination=[names["control"]])  # `celery control shutdown`
        processes["control"].wait(timeout=20)
        os.kill(processes["killed"].pid, signal.SIGKILL)
        assert processes["sigterm"].returncode == 0 and processes["control"].returncode == 0
        wait_until(lambda: not beat_of(names["killed"]).alive, 6, "the killed worker to look stopped")
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
    beats = {how: beat_of(name) for how, name in names.items()}
    assert not any(beat.alive for beat in beats.values())
    assert beats["sigterm"].ended and beats["control"].ended and not beats["killed"].ended
    evaluate(utcnow())
    # only this test's workers: another worker of the session (its beats slower than the 3 s
    # staleness set here) may look stopped too
    fired = [alert.subject for alert in alerts()
             if alert.rule == "worker_parado" and alert.subject in names.values()]
    assert fired == [names["killed"]]
    shown = {w["hostname"]: w["encerrado"] for w in heartbeats.workers_event()["workers"]}
    assert [shown[names[how]] for how in ("sigterm", "control", "killed")] == [True, True, False]


def test_a_worker_that_gives_up_on_an_error_did_not_stop_on_purpose() -> None:
    """An unrecoverable error ends the worker with exit code 1 and no shutdown signal."""
    gave_up = SimpleNamespace(controller=SimpleNamespace(exitcode=1))
    asked = SimpleNamespace(controller=SimpleNamespace(exitcode=0))
    assert not heartbeats._asked_to_stop(gave_up) and heartbeats._asked_to_stop(asked)
