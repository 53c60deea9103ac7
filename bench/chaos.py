"""Chaos run: the whole platform under mixed load while worker processes are killed, the broker
is restarted and the database is cut; then a ledger of what became of every input.

Platform: the Procfile's web, worker, worker_ruptura, worker_slow, beat and health_worker lines,
each restarted like its systemd unit when it dies (bench/_platform.py); the embedded Redis with
production's AOF (appendfsync everysec); a MariaDB database of its own (stockflow_chaos_<pid>)
reached through a TCP proxy the run cuts (tests/baixa/tcp_proxy.py; the shared MariaDB server
is never touched); the Plusoft stand-in (in this process, so the ledger reads what it got); the
offline OCR engine. Skipped: flower (an observer), health_bridge (no RabbitMQ here: it idles).

Load (moderate: the machine has 2 cores): two edge agents (`python -m edge_agent run --stdin`)
fed scans of products on their stores' shelves; simulated Pis sending health reports as the
agent does, with an occasional poison report; a receipt upload every few seconds; a ruptura
analysis every half minute; a sync (full, then incremental ones) while late rows appear in the
Consinco source.

Faults, one at a time, for --duration seconds: kill -9 of a random worker process (a Celery
main process or pool child, the health batch worker, a gunicorn worker), kill -9 of Redis and a
restart on the same port and data dir (with --power-loss some of them also lose the AOF's last
second, as a host crash would), a database outage (the proxy drops every connection and refuses
new ones for a few seconds). Then a settle phase without faults or new input (bounded by
--settle) while agents, queues and Beat drain, and one last incremental sync; then the ledger.

Ledger, for inputs the platform accepted (a scan the agent spooled, a report the broker took, an
upload answered 200/202, an analysis answered 202): each is done (outcome recorded, report
stored, receipt read, result published), in the dead letters (a person can replay it), still
held (in an agent's spool or in the broker, e.g. unacked after its worker was killed: Redis
gives it back after the visibility timeout), or lost. Sync: every source row, mapped as the
sync maps it, must be at the stand-in with that content.

Last line: JSON with scans_accepted, scans_written_off, scans_twice, receipts_lost, reports_lost,
sync_rows_missing, faults_injected, plus details (docs/benchmarks.md explains each).
Run: .venv/bin/python bench/chaos.py [--duration 180] [--settle 240] [--seed N] [--power-loss]
[--keep]   (STOCKFLOW_BENCH_MYSQL_URL overrides the database; SQLite when MariaDB does not
answer, without database cuts, and the output says so).
"""
from __future__ import annotations

import argparse
import base64
import itertools
import json
import math
import os
import random
import secrets
import shutil
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._platform import (  # noqa: E402
    VENV_BIN,
    Broker,
    EdgeAgent,
    Service,
    Supervisor,
    procfile_commands,
)
from standins import embedded_redis  # noqa: E402

SERVICES = ("web", "worker", "worker_ruptura", "worker_slow", "beat", "health_worker")
CELERY_SERVICES = ("worker", "worker_ruptura", "worker_slow")
STORES = (("LOJA-001", "pi-chaos-1"), ("LOJA-002", "pi-chaos-2"))
PI_PREFIX = "chaos-pi-"
POISON_DEVICE = "chaos-poison"
# A reported_at that parses but overflows when made UTC (issue 12, finding 1).
POISON_REPORTED_AT = "0001-01-01T00:00:00+14:00"
AREAS = ("baixa", "health", "comprovantes", "ruptura", "sync")

_T0 = time.monotonic()
_T0_WALL = time.time()


def log(message: str) -> None:
    print(f"[chaos {time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


# --- load sources --------------------------------------------------------------------------

class Load(threading.Thread):
    """A load source: tick() every interval_s until stop(). A turn that failed (tick() returned
    False or raised: counted, never fatal) is tried again after RETRY_S, as a person would."""

    RETRY_S = 3.0

    def __init__(self, name: str, interval_s: float) -> None:
        super().__init__(name=name, daemon=True)
        self.interval_s = interval_s
        self.halt = threading.Event()
        self.errors: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()  # answers that did not take the input

    def tick(self) -> bool | None:
        raise NotImplementedError

    def run(self) -> None:
        next_at = time.monotonic()
        while not self.halt.is_set():
            try:
                done = self.tick() is not False
            except Exception as exc:  # noqa: BLE001 - a fault is the point of the run
                self.errors[type(exc).__name__] += 1
                done = False
            step = self.interval_s if done else min(self.interval_s, self.RETRY_S)
            next_at = max(next_at + step, time.monotonic() - 1.0)
            self.halt.wait(max(0.0, next_at - time.monotonic()))

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=90)


class WebClient:
    """The web API as a script calls it: a bearer token, JSON answers; any call may fail."""

    def __init__(self, base_url: str, token: str) -> None:
        import requests

        self.base_url = base_url
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})

    def post(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        """POST and return (status, JSON body or None)."""
        response = self.http.post(self.base_url + path, timeout=60, **kwargs)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, None


class ScanLoad(Load):
    """A clerk scanning into one edge agent at rate_per_s: mostly products on the shelf, a few
    scanned a second time (already removed), a few unknown codes (not found)."""

    RESCAN_SHARE, UNKNOWN_SHARE = 0.03, 0.01

    def __init__(self, agent: EdgeAgent, products: list[int], first_unknown: int,
                 rate_per_s: float, rng: random.Random) -> None:
        super().__init__(f"scans-{agent.device_id}", 1.0 / rate_per_s)
        self.agent = agent
        self.fresh = list(products)
        self.scanned: list[int] = []
        self.unknown = itertools.count(first_unknown)
        self.rng = rng
        self.accepted: dict[str, str] = {}  # scan_id -> product_id, from the agent's answers
        self.rejected = 0
        self.reader = threading.Thread(target=self._read_answers, daemon=True)

    def start(self) -> None:
        self.agent.start()
        self.reader.start()
        super().start()

    def tick(self) -> None:
        roll = self.rng.random()
        if roll < self.UNKNOWN_SHARE:
            product = next(self.unknown)
        elif (roll < self.UNKNOWN_SHARE + self.RESCAN_SHARE and self.scanned) or not self.fresh:
            product = self.rng.choice(self.scanned)
        else:
            product = self.fresh.pop()
            self.scanned.append(product)
        self.agent.scan(str(product))

    def _read_answers(self) -> None:
        for answer in self.agent.answers():
            if "accepted" not in answer:
                continue
            if answer["accepted"] and answer.get("scan_id"):
                self.accepted[str(answer["scan_id"])] = str(answer.get("product_id"))
            else:
                self.rejected += 1


class HealthLoad(Load):
    """Simulated Pis, each sending a `health.report` every interval_s the way the agent does
    (by name to queue health, no retry inside kombu; a report the broker refused is replaced
    by the next one), and every poison_every_s a poison report."""

    def __init__(self, broker_url: str, pis: int, interval_s: float, poison_every_s: float,
                 spool_dir: Path) -> None:
        from edge_agent.config import AgentConfig
        from edge_agent.publisher import make_celery

        super().__init__("health", interval_s / pis)
        self.app = make_celery(AgentConfig(store_key="LOJA-CHAOS", broker_url=broker_url,
                                           device_id="chaos-sim", spool_dir=spool_dir))
        self.connection: Any = None
        self.pis = [f"{PI_PREFIX}{n:02d}" for n in range(pis)]
        self.turn = 0
        self.last_at: dict[str, int] = {}
        self.accepted: list[tuple[str, int]] = []  # (device, reported_at epoch seconds)
        self.refused = 0
        self.poison_every_s = poison_every_s
        self.next_poison = time.monotonic() + poison_every_s
        self.poison_sent = 0

    def tick(self) -> None:
        device = self.pis[self.turn % len(self.pis)]
        self.turn += 1
        # Whole seconds (DATETIME keeps no fraction) and never twice the same for one device,
        # or the second report would be taken for a redelivery of the first.
        at = max(int(time.time()), self.last_at.get(device, 0) + 1)
        self.last_at[device] = at
        if self.send(self.report(device, at)):
            self.accepted.append((device, at))
        if self.poison_every_s and time.monotonic() >= self.next_poison:
            self.next_poison += self.poison_every_s
            if self.send({"id": POISON_DEVICE, "reported_at": POISON_REPORTED_AT}):
                self.poison_sent += 1

    def report(self, device: str, at: int) -> dict[str, Any]:
        """A report with seed 002's fields and the agent's, as bench/health.py sends them."""
        n = self.turn
        return {"id": device, "wifi_status": "connected", "mem_usage": f"{300 + n % 50} MB",
                "cpu_temp": f"{45 + n % 20}°C", "cpu_percent": float(n % 100),
                "gpio_used_count": 3, "spi_buses": ["spi0.0"], "i2c_buses": ["i2c-1"],
                "usb_devices_count": 2, "net_bytes_sent": 1000 * n, "net_bytes_recv": 2000 * n,
                "net_ifaces": [{"name": "wlan0", "ip": "10.0.0.2"}], "store_key": "LOJA-CHAOS",
                "agent_version": "1.0.0", "uptime_s": 3600 + n, "spool_depth": 0,
                "wifi_signal_dbm": -60, "mem_percent": 35.0,
                "reported_at": datetime.fromtimestamp(at, timezone.utc).isoformat()}

    def send(self, report: dict[str, Any]) -> bool:
        """Send one report; return whether the broker took it."""
        try:
            if self.connection is None:
                connection = self.app.connection_for_write()
                connection.ensure_connection(max_retries=0, timeout=3)
                self.connection = connection
            self.app.send_task("health.report", args=[report], queue="health",
                               connection=self.connection, retry=False, ignore_result=True)
            return True
        except Exception:  # noqa: BLE001 - broker away: this report is dropped, as on a Pi
            self.refused += 1
            if self.connection is not None:
                try:
                    self.connection.collect()
                except Exception:  # noqa: BLE001 - thrown away anyway
                    pass
            self.connection = None
            return False


class UploadLoad(Load):
    """An office clerk uploading a new PIX receipt every interval_s; one the server did not
    take is uploaded again at the next turn, as a person would."""

    def __init__(self, web: WebClient, interval_s: float) -> None:
        super().__init__("uploads", interval_s)
        self.web = web
        self.made = 0
        self.pending: tuple[str, bytes] | None = None
        self.accepted: dict[int, str] = {}  # comprovante_id -> how it was taken

    def tick(self) -> bool:
        if self.pending is None:
            self.pending = self._new_receipt()
        name, data = self.pending
        status, body = self.web.post("/api/comprovantes",
                                     files={"arquivo": (name, data, "image/png")})
        if status in (200, 202) and isinstance(body, dict) and body.get("comprovante_id"):
            how = "duplicado" if body.get("duplicado") else str(body.get("modo"))
            self.accepted[int(body["comprovante_id"])] = how
            self.pending = None
            return True
        self.refusals[str(status)] += 1
        return False

    def _new_receipt(self) -> tuple[str, bytes]:
        from tests.comprovantes.receipts import LAYOUTS, make_receipt, render_png

        layout = LAYOUTS[self.made % len(LAYOUTS)]
        receipt = make_receipt(layout, 20_000 + self.made)
        self.made += 1
        return f"chaos-{self.made:04d}-{layout}.png", render_png(receipt)


class RupturaLoad(Load):
    """A buyer analysing a sample of the carteira's orders every interval_s."""

    def __init__(self, web: WebClient, nums: list[str], orders: int, interval_s: float,
                 rng: random.Random) -> None:
        super().__init__("ruptura", interval_s)
        self.web = web
        self.nums = nums
        self.orders = min(orders, len(nums))
        self.rng = rng
        self.analyses: list[tuple[str, list[str]]] = []  # (analise_id, its orders)

    def tick(self) -> bool:
        sample = self.rng.sample(self.nums, self.orders)
        status, body = self.web.post("/api/carteira/ruptura/analises", json={"pedidos": sample})
        if status == 202 and isinstance(body, dict):
            self.analyses.append((body["analise_id"], sample))
            return True
        self.refusals[str(status)] += 1
        return False


class SyncLoad(Load):
    """The sync as an operator runs it: a full run, then an incremental one interval_s after
    each run that finished; after a failed run a new one is asked for 5 s later (it resumes at
    its checkpoint). After request_final(), one more run started from then on must finish."""

    POLL_S = 2.0

    def __init__(self, web: WebClient, interval_s: float) -> None:
        super().__init__("sync", self.POLL_S)
        self.web = web
        self.pause_s = interval_s
        self.mode = "full"
        self.job_id: str | None = None
        self.next_at = 0.0
        self.ended: dict[str, str] = {}  # job id -> finished / failed
        # Triggers answered with a job that had already ended (its locks still held).
        self.answered_with_ended_job = 0
        self.final_wanted = False
        self.final_job: str | None = None
        self.final_done = False

    def request_final(self) -> None:
        self.final_wanted, self.next_at = True, 0.0

    def tick(self) -> None:
        if self.job_id is None:
            if time.monotonic() >= self.next_at and not self.final_done:
                self._trigger()
            return
        from core import jobs

        status = (jobs.get_status(self.job_id) or {}).get("status")
        if status not in ("finished", "failed"):
            return
        self.ended[self.job_id] = status
        if self.job_id == self.final_job:
            self.final_done = status == "finished"
            self.final_wanted = not self.final_done
        self.job_id, self.mode = None, "incremental"
        pause = self.pause_s if status == "finished" else 5.0
        self.next_at = time.monotonic() + (0.0 if self.final_wanted else pause)

    def _trigger(self) -> None:
        status, body = self.web.post("/api/plusoft/sincronizar", json={"modo": self.mode})
        if status not in (200, 202) or not isinstance(body, dict) or not body.get("job_id"):
            self.refusals[str(status)] += 1
            return
        self.job_id = body["job_id"]
        if self.job_id in self.ended:
            self.answered_with_ended_job += 1
        # A run already going (200) began before the final request: follow it, then start one.
        if self.final_wanted and status == 202:
            self.final_job, self.final_wanted = self.job_id, False

    def runs(self) -> dict[str, int]:
        return dict(Counter(self.ended.values()))


class LateSourceRows(Load):
    """Rows appearing in the Consinco source while syncs run (issue 12, finding 3): sales dated
    yesterday, a day runs already closed; products whose DTAALTERACAO is older than the newest
    one (a transaction that committed late); products changed just now."""

    def __init__(self, interval_s: float, timezone_name: str) -> None:
        super().__init__("late-rows", interval_s)
        self.zone = ZoneInfo(timezone_name)
        self.serial = itertools.count(1)
        self.rng = random.Random(12)
        self.inserted: Counter[str] = Counter()

    def tick(self) -> None:
        from sqlalchemy import func, insert, select

        from core.db import session_scope
        from core.sync.consinco import demo
        from core.sync.consinco.models import ConsincoProduto, ConsincoVenda

        n = next(self.serial)
        local_now = datetime.now(self.zone).replace(tzinfo=None, microsecond=0)
        with session_scope() as session:
            newest = session.scalar(select(func.max(ConsincoProduto.DTAALTERACAO))) or local_now
            sales = [{**row, "IDCUPOM": 9_000_000 + 10 * n + i} for i, row in enumerate(
                demo.vendas(self.rng, local_now.date(), count=2, days=1, lines_per_cupom=1))]
            late, fresh = demo.produtos(self.rng, local_now, 2)
            late.update(IDPRODUTO=900_000 + 2 * n, DTAALTERACAO=newest - timedelta(minutes=1))
            fresh.update(IDPRODUTO=900_001 + 2 * n,
                         DTAALTERACAO=max(newest, local_now) + timedelta(seconds=1))
            session.execute(insert(ConsincoVenda), sales)
            session.execute(insert(ConsincoProduto), [late, fresh])
        self.inserted.update({"vendas_yesterday": len(sales), "produtos_late_commit": 1,
                              "produtos_changed_now": 1})


# --- faults --------------------------------------------------------------------------------

class WorkerKill:
    """kill -9 of a random worker process: a Celery main process or pool child, the health
    batch worker, or a gunicorn worker. The supervisor restarts a dead main process."""

    kind = "worker_kill"

    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor

    def candidates(self) -> list[tuple[str, int, str]]:
        """Return (service, pid, role) of every process that may be killed now."""
        services = self.supervisor.services
        found = []
        for name in CELERY_SERVICES:
            if services[name].exited() is None and services[name].pid:
                found.append((name, services[name].pid, "main"))
                found += [(name, pid, "pool child") for pid in services[name].children()]
        health = services["health_worker"]
        if health.exited() is None and health.pid:
            found.append(("health_worker", health.pid, "main"))
        found += [("web", pid, "gunicorn worker") for pid in services["web"].children()]
        return found

    def inject(self, rng: random.Random) -> str:
        name, pid, role = rng.choice(self.candidates())
        if role == "main":
            self.supervisor.expect_exit(pid)
        os.kill(pid, signal.SIGKILL)
        return f"{name} {role} pid {pid}"


class BrokerRestart:
    """kill -9 of Redis, then a restart on the same port and data dir after a moment."""

    kind = "broker_restart"

    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    def inject(self, rng: random.Random) -> str:
        down_s = rng.uniform(0.5, 3.0)
        self.broker.kill9()
        try:
            time.sleep(down_s)
        finally:
            self.broker.start()
        return f"down {down_s:.1f} s"


class BrokerPowerLoss:
    """The Redis host loses power: kill -9, the AOF loses its last second (not yet fsync'd
    with everysec), a restart on the same data dir a moment later (issue 12, finding 4)."""

    kind = "broker_power_loss"

    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    def inject(self, rng: random.Random) -> str:
        down_s = rng.uniform(0.5, 3.0)
        cut = self.broker.power_loss(unsynced_s=1.0)
        try:
            time.sleep(down_s)
        finally:
            self.broker.start_after_power_loss()
        return f"last {cut} AOF bytes lost, down {down_s:.1f} s"


class DatabaseCut:
    """The database goes away: every connection dropped, new ones refused, for a few seconds."""

    kind = "database_cut"

    def __init__(self, proxy: Any) -> None:
        self.proxy = proxy

    def inject(self, rng: random.Random) -> str:
        hold_s = rng.uniform(3.0, 8.0)
        self.proxy.cut()
        try:
            time.sleep(hold_s)
        finally:
            self.proxy.restore()
        return f"cut {hold_s:.1f} s"


class FaultInjector(threading.Thread):
    """One fault at a time, a random gap apart, until `until` or max_faults (bounded both ways)."""

    def __init__(self, faults: list[tuple[Any, float]], until: float, max_faults: int,
                 gap_s: tuple[float, float], rng: random.Random) -> None:
        super().__init__(name="faults", daemon=True)
        self.faults = faults
        self.until = until
        self.max_faults = max_faults
        self.gap_s = gap_s
        self.rng = rng
        self.halt = threading.Event()
        self.injected: list[dict[str, Any]] = []

    def run(self) -> None:
        while len(self.injected) < self.max_faults and time.monotonic() < self.until:
            if self.halt.wait(self.rng.uniform(*self.gap_s)) or time.monotonic() >= self.until:
                return
            fault = self.rng.choices([f for f, _ in self.faults], [w for _, w in self.faults])[0]
            at = time.monotonic() - _T0
            try:
                detail = fault.inject(self.rng)
            except Exception as exc:  # noqa: BLE001 - a fault that could not be injected
                log(f"fault {fault.kind} not injected: {type(exc).__name__}: {exc}")
                continue
            self.injected.append({"at_s": round(at, 1), "kind": fault.kind, "detail": detail})
            log(f"fault {len(self.injected)}: {fault.kind} ({detail})")

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=30)

    def counts(self) -> dict[str, int]:
        return dict(Counter(fault["kind"] for fault in self.injected))


# --- the ledger ----------------------------------------------------------------------------

def decode_task(raw: Any) -> dict[str, Any] | None:
    """Return a kombu Redis message as {task, id, args, kwargs, eta}, or None if it is not a task."""
    try:
        message = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
        headers, body = message["headers"], message["body"]
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args, kwargs, _embed = json.loads(body)
        return {"task": headers.get("task"), "id": headers.get("id"), "args": list(args),
                "kwargs": dict(kwargs), "eta": headers.get("eta")}
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def broker_contents(redis: Any) -> dict[str, list[dict[str, Any]]]:
    """Return the task messages the broker holds: {"queued": [...], "unacked": [...]}."""
    queued = []
    for key in redis.scan_iter(count=1000, _type="list"):
        queued += [task for raw in redis.lrange(key, 0, -1) if (task := decode_task(raw))]
    unacked = []
    for raw in redis.hvals("unacked"):
        try:
            task = decode_task(json.loads(raw)[0])
        except (ValueError, IndexError, TypeError):
            task = None
        if task:
            unacked.append(task)
    return {"queued": queued, "unacked": unacked}


def held(contents: dict[str, list[dict[str, Any]]], task: str) -> list[dict[str, Any]]:
    """The messages of one task the broker holds, queued or unacked."""
    return [m for m in contents["queued"] + contents["unacked"] if m["task"] == task]


def dead_letter_entries(redis: Any) -> list[dict[str, Any]]:
    """Return every open dead letter: the table's, and those parked in Redis ("parked": True)."""
    from sqlalchemy import select

    from core.dead_letters import PARKED_KEY
    from core.db import session_scope
    from core.models import DeadLetter

    with session_scope() as session:
        entries = [{"task_name": d.task_name, "args": d.args or [], "kwargs": d.kwargs or {},
                    "reference": d.reference, "parked": False}
                   for d in session.scalars(select(DeadLetter).where(DeadLetter.replayed_at.is_(None)))]
    for raw in redis.lrange(PARKED_KEY, 0, -1):
        try:
            entries.append({**json.loads(raw), "parked": True})
        except ValueError:
            continue
    return entries


def dead_letters_of(entries: list[dict[str, Any]], task: str) -> list[dict[str, Any]]:
    return [entry for entry in entries if entry.get("task_name") == task]


def spooled_scan_ids(agents: Iterable[EdgeAgent]) -> set[str]:
    """Return the scan ids still in the agents' spools (read-only, beside the running agent)."""
    found: set[str] = set()
    for agent in agents:
        path = agent.spool_dir / "spool.sqlite3"
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as conn:
                found |= {row[0] for row in conn.execute("SELECT scan_id FROM scans")}
        except sqlite3.Error as exc:
            log(f"spool of {agent.device_id} not readable: {exc}")
    return found


def scan_ledger(loads: list[ScanLoad], contents: dict[str, Any],
                dead: list[dict[str, Any]]) -> dict[str, Any]:
    """Scans: every accepted scan has one outcome, no product was written off twice."""
    from sqlalchemy import func, select

    from core.db import session_scope
    from core.models import BaixaLeitura, ProdutoRemovido

    accepted = {sid: pid for load in loads for sid, pid in list(load.accepted.items())}
    devices = [load.agent.device_id for load in loads]
    with session_scope() as session:
        rows = Counter(session.scalars(select(BaixaLeitura.scan_id)
                                       .where(BaixaLeitura.device_id.in_(devices))))
        outcomes = Counter(session.scalars(select(BaixaLeitura.outcome)
                                           .where(BaixaLeitura.device_id.in_(devices))))
        removed_twice = session.scalar(select(func.count()).select_from(
            select(ProdutoRemovido.id).where(ProdutoRemovido.store_key.in_([s for s, _ in STORES]))
            .group_by(ProdutoRemovido.id).having(func.count() > 1).subquery())) or 0
    written_off = {sid for sid in accepted if rows[sid]}
    dead_ids = {str(e.get("reference") or e["kwargs"].get("scan_id"))
                for e in dead_letters_of(dead, "baixa.registrar")} - written_off
    in_broker = ({str(m["kwargs"].get("scan_id") or m["id"])
                  for m in held(contents, "baixa.registrar")} & set(accepted)) - written_off
    in_spool = (spooled_scan_ids(load.agent for load in loads) & set(accepted)) - written_off
    lost = set(accepted) - written_off - dead_ids - in_broker - in_spool
    return {"scans_accepted": len(accepted), "scans_written_off": len(written_off),
            "scans_twice": sum(1 for sid in accepted if rows[sid] > 1) + int(removed_twice),
            "scans_dead_lettered": len(dead_ids & set(accepted)), "scans_in_broker": len(in_broker),
            "scans_in_spool": len(in_spool), "scans_lost": len(lost),
            "scans_rejected_by_agent": sum(load.rejected for load in loads),
            "scan_outcomes": dict(outcomes), "_lost_scans": sorted(lost)[:5]}


def report_key(report: Any) -> tuple[str, int] | None:
    """(device, reported_at epoch seconds) of a health report, or None when it has none."""
    try:
        at = datetime.fromisoformat(report["reported_at"])
        return str(report["id"]), int(at.timestamp())
    except (KeyError, TypeError, ValueError, OverflowError):
        return None


def report_ledger(load: HealthLoad, contents: dict[str, Any],
                  dead: list[dict[str, Any]]) -> dict[str, Any]:
    """Health: every report the broker took is stored (its history sample) or dead-lettered."""
    from sqlalchemy import select

    from core.db import session_scope
    from core.health.report import recent_rejections
    from core.models import DeviceHealthSample

    accepted = set(load.accepted)
    with session_scope() as session:
        stored = {(device, int(at.replace(tzinfo=at.tzinfo or timezone.utc).timestamp()))
                  for device, at in session.execute(
                      select(DeviceHealthSample.raspberry_id, DeviceHealthSample.reported_at)
                      .where(DeviceHealthSample.raspberry_id.like(f"{PI_PREFIX}%")))}
    health_dead = dead_letters_of(dead, "health.report")
    dead_keys = {report_key(e["args"][0] if e["args"] else e["kwargs"].get("report"))
                 for e in health_dead}
    in_broker = {report_key(m["args"][0] if m["args"] else m["kwargs"].get("report"))
                 for m in held(contents, "health.report")}
    done = accepted & stored
    dead_only = (accepted & dead_keys) - done
    in_broker_only = (accepted & in_broker) - done - dead_only
    poison_dead = sum(1 for e in health_dead if POISON_DEVICE in json.dumps(e, default=str))
    poison_rejected = sum(1 for r in recent_rejections() if r.get("device") == POISON_DEVICE)
    lost = accepted - done - dead_only - in_broker_only
    return {"reports_accepted": len(accepted), "reports_stored": len(done),
            "reports_dead_lettered": len(dead_only), "reports_in_broker": len(in_broker_only),
            "reports_lost": len(lost),
            "_lost_reports": [f"{device} sent at {at - _T0_WALL:.1f}s" for device, at in sorted(
                lost, key=lambda key: key[1])[:10]],
            "reports_refused_by_broker": load.refused,
            "health_poison_sent": load.poison_sent,
            "health_poison_dead_lettered": poison_dead,
            "health_poison_rejected": poison_rejected,
            "health_poison_in_broker": sum(1 for m in held(contents, "health.report")
                                           if POISON_DEVICE in json.dumps(m["args"]))}


def receipt_ledger(load: UploadLoad, contents: dict[str, Any],
                   dead: list[dict[str, Any]]) -> dict[str, Any]:
    """Receipts: every stored upload is read (concluido, or erro for a file that cannot be
    read) or dead-lettered (e.g. erro because the database was down: a person replays it)."""
    from sqlalchemy import select

    from core.db import session_scope
    from core.models import Comprovante
    from core.models.comprovantes import CONCLUIDO, ERRO

    with session_scope() as session:
        rows = {rid: (status, erro) for rid, status, erro in session.execute(
            select(Comprovante.id, Comprovante.status, Comprovante.erro))}
    receipts = set(rows) | set(load.accepted)
    dead_refs = {as_int(e["kwargs"].get("comprovante_id", e.get("reference")))
                 for e in dead_letters_of(dead, "comprovantes.processar")}
    read = {rid for rid, (status, _) in rows.items() if status == CONCLUIDO}
    unreadable = {rid for rid, (status, _) in rows.items()
                  if status == ERRO and rid not in dead_refs}
    done = read | unreadable
    dead_ids = (dead_refs & receipts) - done
    in_broker = {as_int(m["kwargs"].get("comprovante_id", (m["args"] or [None])[0]))
                 for m in held(contents, "comprovantes.processar")} - done - dead_ids
    lost = receipts - done - dead_ids - in_broker
    return {"receipts_accepted": len(load.accepted), "receipts_stored": len(rows),
            "receipts_processed": len(done), "receipts_unreadable": len(unreadable),
            "receipts_dead_lettered": len(dead_ids), "receipts_in_broker": len(in_broker & receipts),
            "receipts_lost": len(lost),
            "receipts_read_with_open_dead_letter": len(read & dead_refs),
            "receipts_inline": sum(1 for how in load.accepted.values() if how == "sincrono"),
            "_receipt_errors": sorted({rows[rid][1] or "" for rid in rows
                                       if rows[rid][0] == ERRO})[:3],
            "_lost_receipts": {rid: rows.get(rid, ("not stored", None))[0] for rid in sorted(lost)[:10]}}


def as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def ruptura_ledger(load: RupturaLoad, contents: dict[str, Any]) -> dict[str, Any]:
    """Ruptura: every analysis answered 202 has a published result for each of its orders."""
    from core.ruptura.analises import TASK_NAME, estado
    from core.ruptura.regras import ANALISADO

    held_orders = {(m["kwargs"].get("analise_id"), num) for m in held(contents, TASK_NAME)
                   for num in m["kwargs"].get("pedidos") or []}
    missing: set[tuple[str, str]] = set()
    failed = complete = 0
    for analise_id, orders in list(load.analyses):
        state = estado(analise_id) or {"completo": False, "resultados": []}
        published = {r.get("num_pedido") for r in state["resultados"]}
        missing |= {(analise_id, num) for num in orders if num not in published}
        failed += sum(1 for r in state["resultados"] if r.get("status") != ANALISADO)
        complete += bool(state["completo"])
    return {"ruptura_analyses": len(load.analyses), "ruptura_analyses_complete": complete,
            "ruptura_orders_missing": len(missing),
            "ruptura_orders_in_broker": len(missing & held_orders),
            "ruptura_orders_lost": len(missing - held_orders),
            "ruptura_orders_failed": failed}


def sync_ledger(standin: Any, timezone_name: str) -> dict[str, Any]:
    """Sync: every source row, mapped as the sync maps it, is at the stand-in with that content
    (sales of today are not due: only closed days are sent)."""
    from sqlalchemy import select

    from core.sync.consinco.entities import ENTITIES
    from core.sync.consinco.source import source_session
    from core.sync.engine import map_rows
    from core.sync.mapeamento import MAPEAMENTOS

    yesterday = datetime.now(ZoneInfo(timezone_name)).date() - timedelta(days=1)
    received_by_entity = dict(getattr(standin, "records", {}) or {})
    totals: Counter[str] = Counter()
    missing_by_entity = {}
    for name, entity in ENTITIES.items():
        mapper = MAPEAMENTOS[name]
        field_of = {column: campo for campo, column, _ in mapper.campos}
        key_fields = [field_of[column] for column in entity.key]
        with source_session() as session:
            rows = [row for row in session.execute(select(entity.table))
                    if not (entity.watermark_by_day and getattr(row, entity.watermark) > yesterday)]
        payloads, _, rejections = map_rows(mapper, entity, rows)
        expected = {tuple(p[f] for f in key_fields): canonical(p) for p in payloads}
        received: dict[tuple[Any, ...], Counter[str]] = {}
        for payload in list(received_by_entity.get(name, [])):
            key = tuple(payload.get(f) for f in key_fields)
            received.setdefault(key, Counter())[canonical(payload)] += 1
        missing = sum(1 for key, body in expected.items() if not received.get(key, {}).get(body))
        missing_by_entity[name] = missing
        totals.update({"source": len(rows), "rejected": len(rejections), "missing": missing,
                       "received": sum(sum(c.values()) for c in received.values()),
                       "duplicated": sum(n - 1 for c in received.values() for n in c.values())})
    return {"sync_source_rows": totals["source"], "sync_rows_received": totals["received"],
            "sync_rows_missing": totals["missing"], "sync_rows_duplicated": totals["duplicated"],
            "sync_rows_rejected_by_mapping": totals["rejected"],
            "sync_rows_missing_by_entity": missing_by_entity}


def canonical(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)


def dead_letter_counts(dead: list[dict[str, Any]]) -> dict[str, int]:
    """Open dead letters per area (the task name's prefix), and how many are parked in Redis."""
    counts = Counter(str(e.get("task_name")).split(".")[0] for e in dead)
    result = {f"dead_letters_{area}": counts.pop(area, 0) for area in AREAS}
    result["dead_letters_other"] = sum(counts.values())
    result["dead_letters_parked"] = sum(1 for e in dead if e["parked"])
    return result


def ledger(run: "ChaosRun") -> dict[str, Any]:
    """What became of every input, read from the database, the broker, the spools and the stand-in."""
    redis = run.redis()
    contents = broker_contents(redis)
    dead = dead_letter_entries(redis)
    now = datetime.now(timezone.utc)
    future_etas = sum(1 for m in contents["queued"] + contents["unacked"]
                      if m["eta"] and datetime.fromisoformat(m["eta"]) > now)
    result: dict[str, Any] = {}
    result.update(scan_ledger(run.scans, contents, dead))
    result.update(report_ledger(run.health, contents, dead))
    result.update(receipt_ledger(run.uploads, contents, dead))
    result.update(ruptura_ledger(run.ruptura, contents))
    result.update(sync_ledger(run.standin, run.timezone))
    result.update(dead_letter_counts(dead))
    result.update({"broker_queued": len(contents["queued"]),
                   "broker_unacked": len(contents["unacked"]),
                   "broker_retries_scheduled": future_etas,
                   "sync_final_run_finished": run.sync.final_done,
                   "sync_runs": run.sync.runs(),
                   "sync_triggers_answered_with_ended_job": run.sync.answered_with_ended_job})
    return result


def pending(entry: dict[str, Any]) -> dict[str, int]:
    """What the platform still owes: inputs neither done nor dead-lettered."""
    return {"scans": entry["scans_accepted"] - entry["scans_written_off"] - entry["scans_dead_lettered"],
            "reports": entry["reports_lost"] + entry["reports_in_broker"],
            "receipts": entry["receipts_lost"] + entry["receipts_in_broker"],
            "ruptura": entry["ruptura_orders_missing"],
            "sync": entry["sync_rows_missing"] + (0 if entry["sync_final_run_finished"] else 1),
            "parked": entry["dead_letters_parked"], "queued": entry["broker_queued"]}


# --- the run -------------------------------------------------------------------------------

class ChaosRun:
    """Sets the platform up, runs load and faults, settles, and tears everything down."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.rng = random.Random(args.seed)
        self.database_url, self.sqlite_reason = choose_database(work)
        self.broker = Broker(work / "redis")
        self.proxy: Any = None
        self.standin: Any = None
        self.supervisor: Supervisor | None = None
        self.loads: list[Load] = []
        self.timezone = "America/Sao_Paulo"
        self._redis: Any = None

    # setup ---------------------------------------------------------------------------------
    def setup(self) -> None:
        self.broker.start()
        web_port, standin_port = embedded_redis.free_port(), embedded_redis.free_port()
        self.web_url = f"http://127.0.0.1:{web_port}"
        os.environ.update({
            "STOCKFLOW_ENV": "development", "STOCKFLOW_SECRET_KEY": secrets.token_urlsafe(32),
            "STOCKFLOW_DATABASE_URL": self.database_url, "STOCKFLOW_REDIS_URL": self.broker.url,
            "STOCKFLOW_VAR_DIR": str(self.work / "var"), "STOCKFLOW_OCR_ENGINE": "offline",
            "STOCKFLOW_OCR_OFFLINE_THREADS": "1", "STOCKFLOW_LOG_LEVEL": "INFO",
            "STOCKFLOW_PLUSOFT_BASE_URL": f"http://127.0.0.1:{standin_port}/api/v1/carga"})
        os.environ.pop("STOCKFLOW_BROKER_URL", None)
        os.environ.pop("STOCKFLOW_CONSINCO_URL", None)
        from core.settings import get_settings

        self.timezone = get_settings().timezone
        self.load_data()
        from standins.plusoft import PlusoftStandIn

        self.standin = PlusoftStandIn(port=standin_port).start()
        self.start_platform(web_port)

    def load_data(self) -> None:
        from core import demo, migrate
        from core.models.auth import ADMIN
        from core.users import create_token, create_user

        log(f"database {self.database_url.split('@')[-1]}; migrating, loading the demo data")
        migrate.upgrade()
        demo.load_all(lambda line: log(line))
        create_user("chaos", secrets.token_urlsafe(16), role=ADMIN)
        self.token = create_token("chaos", "bench chaos")
        needed = math.ceil(self.args.scan_rate * self.args.duration * 1.05) + 20
        self.products = [shelf_products(index, store, needed)
                         for index, (store, _) in enumerate(STORES)]
        self.order_numbers = carteira_orders()

    def start_platform(self, web_port: int) -> None:
        from tests.baixa.tcp_proxy import TcpProxy

        platform_db = self.database_url
        if self.database_url.startswith("mysql"):
            from sqlalchemy.engine import make_url

            url = make_url(self.database_url)
            self.proxy = TcpProxy(url.host or "127.0.0.1", url.port or 3306)
            platform_db = url.set(host="127.0.0.1", port=self.proxy.port).render_as_string(
                hide_password=False)
        env = {**os.environ, "STOCKFLOW_DATABASE_URL": platform_db,
               "STOCKFLOW_WEB_HOST": "127.0.0.1", "STOCKFLOW_WEB_PORT": str(web_port),
               "STOCKFLOW_FLOWER_PORT": str(embedded_redis.free_port()),
               "STOCKFLOW_RUPTURA_WORKERS": "2", "PYTHONUNBUFFERED": "1",
               "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}", **self.args.env}
        commands = procfile_commands()
        logs = self.work / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.supervisor = Supervisor([Service(name, commands[name], env, logs) for name in SERVICES],
                                     log)
        log(f"starting {', '.join(SERVICES)} (platform/Procfile); logs in {logs}")
        self.supervisor.start()
        wait_ready(self.web_url, self.supervisor)

    def redis(self) -> Any:
        import redis

        if self._redis is None:
            self._redis = redis.Redis.from_url(self.broker.url, decode_responses=True,
                                               socket_timeout=10)
        return self._redis

    # load and faults ---------------------------------------------------------------------
    def start_load(self) -> None:
        args = self.args
        self.scans = []
        for index, ((store, device), products) in enumerate(zip(STORES, self.products)):
            agent = EdgeAgent(self.work / device, self.broker.url, store, device)
            self.rng.shuffle(products)
            self.scans.append(ScanLoad(agent, products, 1001 + index * 100_000 + 90_000,
                                       args.scan_rate, random.Random(self.rng.random())))
        self.health = HealthLoad(self.broker.url, args.pis, args.report_interval,
                                 args.poison_every, self.work)
        self.uploads = UploadLoad(WebClient(self.web_url, self.token), args.upload_interval)
        self.ruptura = RupturaLoad(WebClient(self.web_url, self.token), self.order_numbers,
                                   args.analysis_orders, args.analysis_interval,
                                   random.Random(self.rng.random()))
        self.sync = SyncLoad(WebClient(self.web_url, self.token), args.sync_interval)
        self.late_rows = LateSourceRows(args.late_rows_interval, self.timezone)
        self.loads = [*self.scans, self.health, self.uploads, self.ruptura, self.sync,
                      self.late_rows]
        for load in self.loads:
            load.start()
        log(f"load: 2 agents at {args.scan_rate}/s, {args.pis} Pis every {args.report_interval} s, "
            f"an upload every {args.upload_interval} s, {self.ruptura.orders} orders every "
            f"{args.analysis_interval} s, a sync {args.sync_interval} s after each one")

    def faults(self) -> FaultInjector:
        assert self.supervisor is not None
        faults: list[tuple[Any, float]] = [(WorkerKill(self.supervisor), 0.45)]
        if self.args.power_loss:
            faults += [(BrokerRestart(self.broker), 0.10), (BrokerPowerLoss(self.broker), 0.15)]
        else:
            faults.append((BrokerRestart(self.broker), 0.25))
        if self.proxy is not None:
            faults.append((DatabaseCut(self.proxy), 0.30))
        return FaultInjector(faults, time.monotonic() + self.args.duration, self.args.max_faults,
                             (2.0, 5.0), random.Random(self.rng.random()))

    def fault_phase(self) -> FaultInjector:
        injector = self.faults()
        injector.start()
        end = time.monotonic() + self.args.duration
        while time.monotonic() < end:
            time.sleep(min(15.0, max(0.1, end - time.monotonic())))
            self.progress(injector)
        injector.stop()
        return injector

    def progress(self, injector: FaultInjector) -> None:
        assert self.supervisor is not None
        log(f"scans accepted {sum(len(s.accepted) for s in self.scans)}, reports "
            f"{len(self.health.accepted)}, uploads {len(self.uploads.accepted)}, analyses "
            f"{len(self.ruptura.analyses)}, sync runs {self.sync.runs()}; faults "
            f"{len(injector.injected)}; restarts {dict(self.supervisor.restarts)}; crashes "
            f"{dict(self.supervisor.crashes)}")

    def stop_input(self) -> None:
        """No new input from now on: the agents keep running (they drain their spools)."""
        for load in self.loads:
            if load is not self.sync:
                load.stop()
        self.sync.request_final()

    # settle ------------------------------------------------------------------------------
    def settle(self, faults_ended: float) -> tuple[dict[str, Any], bool]:
        """Wait until nothing is owed, or what is owed stops changing while nothing could
        still move it, or --settle passes; return (last ledger, drained)."""
        deadline = faults_ended + self.args.settle
        last: dict[str, int] | None = None
        unchanged_since = time.monotonic()
        while True:
            try:
                entry = ledger(self)
            except Exception as exc:  # noqa: BLE001 - e.g. Redis still loading its AOF
                if time.monotonic() >= deadline:
                    raise
                log(f"ledger not readable yet: {type(exc).__name__}: {exc}")
                time.sleep(5)
                continue
            owed = pending(entry)
            now = time.monotonic()
            if not any(owed.values()):
                return entry, True
            if owed != last:
                last, unchanged_since = owed, now
            # Only what nothing will move any more: no retry due, nothing queued or parked
            # (Beat moves parked entries), the final sync run done.
            stable = (now - unchanged_since >= self.args.stable and now - faults_ended >= 75
                      and not entry["broker_retries_scheduled"] and not owed["queued"]
                      and not owed["parked"] and entry["sync_final_run_finished"])
            if stable or now >= deadline:
                return entry, False
            log(f"settling: still owed {owed}")
            time.sleep(10)

    # teardown ----------------------------------------------------------------------------
    def teardown(self) -> None:
        for load in self.loads:
            load.halt.set()
        for load in getattr(self, "scans", []):
            load.agent.stop()
        if self.supervisor is not None:
            self.supervisor.stop()
        if self.standin is not None:
            self.standin.stop()
        if self.proxy is not None:
            self.proxy.cut()
        self.broker.stop()
        if self.database_url.startswith("mysql") and not self.args.keep:
            from core.db import dispose_engine, recreate_mysql_database

            dispose_engine()
            recreate_mysql_database(self.database_url, create=False)


def choose_database(work: Path) -> tuple[str, str | None]:
    """Return (URL, None) of a new MariaDB database of this run, or (SQLite URL, why) when
    MariaDB does not answer."""
    from sqlalchemy.exc import OperationalError

    from core.db import recreate_mysql_database

    url = os.environ.get("STOCKFLOW_BENCH_MYSQL_URL",
                         f"mysql+mysqldb://root@127.0.0.1:3306/stockflow_chaos_{os.getpid()}")
    try:
        recreate_mysql_database(url)
    except OperationalError as exc:
        return f"sqlite:///{work / 'chaos.sqlite3'}", str(exc.orig)
    return url, None


def shelf_products(store_index: int, store: str, needed: int) -> list[int]:
    """Return the ids of the store's products on the shelf, adding some when the demo's ~1,000
    are fewer than the run will scan (ids in the store's demo block, above the demo's)."""
    from decimal import Decimal

    from sqlalchemy import select

    from core.db import session_scope
    from core.models import Produto
    from core.models.types import utcnow

    with session_scope() as session:
        ids = list(session.scalars(select(Produto.id).where(Produto.store_key == store)))
        first = 1001 + store_index * 100_000 + 10_000
        added = list(range(first, first + max(0, needed - len(ids))))
        session.add_all(Produto(id=pid, store_key=store, descricao=f"Produto caos {pid}",
                                codigo_barras=f"789{pid:010d}", preco=Decimal("9.90"),
                                created_at=utcnow()) for pid in added)
    return ids + added


def carteira_orders() -> list[str]:
    from sqlalchemy import select

    from core.db import session_scope
    from core.models import Pedido

    with session_scope() as session:
        return list(session.scalars(select(Pedido.num_pedido)))


def wait_ready(web_url: str, supervisor: Supervisor, timeout_s: float = 180) -> None:
    """Wait until the web answers /healthz and the three Celery workers answer a ping."""
    import requests

    from core.celery_app import celery_app

    deadline = time.monotonic() + timeout_s
    wanted = {"fast", "ruptura", "slow"}  # the Procfile's --hostname of each worker line
    while time.monotonic() < deadline:
        if supervisor.crashes:
            raise RuntimeError(f"a service crashed at start: {dict(supervisor.crashes)}")
        try:
            web_up = requests.get(f"{web_url}/healthz", timeout=2).ok
        except requests.RequestException:
            web_up = False
        replies = celery_app.control.ping(timeout=1.0) if web_up else []
        if web_up and wanted <= {name.split("@")[0] for reply in replies for name in reply}:
            log("platform ready")
            return
        time.sleep(1)
    raise TimeoutError(f"platform not ready within {timeout_s} s")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=180, help="seconds of faults (180)")
    parser.add_argument("--settle", type=float, default=240,
                        help="longest wait after the faults for everything to drain (240 s)")
    parser.add_argument("--stable", type=float, default=45,
                        help="settle ends early once what is owed has not changed for this long")
    parser.add_argument("--max-faults", type=int, default=60)
    parser.add_argument("--seed", type=int, default=None, help="random seed (printed)")
    parser.add_argument("--scan-rate", type=float, default=10, help="scans per second per agent")
    parser.add_argument("--pis", type=int, default=20, help="simulated Pis sending health reports")
    parser.add_argument("--report-interval", type=float, default=2.0, help="seconds, per Pi")
    parser.add_argument("--poison-every", type=float, default=30.0,
                        help="seconds between poison health reports (0: none)")
    parser.add_argument("--upload-interval", type=float, default=12.0)
    parser.add_argument("--analysis-interval", type=float, default=30.0)
    parser.add_argument("--analysis-orders", type=int, default=400)
    parser.add_argument("--sync-interval", type=float, default=30.0,
                        help="pause between a finished sync run and the next")
    parser.add_argument("--late-rows-interval", type=float, default=20.0)
    parser.add_argument("--power-loss", action="store_true",
                        help="some broker restarts lose the AOF's last second, as a power loss "
                             "of the Redis host would (a kill -9 of the process alone does not)")
    parser.add_argument("--env", action="append", default=[], metavar="STOCKFLOW_NAME=VALUE",
                        help="a setting for the platform's processes (repeatable), e.g. "
                             "shorter STOCKFLOW_JOB_DEADLINES to see the sweeper act in a short run")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (logs, spools) and the database")
    args = parser.parse_args(argv)
    if any("=" not in item for item in args.env):
        parser.error("--env takes NAME=VALUE")
    args.env = dict(item.split("=", 1) for item in args.env)
    if args.seed is None:
        args.seed = random.randrange(1_000_000)
    return args


def main() -> None:
    args = parse_args()
    work = Path(tempfile.mkdtemp(prefix="stockflow-chaos-"))
    run = ChaosRun(args, work)
    log(f"seed {args.seed}; work dir {work}" + (
        f"; MariaDB unreachable ({run.sqlite_reason}): SQLite, no database cuts"
        if run.sqlite_reason else ""))
    try:
        run.setup()
        run.start_load()
        injector = run.fault_phase()
        faults_ended = time.monotonic()
        log(f"faults over ({len(injector.injected)}); no new input; settling (at most "
            f"{args.settle:.0f} s)")
        run.stop_input()
        entry, drained = run.settle(faults_ended)
        settle_s = time.monotonic() - faults_ended
        assert run.supervisor is not None
        result = {
            **{key: entry[key] for key in ("scans_accepted", "scans_written_off", "scans_twice",
                                           "receipts_lost", "reports_lost", "sync_rows_missing")},
            "faults_injected": len(injector.injected),
            **{key: value for key, value in entry.items() if not key.startswith("_")},
            "faults_by_kind": injector.counts(), "drained": drained,
            "settle_s": round(settle_s, 1), "duration_s": args.duration, "seed": args.seed,
            "database": "sqlite (MariaDB unreachable)" if run.sqlite_reason else "mariadb",
            "restarts": dict(run.supervisor.restarts), "crashes": dict(run.supervisor.crashes),
            "load_errors": {load.name: dict(load.errors) for load in run.loads if load.errors},
            "load_refusals": {load.name: dict(load.refusals) for load in run.loads
                              if load.refusals},
            "late_rows": dict(run.late_rows.inserted),
        }
        for key in ("_lost_scans", "_lost_reports", "_lost_receipts", "_receipt_errors"):
            if entry.get(key):
                log(f"{key[1:]}: {entry[key]}")
        log("faults: " + "; ".join(f"{f['at_s']}s {f['kind']} {f['detail']}" for f in injector.injected))
    finally:
        run.teardown()
        if args.keep:
            log(f"kept {work}" + (f" and database {run.database_url}" if
                                  run.database_url.startswith("mysql") else ""))
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main()
