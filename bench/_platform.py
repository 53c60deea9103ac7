"""The platform as production runs it, for the benchmarks that break it (bench/chaos.py).

- Broker: the embedded Redis as production configures it (AOF, appendfsync everysec) on a
  fixed port and data dir, so a kill -9 and a restart find the same data.
- Service / Supervisor: the Procfile's lines, each run as honcho would (`sh -c`, from the
  repository root), each in its own process group, and restarted when it dies as its
  systemd unit does (Restart=always after RestartSec): honcho would stop everything instead.
- EdgeAgent: `python -m edge_agent run --stdin`, a Pi whose scanner is stdin.

Not a benchmark itself: `make bench` runs it as a script, which does nothing.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from standins import embedded_redis  # noqa: E402

PROCFILE = ROOT / "platform" / "Procfile"
VENV_BIN = ROOT / ".venv" / "bin"
# RestartSec of the systemd units in platform/systemd/ (web and workers 2 s, the rest 5 s).
RESTART_S = {"web": 2.0, "worker": 2.0, "worker_ruptura": 2.0, "worker_slow": 2.0,
             "beat": 5.0, "health_worker": 5.0}


def procfile_commands(path: Path = PROCFILE) -> dict[str, str]:
    """Return the Procfile's processes: name -> command line (comments and blanks skipped)."""
    commands = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and ":" in line:
            name, command = line.split(":", 1)
            commands[name.strip()] = command.strip()
    return commands


class Broker:
    """The embedded redis-server with production's persistence (AOF, appendfsync everysec).

    kill9() then start() is the process crashing: what Redis wrote to its AOF is in the
    kernel's page cache and survives. power_loss() is the host crashing: the AOF loses what
    was written since the last fsync (up to about a second with everysec)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.aof_path = data_dir / "appendonly.aof"
        self.port = embedded_redis.free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self._aof_sizes: deque[tuple[float, int]] = deque(maxlen=100)  # (monotonic, bytes)
        self._sampler: threading.Thread | None = None

    def start(self) -> None:
        self.process = embedded_redis.start(self.port, self.data_dir, appendonly=True)
        if self._sampler is None:
            self._sampler = threading.Thread(target=self._sample_aof, name="aof-sizes", daemon=True)
            self._sampler.start()

    def _sample_aof(self) -> None:
        while True:
            try:
                self._aof_sizes.append((time.monotonic(), self.aof_path.stat().st_size))
            except OSError:
                pass
            time.sleep(0.1)

    def power_loss(self, unsynced_s: float = 1.0) -> int:
        """kill -9, then cut the AOF back to its size unsynced_s ago (what everysec had not
        fsync'd yet); return the bytes cut (0 if the AOF was rewritten meanwhile). A copy of
        the whole file is kept beside it, in case Redis refuses the cut file."""
        self.kill9()
        before = [size for at, size in list(self._aof_sizes) if at <= time.monotonic() - unsynced_s]
        size = self.aof_path.stat().st_size
        if not before or before[-1] > size:
            return 0
        shutil.copyfile(self.aof_path, self.aof_path.with_suffix(".uncut"))
        os.truncate(self.aof_path, before[-1])
        return size - before[-1]

    def start_after_power_loss(self) -> None:
        """Start on the cut AOF (Redis drops a torn last command); on the uncut one if it refuses."""
        try:
            self.start()
        except (RuntimeError, TimeoutError):
            shutil.copyfile(self.aof_path.with_suffix(".uncut"), self.aof_path)
            self.start()

    def kill9(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()  # redis-server writes its AOF out on SIGTERM
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None


class Service:
    """One Procfile process in its own process group (as a systemd unit has its own cgroup)."""

    def __init__(self, name: str, command: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.restart_s = RESTART_S.get(name, 2.0)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            # `exec`: the shell becomes the command, so the pid is the service's main process.
            self.process = subprocess.Popen(["/bin/sh", "-c", f"exec {self.command}"], cwd=ROOT,
                                            env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def exited(self) -> int | None:
        """Return the main process's exit code once it has exited, else None."""
        return self.process.poll() if self.process is not None else None

    def children(self) -> list[int]:
        """Return the pids of the main process's children (Celery's pool, gunicorn's workers)."""
        import psutil

        if self.pid is None:
            return []
        try:
            return [child.pid for child in psutil.Process(self.pid).children()]
        except psutil.Error:
            return []

    def kill_group(self, signum: int = signal.SIGKILL) -> None:
        """Signal every process left in the group (what systemd does to a dead unit's cgroup)."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM the group, then SIGKILL what is left after timeout_s."""
        if self.process is None:
            return
        self.kill_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pass
        self.kill_group(signal.SIGKILL)
        self.process.wait()


class Supervisor:
    """Starts the services and restarts any that dies, after its RestartSec, until stop().

    Exits it was told about (`expect_exit`) count as restarts; any other exit also counts as
    a crash, the service's own failure."""

    def __init__(self, services: list[Service], log: Callable[[str], None]) -> None:
        self.services = {service.name: service for service in services}
        self.log = log
        self.restarts: Counter[str] = Counter()
        self.crashes: Counter[str] = Counter()
        self._expected: set[int] = set()
        self._restart_at: dict[str, float] = {}
        self._lock = threading.Lock()
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)

    def start(self) -> None:
        for service in self.services.values():
            service.start()
        self._thread.start()

    def expect_exit(self, pid: int) -> None:
        """The next exit of this pid is ours (a fault), not the service's own failure."""
        with self._lock:
            self._expected.add(pid)

    def all_running(self) -> bool:
        with self._lock:
            return not self._restart_at and all(s.exited() is None for s in self.services.values())

    def _watch(self) -> None:
        while not self._halt.wait(0.25):
            for service in self.services.values():
                with self._lock:
                    self._check(service)

    def _check(self, service: Service) -> None:
        due = self._restart_at.get(service.name)
        if due is not None:
            if time.monotonic() >= due:
                service.start()
                del self._restart_at[service.name]
                self.restarts[service.name] += 1
            return
        code = service.exited()
        if code is None:
            return
        service.kill_group()  # the pool children of a killed Celery main process
        if service.pid not in self._expected:
            self.crashes[service.name] += 1
            self.log(f"{service.name} exited by itself (code {code}); restarting in "
                     f"{service.restart_s:.0f} s, log {service.log_path}")
        self._expected.discard(service.pid or -1)
        self._restart_at[service.name] = time.monotonic() + service.restart_s

    def stop(self) -> None:
        self._halt.set()
        self._thread.join(timeout=5)
        for service in self.services.values():
            service.stop()


class EdgeAgent:
    """`python -m edge_agent run --stdin` with its own printers.json and spool: scans go in on
    stdin, the agent's answers (one JSON line per scan, after its spool commit) come out."""

    def __init__(self, workdir: Path, broker_url: str, store_key: str, device_id: str) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.device_id = device_id
        self.printers_json = workdir / "printers.json"
        self.printers_json.write_text(json.dumps({"store_key": store_key}))
        self.spool_dir = workdir / "spool"
        self.broker_url = broker_url
        self.log_path = workdir / "agent.log"
        # The agent's own defaults otherwise (reconnect backoff, health every 30 s).
        self.env = {**os.environ, "STOCKFLOW_AGENT_DEVICE_ID": device_id}
        self.process: subprocess.Popen[bytes] | None = None
        self._write_lock = threading.Lock()

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "edge_agent", "--printers-json", str(self.printers_json),
                "--spool-dir", str(self.spool_dir), "--broker-url", self.broker_url, *args]

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.command("run", "--stdin"), cwd=ROOT,
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=log, env=self.env)

    def scan(self, line: str) -> None:
        """Type one scan (the scanner's line) into the agent."""
        assert self.process is not None and self.process.stdin is not None
        with self._write_lock:
            self.process.stdin.write(line.encode() + b"\n")
            self.process.stdin.flush()

    def answers(self) -> Iterator[dict[str, Any]]:
        """Yield the agent's JSON answers until its stdout closes (lines that are not JSON skipped)."""
        assert self.process is not None and self.process.stdout is not None
        for raw in self.process.stdout:
            try:
                answer = json.loads(raw)
            except ValueError:
                continue
            if isinstance(answer, dict):
                yield answer

    def stop(self, timeout_s: float = 20.0) -> int | None:
        """SIGTERM (the agent keeps what is spooled), SIGKILL after timeout_s; return the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode
