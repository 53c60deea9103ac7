"""Stockflow deployed across the harness's hosts, as docs/deploying-across-stores.md draws it.

- server: the Redis broker (Redis 7, AOF, appendfsync everysec, an aclfile) on its LAN
  address, and Beat;
- the database: this run's MariaDB database through a TCP proxy on the root namespace's LAN
  address (MariaDB listens on the root's 127.0.0.1, which no namespace can reach);
- w1, w2: one `celery -A tasks worker` (prefork, 2 processes) each, on the `baixa` queue;
- pi1, pi2: the real edge agent, `python -m edge_agent run --stdin`, one per store, each
  issued as `flask devices add` does: its own Redis ACL user and signing secret; the workers
  require the device registry, so every scan is checked as in production.

Every process runs in its host with `ip netns exec` and knows the others by their LAN address
only. The test process watches from the root namespace (its own LAN address): it reads the
database directly and the broker over the LAN.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from core import devices
from core.device_brokers import RedisAcl
from standins import embedded_redis
from tests.baixa.support import Agent, seed_products, sender, stop_process
from tests.baixa.tcp_proxy import TcpProxy
from tests.multihost.netns import Host, Network
from tests.support.brokers import REDIS_SERVER
from tests.support.environment import ROOT
from tests.support.waiting import wait_until
from tests.support.workers import wait_for_ping

BROKER_PORT = 6379
WORKER_HOSTS = ("w1", "w2")
PROCESSES_PER_WORKER = 2
PIS = (("pi1", "LOJA-001"), ("pi2", "LOJA-002"))
# A worker that exits is started again this long after (stockflow-worker@.service's RestartSec).
RESTART_S = 2


class PiAgent(Agent):
    """The edge agent of tests/baixa/support.py, run inside a Pi's host."""

    def __init__(self, host: Host, workdir: Path, broker_url: str, store_key: str,
                 env: dict[str, str]) -> None:
        super().__init__(workdir, broker_url, store_key=store_key, env=env)
        self.host = host
        self.store_key = store_key
        self.device_id = env["STOCKFLOW_AGENT_DEVICE_ID"]

    def command(self, *args: str) -> list[str]:
        return self.host.command(super().command(*args))


class Burst:
    """Scans fed to a Pi's stdin from a thread (at `rate_per_s`, or as fast as it takes
    them); keeps the agent's answer to each."""

    def __init__(self, pi: PiAgent, product_ids: Sequence[int], rate_per_s: float | None = None) -> None:
        self.pi = pi
        self.product_ids = list(product_ids)
        self.rate_per_s = rate_per_s
        self.answers: list[dict[str, Any]] = []
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._feed, name=f"burst-{pi.host.name}", daemon=True)
        self._thread.start()

    def _feed(self) -> None:
        started = time.monotonic()
        try:
            for n, product_id in enumerate(self.product_ids):
                if self.rate_per_s:
                    time.sleep(max(0.0, started + n / self.rate_per_s - time.monotonic()))
                self.answers.append(self.pi.scan(str(product_id).encode()))
        except BaseException as exc:  # noqa: BLE001 - re-raised by join()
            self.error = exc

    def join(self, timeout_s: float = 120) -> list[str]:
        """Wait for the last answer; return the accepted scans' ids, in scan order."""
        self._thread.join(timeout_s)
        if self.error is not None:
            raise self.error
        assert not self._thread.is_alive(), f"{self.pi.host.name} still taking scans"
        assert all(answer["accepted"] for answer in self.answers), self.answers
        return [answer["scan_id"] for answer in self.answers]


class Deployment:
    """The hosts and their processes (see the module docstring); close() stops everything."""

    def __init__(self, network: Network, workdir: Path, database_url: str,
                 visibility_timeout_s: int) -> None:
        self.network = network
        self.workdir = workdir
        self.visibility_timeout_s = visibility_timeout_s
        self.server = network.add_host("srv")
        self.worker_hosts = [network.add_host(name) for name in WORKER_HOSTS]
        self.pi_hosts = [network.add_host(name) for name, _ in PIS]
        self.broker_url = f"redis://{self.server.address}:{BROKER_PORT}/0"
        self.sender = sender(self.broker_url)
        url = make_url(database_url)
        self.proxy = TcpProxy(url.host or "127.0.0.1", url.port or 3306,
                              listen_host=network.root_address)
        self.database_url = url.set(host=network.root_address, port=self.proxy.port) \
                               .render_as_string(hide_password=False)
        self.broker: subprocess.Popen[bytes] | None = None
        self.beat: subprocess.Popen[bytes] | None = None
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.down: set[str] = set(WORKER_HOSTS)  # no worker running there, none restarted
        self.worker_restarts = 0
        self._lock = threading.Lock()
        self._halt = threading.Event()
        threading.Thread(target=self._supervise, name="systemd", daemon=True).start()
        self.pis: list[PiAgent] = []
        self.runs = 0

    # --- the server ---------------------------------------------------------------------
    def start_broker(self) -> None:
        """Start redis-server in the server host, on its LAN address, on the same data dir
        (and aclfile: the devices' users survive a restart)."""
        data_dir = self.workdir / "srv" / "redis"
        args = embedded_redis.server_args(BROKER_PORT, data_dir, appendonly=True)
        args[0] = REDIS_SERVER  # Redis 7: the devices' ACL rules use selectors
        args[args.index("--bind") + 1] = self.server.address
        # Redis 7 answers only loopback clients while the default user has no password.
        args[args.index("--protected-mode") + 1] = "no"
        (data_dir / "users.acl").touch()
        args += ["--aclfile", str(data_dir / "users.acl")]
        self.broker = self.server.popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until(lambda: self._broker_answers(), 30, "the broker to listen on the server")

    def _broker_answers(self) -> bool:
        assert self.broker is not None
        if self.broker.poll() is not None:
            raise RuntimeError(f"redis-server exited: {self.broker.stderr.read().decode()}"
                               if self.broker.stderr else "redis-server exited")
        try:
            return bool(self.redis().ping())
        except Exception:  # noqa: BLE001 - still loading its append-only file, or not up yet
            return False

    def kill_broker(self) -> None:
        """kill -9 the redis-server (what it had not appended to its file yet is lost)."""
        assert self.broker is not None
        self.broker.send_signal(signal.SIGKILL)
        self.broker.wait()
        self.broker = None

    def redis(self) -> Any:
        import redis

        return redis.Redis.from_url(self.broker_url, socket_timeout=5, socket_connect_timeout=2)

    def in_flight(self) -> set[bytes]:
        """Return the delivery tags of the baixa tasks delivered and not yet acked."""
        unacked = self.redis().hgetall("unacked")
        return {tag for tag, raw in unacked.items() if "baixa" in json.loads(raw)[1:]}

    def host_env(self, host: Host) -> dict[str, str]:
        """The environment of the server's and workers' processes."""
        env = {**os.environ, "STOCKFLOW_REDIS_URL": self.broker_url,
               "STOCKFLOW_DATABASE_URL": self.database_url,
               "STOCKFLOW_VISIBILITY_TIMEOUT_S": str(self.visibility_timeout_s),
               "STOCKFLOW_VAR_DIR": str(self.workdir / host.name),
               "STOCKFLOW_DEVICE_REGISTRY_REQUIRED": "true"}
        env.pop("STOCKFLOW_BROKER_URL", None)
        return env

    def start_beat(self) -> None:
        self.beat = self.server.popen(
            [sys.executable, "-m", "celery", "-A", "tasks", "beat", "--scheduler",
             "redbeat.RedBeatScheduler", "--loglevel", "WARNING"],
            cwd=ROOT, env=self.host_env(self.server))

    # --- the worker hosts ---------------------------------------------------------------
    def start_workers(self, hosts: Sequence[Host]) -> None:
        """Start each host's worker, then wait until every one answers a ping."""
        with self._lock:
            for host in hosts:
                self.down.discard(host.name)
                self._spawn_worker(host)
        for host in hosts:
            wait_for_ping(self.workers[host.name], self.sender, self.worker_name(host),
                          timeout_s=90)

    def worker_name(self, host: Host) -> str:
        return f"{host.name}@{self.network.tag}"

    def _spawn_worker(self, host: Host) -> None:
        self.workers[host.name] = host.popen(
            [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--queues", "baixa",
             "--concurrency", str(PROCESSES_PER_WORKER), "--pool", "prefork",
             "--hostname", self.worker_name(host), "--loglevel", "WARNING",
             "--without-mingle", "--without-gossip"],
            cwd=ROOT, env=self.host_env(host))

    def _supervise(self) -> None:
        """Restart a worker that exited on its own, RESTART_S later, as its systemd unit does
        (Restart=always); a host lost whole (or not started yet) stays down."""
        while not self._halt.wait(0.2):
            for host in self.worker_hosts:
                with self._lock:
                    process = self.workers.get(host.name)
                    if host.name in self.down or process is None or process.poll() is None:
                        continue
                    self.worker_restarts += 1
                    time.sleep(RESTART_S)
                    self._spawn_worker(host)

    def lose_host(self, host: Host) -> int:
        """Kill every process of a worker host at once; return how many there were."""
        with self._lock:
            self.down.add(host.name)
            killed = host.kill_everything()
            process = self.workers.pop(host.name, None)
        if process is not None:
            process.wait(timeout=10)
        return killed

    def ensure_up(self) -> None:
        """Bring back whatever a previous test stopped: the broker, Beat, the workers."""
        if self.broker is None or self.broker.poll() is not None:
            self.start_broker()
        if self.beat is None or self.beat.poll() is not None:
            self.start_beat()
        self.start_workers([host for host in self.worker_hosts if host.name in self.down])

    # --- the Pis ------------------------------------------------------------------------
    def issue(self, device_id: str, store_key: str) -> dict[str, str]:
        """Issue a device as `flask devices add` does (its ACL user on the broker, its registry
        entry and signing secret); return the env file's variables."""
        issued = devices.add_device(device_id, [store_key], "multihost", "redis",
                                    self.broker_url, admin=RedisAcl(self.broker_url))
        return dict(re.findall(r"^(STOCKFLOW_AGENT_[A-Z_]+)=(.*)$", issued.env_file, re.MULTILINE))

    def start_pis(self, env: dict[str, str] | None = None) -> list[PiAgent]:
        """Start one agent per Pi host with a fresh spool, each issued as a device of this
        test's own (its own broker user and secret); `env` goes to every agent."""
        self.runs += 1
        self.pis = []
        for host, (_, store_key) in zip(self.pi_hosts, PIS):
            device_id = f"{host.name}-run{self.runs}"
            issued = self.issue(device_id, store_key)
            self.pis.append(self.start_agent(host, device_id, store_key, {**issued, **(env or {})}))
        return self.pis

    def start_agent(self, host: Host, name: str, store_key: str,
                    env: dict[str, str]) -> PiAgent:
        """Start an edge agent on a host with this env (its device id, broker URL, secret) and
        a spool folder `name` of its own."""
        agent = PiAgent(host, self.workdir / name, env["STOCKFLOW_AGENT_BROKER_URL"], store_key, env)
        return agent.start()

    def seed(self, count: int) -> dict[str, list[int]]:
        """Put `count` products on each Pi's store shelf (ids of this run); return them per Pi."""
        base = 9_000_000 + self.runs * 100_000
        return {pi.device_id: seed_products(pi.store_key, range(base + n * 10_000,
                                                                 base + n * 10_000 + count))
                for n, pi in enumerate(self.pis)}

    def stop_pis(self) -> None:
        for pi in self.pis:
            if pi.process is not None and pi.process.poll() is None:
                stop_process(pi.process)

    def close(self) -> None:
        """Stop every process (the network's close() kills what is left) and the proxy."""
        self._halt.set()
        self.stop_pis()
        for process in (*self.workers.values(), self.beat):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGKILL)
        if self.broker is not None and self.broker.poll() is None:
            self.broker.terminate()
        self.proxy.close()
