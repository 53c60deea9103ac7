"""Celery workers as separate processes, on the session's broker."""
from __future__ import annotations

import os
import subprocess
import sys
import time

from redis.exceptions import ConnectionError as RedisConnectionError

from tests.support.environment import ROOT
from tests.support.waiting import wait_until


def spawn_worker(queues: str, concurrency: int = 2, name: str | None = None,
                 env: dict[str, str] | None = None, pool: str = "prefork",
                 include: str | None = None) -> subprocess.Popen[bytes]:
    """Start `celery -A tasks worker` as a separate process and wait until it answers a ping
    (`include`: more task modules for it to load, e.g. tests' own tasks)."""
    from core.celery_app import celery_app

    name = name or f"test-{queues.replace(',', '-')}-{time.monotonic_ns()}@localhost"
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--queues", queues,
         "--concurrency", str(concurrency), "--pool", pool, "--hostname", name,
         "--loglevel", "WARNING", "--without-mingle", "--without-gossip",
         *(["--include", include] if include else [])],
        cwd=ROOT, env={**os.environ, **(env or {})})
    wait_for_ping(process, celery_app, name)
    return process


def wait_for_ping(process: subprocess.Popen[bytes], app: object, name: str,
                  timeout_s: float = 60) -> None:
    """Wait until the worker `name` answers a ping through `app`; kill it if it never does."""

    def answers() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"worker exited with {process.returncode}")
        try:
            return bool(app.control.ping(destination=[name], timeout=0.5))  # type: ignore[attr-defined]
        except (ConnectionError, OSError, RedisConnectionError):
            # a pooled broker connection the server closed (a test changing users' ACLs):
            # the next ping takes a new one
            return False

    try:
        wait_until(answers, timeout_s, f"worker {name} to answer a ping")
    except AssertionError:
        process.kill()
        raise


def stop_worker(process: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    """Stop a spawned worker: a warm shutdown, killed if it does not end in time."""
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()


def kill_pool(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL every pool process of a worker (those running tasks); its main process lives."""
    import psutil

    children = psutil.Process(process.pid).children()
    assert children, "the worker has pool processes"
    for child in children:
        child.kill()
