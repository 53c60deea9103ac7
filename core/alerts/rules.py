"""The alert rules: what each one watches, its threshold, and what fires now.

A rule's check returns the findings that fire at `now` (one per subject: a device, a queue,
a worker...). The evaluator (core/alerts/evaluator.py) turns findings into alerts: a subject
that fires opens one, a subject that no longer fires resolves it. A check that raises changes
nothing about its rule's alerts (a database hiccup is not a recovery).
"""
from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from core import dead_letters, heartbeats, overview
from core.comprovantes.storage import uploads_dir
from core.db import session_scope
from core.models import DeadLetter, Device, DeviceStatus, SyncRun
from core.models.devices import REVOKED
from core.settings import get_settings
from core.sync import runs


@dataclass(frozen=True)
class Finding:
    """One subject of a rule that fires now, in words for people (pt-BR), and where to act."""

    subject: str
    message: str
    link: str = ""


@dataclass
class Context:
    """What a check gets: the time, its threshold, the subjects already alerted, and its own
    state, kept between runs (saved with the alerts it leads to)."""

    now: datetime
    threshold: float | None
    open_subjects: set[str] = field(default_factory=set)
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    key: str
    title: str
    description: str
    check: Callable[[Context], list[Finding]]
    threshold_label: str | None = None  # None: the rule has no threshold
    default_threshold: float | None = None
    minimum: float = 0
    maximum: float = 0


def when(value: datetime) -> str:
    """dd/mm/aaaa hh:mm in the business's time zone, as web/formats.py's data_hora shows it
    (core cannot import web)."""
    return value.astimezone(ZoneInfo(get_settings().timezone)).strftime("%d/%m/%Y %H:%M")


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def _revoked_devices() -> set[str]:
    with session_scope() as session:
        return set(session.scalars(select(Device.device_id).where(Device.state == REVOKED)))


def device_offline(ctx: Context) -> list[Finding]:
    """Devices unheard of (the server's clock) for longer than the threshold; revoked Pis are
    retired, not offline."""
    cutoff = ctx.now - timedelta(minutes=float(ctx.threshold or 0))
    revoked = _revoked_devices()
    with session_scope() as session:
        silent = session.execute(select(DeviceStatus.raspberry_id, DeviceStatus.store_key,
                                        DeviceStatus.last_update)
                                 .where(DeviceStatus.last_update < cutoff)).all()
    return [Finding(device, f"Dispositivo {device} (loja {store or '?'}) sem relatório há "
                            f"{_minutes(ctx.now - last)} min (último: {when(last)}).",
                    f"/dispositivos/{device}")
            for device, store, last in silent if device not in revoked]


def spool_old(ctx: Context) -> list[Finding]:
    """Pis whose spool's oldest scan (as of their last report) waits longer than the
    threshold: scans read in the store that have not reached the server."""
    cutoff = ctx.now - timedelta(minutes=float(ctx.threshold or 0))
    with session_scope() as session:
        waiting = session.execute(select(DeviceStatus.raspberry_id, DeviceStatus.spool_depth,
                                         DeviceStatus.spool_oldest_at)
                                  .where(DeviceStatus.spool_depth > 0,
                                         DeviceStatus.spool_oldest_at < cutoff)).all()
    return [Finding(device, f"Dispositivo {device}: {depth} leitura(s) esperando no spool, a "
                            f"mais antiga de {when(oldest)} (há {_minutes(ctx.now - oldest)} min).",
                    f"/dispositivos/{device}")
            for device, depth, oldest in waiting]


def new_dead_letters(ctx: Context) -> list[Finding]:
    """Areas with dead letters new since the last evaluation (and at least the threshold
    open); an area already alerted stays so while it has that many open."""
    last_id = int(ctx.state.get("last_id", 0))
    minimum = int(ctx.threshold or 1)
    with session_scope() as session:
        newest = session.scalar(select(func.max(DeadLetter.id))) or 0
        new_rows = session.execute(select(DeadLetter.task_name, func.count())
                                   .where(DeadLetter.id > last_id, *dead_letters.IS_OPEN)
                                   .group_by(DeadLetter.task_name)).all()
    new: dict[str, int] = {}
    for task_name, count in new_rows:
        area = dead_letters.area_of(task_name)
        new[area] = new.get(area, 0) + count
    ctx.state["last_id"] = max(newest, last_id)
    found = []
    for area, open_count in dead_letters.open_by_area().items():
        fresh = new.get(area, 0)
        if open_count >= minimum and (fresh or area in ctx.open_subjects):
            found.append(Finding(area, f"{fresh} dead letter(s) nova(s) em {area}; {open_count} "
                                       "aguardando reenvio ou descarte.", f"/falhas?area={area}"))
    return found


def queue_without_consumer(ctx: Context) -> list[Finding]:
    """Feature queues no live worker consumes (the workers' heartbeats)."""
    return [Finding(queue, f"Fila {queue} sem nenhum worker consumindo.", "/")
            for queue, consumers in heartbeats.consumers_by_queue().items() if consumers == 0]


def queue_deep(ctx: Context) -> list[Finding]:
    """Feature queues holding more messages than the threshold (no depth at all: the broker
    did not answer, so nothing fires nor resolves)."""
    limit = int(ctx.threshold or 0)
    depths = overview.queue_depths()
    if all(depth is None for depth in depths.values()):
        raise RuntimeError("queue depths unknown (broker unreachable)")
    return [Finding(queue, f"Fila {queue} com {depth} mensagens esperando (limite {limit}).", "/")
            for queue, depth in depths.items() if depth is not None and depth > limit]


def worker_stopped(ctx: Context) -> list[Finding]:
    """Workers that stopped beating (killed, stuck) or gave up on an error at least the
    threshold in minutes ago. One shut down on purpose (a deploy, a scale-down) is not alerted:
    if it leaves a queue without a consumer, fila_sem_consumidor says so."""
    patience = timedelta(minutes=float(ctx.threshold or 0))
    return [Finding(beat.hostname, f"Worker {beat.hostname} parado (filas: "
                                   f"{', '.join(beat.queues) or '—'}; último sinal {when(beat.last_seen)}).",
                    "/")
            for beat in heartbeats.workers()
            if not beat.alive and not beat.ended and ctx.now - beat.last_seen >= patience]


def beat_stopped(ctx: Context) -> list[Finding]:
    """Celery Beat silent for the threshold in minutes: nothing scheduled runs (the nightly
    sync, the sweeps). The workers' watchdog keeps this evaluation going without Beat."""
    if heartbeats.beat_alive():
        return []
    last_seen = heartbeats.beat_last_seen()
    if last_seen is not None and ctx.now - last_seen < timedelta(minutes=float(ctx.threshold or 0)):
        return []
    since = f"último sinal {when(last_seen)}" if last_seen else "nenhum sinal registrado"
    return [Finding("beat", f"Celery Beat parado ({since}): tarefas agendadas não rodam.", "/")]


def _entities() -> list[str]:
    return [name.strip() for name in get_settings().plusoft_entities.split(",") if name.strip()]


def sync_failed(ctx: Context) -> list[Finding]:
    """Entities whose latest sync run failed (it resumes at the next trigger)."""
    found = []
    for entidade, run in runs.latest_by_entity(_entities()).items():
        if run is not None and run["status"] == runs.FAILED:
            error = (run["erro"] or "sem detalhe")[:300]
            found.append(Finding(entidade, f"Sincronização de {entidade} falhou: {error}", "/sync"))
    return found


def nightly_deadline(now: datetime, grace_minutes: float) -> datetime:
    """Return the latest nightly start whose deadline (start + grace) has passed at `now`."""
    settings = get_settings()
    zone = ZoneInfo(settings.timezone)
    local = now.astimezone(zone)
    start = datetime.combine(local.date(), time(settings.plusoft_schedule_hour,
                                                settings.plusoft_schedule_minute), tzinfo=zone)
    grace = timedelta(minutes=grace_minutes)
    while start + grace > now:
        start -= timedelta(days=1)
    return start


def sync_late(ctx: Context) -> list[Finding]:
    """Dead-man check: every entity must have a run finished since the last nightly start
    whose deadline (start + threshold minutes) has passed."""
    grace = float(ctx.threshold or 0)
    start = nightly_deadline(ctx.now, grace)
    with session_scope() as session:
        done = set(session.scalars(select(SyncRun.entidade).where(
            SyncRun.status == runs.FINISHED, SyncRun.finished_at >= start)))
    missing = [name for name in _entities() if name not in done]
    if not missing:
        return []
    deadline = start + timedelta(minutes=grace)
    return [Finding("noturna", f"Sincronização noturna de {when(start)} não terminou até "
                               f"{when(deadline)}: {', '.join(missing)}.", "/sync")]


def disk_low(ctx: Context) -> list[Finding]:
    """The server's disk holding the uploads (var/uploads) with less free space than the
    threshold, in percent."""
    folder = uploads_dir()
    usage = shutil.disk_usage(folder)
    free_pct = 100 * usage.free / usage.total if usage.total else 0.0
    if free_pct >= float(ctx.threshold or 0):
        return []
    return [Finding(str(folder), f"Disco do servidor com {_decimal(free_pct)}% livre "
                                 f"({_decimal(usage.free / 2**30)} GB de "
                                 f"{_decimal(usage.total / 2**30)} GB) em {folder}.")]


def _decimal(value: float) -> str:
    """One decimal with a comma, as pt-BR writes it."""
    return f"{value:.1f}".replace(".", ",")


RULES: dict[str, Rule] = {rule.key: rule for rule in (
    Rule("dispositivo_offline", "Dispositivo offline",
         "Um Pi sem relatório há mais que o limite.", device_offline,
         "minutos sem relatório", 10, 2, 10_080),
    Rule("spool_antigo", "Leituras presas no Pi",
         "O spool de um Pi tem leitura esperando há mais que o limite.", spool_old,
         "minutos de espera", 15, 1, 10_080),
    Rule("dead_letters", "Dead letters novas",
         "Chegaram dead letters numa área (tarefas que desistiram) desde a última avaliação.",
         new_dead_letters, "abertas na área, no mínimo", 1, 1, 100_000),
    Rule("fila_sem_consumidor", "Fila sem consumidor",
         "Nenhum worker vivo consome uma fila.", queue_without_consumer),
    Rule("fila_profunda", "Fila acumulada",
         "Uma fila tem mais mensagens esperando que o limite.", queue_deep,
         "mensagens", 1_000, 1, 10_000_000),
    Rule("worker_parado", "Worker parado",
         "Um worker parou de dar sinal (heartbeat) há pelo menos o limite; um encerrado de "
         "propósito (deploy, redução) não alerta.", worker_stopped,
         "minutos parado", 1, 0, 1_440),
    Rule("beat_parado", "Beat parado",
         "O Celery Beat parou de dar sinal há pelo menos o limite: nada agendado roda.",
         beat_stopped, "minutos parado", 1, 0, 1_440),
    Rule("sync_falhou", "Sincronização falhou",
         "A última execução de uma entidade da sincronização falhou.", sync_failed),
    Rule("sync_atrasada", "Sincronização noturna atrasada",
         "Alguma entidade não terminou a sincronização noturna até o horário agendado mais o "
         "limite.", sync_late, "minutos após o horário agendado", 180, 10, 1_380),
    Rule("disco_cheio", "Disco com pouco espaço",
         "O disco dos comprovantes (var/uploads) tem menos espaço livre que o limite.", disk_low,
         "% livre, no mínimo", 10, 0.1, 100),
)}
