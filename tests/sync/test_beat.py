"""Beat: the nightly sync's next run is 01:00 in America/Sao_Paulo (configurable), and of two
Beat processes started against the same Redis only one holds RedBeat's lock and schedules."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import redis

from celerybeat.schedule import beat_schedule
from core.settings import Settings
from tasks import celery_app
from tests.support.environment import REDIS_PORT, ROOT
from tests.support.waiting import wait_until

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
ENTRY = "sync.sincronizar_agendado"


def next_run(settings: Settings, now: datetime, last_run: datetime) -> datetime:
    """When Beat runs the nightly entry next, seen from `now`."""
    schedule = beat_schedule(settings)[ENTRY]["schedule"]
    schedule.app = celery_app  # as Beat binds it: the app's timezone (America/Sao_Paulo)
    schedule.nowfun = lambda: now
    return now + schedule.remaining_estimate(last_run)


def test_nightly_sync_runs_at_01_00_sao_paulo() -> None:
    settings = Settings()
    assert celery_app.conf.timezone == "America/Sao_Paulo"
    entry = beat_schedule(settings)[ENTRY]
    assert entry["task"] == ENTRY
    last = datetime(2026, 11, 21, 1, 0, tzinfo=SAO_PAULO)
    evening = datetime(2026, 11, 21, 22, 15, tzinfo=SAO_PAULO)
    upcoming = next_run(settings, evening, last)
    assert upcoming.astimezone(SAO_PAULO).replace(tzinfo=None) == datetime(2026, 11, 22, 1, 0)
    # São Paulo has no DST since 2019: 01:00 there is 04:00 UTC
    assert upcoming.astimezone(timezone.utc) == datetime(2026, 11, 22, 4, 0, tzinfo=timezone.utc)
    # seen from a server clock in UTC, the same instant
    utc_now = evening.astimezone(timezone.utc)
    assert next_run(settings, utc_now, last) == upcoming


def test_schedule_hour_and_minute_come_from_settings() -> None:
    settings = Settings(plusoft_schedule_hour=2, plusoft_schedule_minute=30)
    last = datetime(2026, 6, 1, 2, 30, tzinfo=SAO_PAULO)
    upcoming = next_run(settings, datetime(2026, 6, 1, 2, 45, tzinfo=SAO_PAULO), last)
    assert upcoming.astimezone(SAO_PAULO).replace(tzinfo=None) == datetime(2026, 6, 2, 2, 30)
    assert upcoming - datetime(2026, 6, 1, 2, 45, tzinfo=SAO_PAULO) == timedelta(hours=23, minutes=45)


def test_two_beats_only_one_schedules(tmp_path: Path) -> None:
    # Must hold: with two Beat processes up, exactly one owns the RedBeat lock; the other
    # waits, and takes over once the first stops. A Redis database of its own keeps the
    # beats' messages away from the test workers.
    url = f"redis://127.0.0.1:{REDIS_PORT}/7"
    client = redis.Redis.from_url(url, decode_responses=True)
    client.flushdb()
    env = {**os.environ, "STOCKFLOW_REDIS_URL": url, "PYTHONPATH": str(ROOT)}
    env.pop("STOCKFLOW_BROKER_URL", None)
    logs = [tmp_path / "beat-a.log", tmp_path / "beat-b.log"]
    beats: list[subprocess.Popen[Any]] = []
    try:
        for log in logs:
            beats.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "tasks", "beat", "-S",
                 "redbeat.RedBeatScheduler", "--loglevel", "INFO", "--pidfile", "",
                 "--max-interval", "1"],
                cwd=tmp_path, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT))
            time.sleep(0.2)  # a starting order, so "first" is meaningful in the log
        lock_key = celery_app.conf.redbeat_key_prefix + ":lock"
        acquired = lambda log: "beat: Acquired lock" in log.read_text()  # noqa: E731
        started = lambda log: "beat: Starting" in log.read_text()  # noqa: E731
        wait_until(lambda: all(started(log) for log in logs), 60, "both beats started")
        winner = wait_until(lambda: [log for log in logs if acquired(log)], 30, "a beat locked")
        assert len(winner) == 1 and client.get(lock_key)
        # the loser keeps waiting for the lock while the winner ticks (several max-intervals)
        time.sleep(3)
        assert [log for log in logs if acquired(log)] == winner
        assert any(ENTRY in key for key in client.smembers(  # the nightly entry is scheduled
            celery_app.conf.redbeat_key_prefix + ":statics"))

        # the winner stops (releasing its lock): the other one takes over
        first = beats[logs.index(winner[0])]
        first.terminate()
        first.wait(timeout=30)
        loser = next(log for log in logs if log not in winner)
        wait_until(lambda: acquired(loser), 60, "the second beat to take over")
    finally:
        for beat in beats:
            if beat.poll() is None:
                beat.kill()
                beat.wait(timeout=10)
        client.flushdb()
