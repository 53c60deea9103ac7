"""The device registry: issue and revoke a Pi's broker identity, and check what it sends.

`add_device()` creates the device's broker user (core/device_brokers.py) and registers it
with the stores it may scan for, printing its signing secret (core/device_signing.py);
`revoke_device()` marks it revoked and deletes that user. `refusal()` is what the workers ask
for every scan and health report while STOCKFLOW_DEVICE_REGISTRY_REQUIRED is on: None, or
why the device may not send it (pt-BR), its signature checked before its store.
Lookups are kept for STOCKFLOW_DEVICE_REGISTRY_CACHE_S seconds per worker process, so a
revoked device is refused at most that long after its revocation.
"""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import device_brokers
from core.db import session_scope
from core.device_signing import Signed, device_secret, valid
from core.models import Device, DeviceStore
from core.models.devices import ACTIVE, REVOKED
from core.models.types import utcnow
from core.settings import get_settings

# A device id names its broker user and reply queue, and goes into ACL globs and RabbitMQ
# regexes: letters, digits, ".", "_" and "-" only (a hostname fits).
DEVICE_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class DeviceError(ValueError):
    """A registry operation cannot be done as asked; the message says why (pt-BR)."""


@dataclass(frozen=True)
class Issued:
    """A device just issued: its registry entry and the agent's environment file."""

    device_id: str
    broker_user: str
    env_file: str
    note: str | None


@dataclass(frozen=True)
class Entry:
    """What the workers need of a device (cached)."""

    state: str
    store_keys: frozenset[str]
    revoked_at: str | None
    secret_generation: int
    broker_user: str


def check_device_id(device_id: str) -> str:
    if not DEVICE_ID_RE.fullmatch(device_id or ""):
        raise DeviceError("device_id deve ter de 1 a 64 letras, dígitos, '.', '_' ou '-' "
                          "(começando por letra ou dígito)")
    return device_id


def device_broker_url(kind: str | None = None, override: str | None = None) -> str:
    """Return the broker URL the Pis reach (no credentials) and check it is of `kind`."""
    settings = get_settings()
    url = device_brokers.without_credentials(
        override or settings.device_broker_url or settings.effective_broker_url)
    if kind is not None and device_brokers.broker_kind(url) != kind:
        raise DeviceError(f"--broker {kind}, mas o broker dos Pis é {url} "
                          "(STOCKFLOW_DEVICE_BROKER_URL ou --broker-url)")
    return url


def add_device(device_id: str, store_keys: Iterable[str], by: str, broker: str | None = None,
               broker_url: str | None = None,
               admin: device_brokers.BrokerAdmin | None = None) -> Issued:
    """Create the device's broker user (with `admin`, default: the configured broker's) and
    register it for the stores; return the agent's env file. A revoked device_id is issued
    again with new credentials."""
    check_device_id(device_id)
    stores = sorted({key.strip() for key in store_keys if key.strip()})
    if not stores or any(len(key) > 64 for key in stores):
        raise DeviceError("informe ao menos uma loja (--store), de até 64 caracteres")
    url = device_broker_url(broker, broker_url)
    kind = device_brokers.broker_kind(url)
    with session_scope() as session:
        existing = session.get(Device, device_id)
        if existing is not None and existing.state == ACTIVE:
            raise DeviceError(f"dispositivo {device_id} já está ativo; revogue-o antes de "
                              "emitir novas credenciais")
    admin = admin or device_brokers.broker_admin(kind, url)
    user, password = device_brokers.broker_user(device_id), device_brokers.new_password()
    admin.create_user(device_id, user, password)
    try:
        generation = _register(device_id, stores, kind, user, by)
    except Exception:
        admin.delete_user(device_id, user)  # no broker user without its registry entry
        raise
    forget_cache()
    env = env_file(device_id, device_brokers.with_credentials(url, user, password), stores,
                   device_secret(device_id, generation))
    return Issued(device_id, user, env, admin.persistence_note())


def _register(device_id: str, stores: list[str], kind: str, user: str, by: str) -> int:
    """Register (or re-register) the device; return its new secret generation."""
    with session_scope() as session:
        device = session.get(Device, device_id)
        if device is None:
            device = Device(device_id=device_id, secret_generation=1)
            session.add(device)
        else:  # issued again: the secret it had before stops working
            device.secret_generation += 1
        device.state, device.broker, device.broker_user = ACTIVE, kind, user
        device.created_at, device.created_by = utcnow(), by[:128]
        device.revoked_at = device.revoked_by = None
        device.stores = [DeviceStore(store_key=key) for key in stores]
        session.flush()
        return device.secret_generation


def secret_line(device_id: str, rotate: bool = False) -> str:
    """Return the env line with an active device's signing secret (recomputed from the key);
    with `rotate`, a new generation first, so the secret it had stops working."""
    with session_scope() as session:
        device = session.get(Device, device_id)
        if device is None or device.state != ACTIVE:
            raise DeviceError(f"dispositivo {device_id} não está ativo no cadastro")
        if rotate:
            device.secret_generation += 1
        generation = device.secret_generation
    forget_cache()
    return f"STOCKFLOW_AGENT_DEVICE_SECRET={device_secret(device_id, generation)}\n"


def revoke_device(device_id: str, by: str) -> Device:
    """Mark the device revoked (the workers refuse it from now, within the cache time) and
    delete its broker user, closing its connections; return the entry. Idempotent."""
    with session_scope() as session:
        device = session.get(Device, device_id)
        if device is None:
            raise DeviceError(f"dispositivo {device_id} não está cadastrado")
        if device.state != REVOKED:
            device.state, device.revoked_at, device.revoked_by = REVOKED, utcnow(), by[:128]
        kind, user = device.broker, device.broker_user
        session.flush()
        session.expunge(device)
    forget_cache()
    # After the commit: a failure here leaves the device refused; running revoke again
    # deletes the user.
    device_brokers.broker_admin(kind).delete_user(device_id, user)
    return device


def list_devices() -> list[Device]:
    """Return every registered device (active and revoked), by device_id."""
    with session_scope() as session:
        devices = list(session.scalars(select(Device).order_by(Device.device_id)))
        session.expunge_all()
        return devices


def env_file(device_id: str, broker_url: str, stores: list[str], secret: str) -> str:
    """Return the lines to put in the Pi's /etc/stockflow/edge-agent.env."""
    store_lines = (f"# Loja deste Pi: printers.json com {{\"store_key\": \"{stores[0]}\"}}"
                   if len(stores) == 1 else
                   "# Lojas autorizadas (uma por Pi, em printers.json \"store_key\"): "
                   + ", ".join(stores))
    return "\n".join([
        f"# Stockflow edge agent: credenciais do dispositivo {device_id}.",
        "# Copie para /etc/stockflow/edge-agent.env (root, modo 0600) junto com as demais",
        "# variáveis de edge_agent/agent.env.example. A senha não é mostrada de novo; o",
        "# segredo de assinatura é mostrado de novo por `flask devices secret` (--rotate o troca).",
        store_lines,
        "# (STOCKFLOW_AGENT_PRINTERS_JSON aponta o arquivo; outra loja é recusada pelo servidor.)",
        f"STOCKFLOW_AGENT_DEVICE_ID={device_id}",
        f"STOCKFLOW_AGENT_BROKER_URL={broker_url}",
        f"STOCKFLOW_AGENT_DEVICE_SECRET={secret}",
        "",
    ])


# --- the workers' check -------------------------------------------------------------------

_cache: dict[str, tuple[float, Entry | None]] = {}
_cache_lock = threading.Lock()


def forget_cache() -> None:
    """Drop this process's cached lookups."""
    with _cache_lock:
        _cache.clear()


def lookup(device_id: str, session: Session | None = None) -> Entry | None:
    """Return the device's entry (None when unknown), cached for the configured seconds.
    Raises the database's error when it cannot be read."""
    ttl = get_settings().device_registry_cache_s
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get(device_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    entry = _read(session, device_id) if session is not None else _read_own(device_id)
    with _cache_lock:
        if len(_cache) > 10_000:  # forged ids must not grow it without bound
            _cache.clear()
        _cache[device_id] = (now + ttl, entry)
    return entry


def _read_own(device_id: str) -> Entry | None:
    with session_scope() as session:
        return _read(session, device_id)


def _read(session: Session, device_id: str) -> Entry | None:
    device = session.get(Device, device_id)
    if device is None:
        return None
    revoked = device.revoked_at.strftime("%d/%m/%Y %H:%M UTC") if device.revoked_at else None
    return Entry(device.state, frozenset(device.store_keys), revoked, device.secret_generation,
                 device.broker_user)


def refusal(device_id: object, store_key: object, signed: Signed,
            session: Session | None = None, sender: object = None) -> str | None:
    """Return why a scan or report from `device_id` for `store_key` is refused, or None when
    the registry allows it (always None while the registry is not required).

    `signed` is what its signature covers and the signature (core/device_signing.py): checked
    before the store, since a message another device signed proves nothing of its store.
    `sender`: the broker user that published it (RabbitMQ's validated `user_id`), when known.
    """
    settings = get_settings()
    if not settings.devices_enforced:
        return None
    if not isinstance(device_id, str) or not DEVICE_ID_RE.fullmatch(device_id):
        return "dispositivo sem identificação válida no cadastro de dispositivos"
    entry = lookup(device_id, session)
    if entry is None:
        return f"dispositivo {device_id} não está cadastrado"
    if entry.state != ACTIVE:
        return f"dispositivo {device_id} revogado em {entry.revoked_at or '?'}"
    if sender is not None and sender != entry.broker_user:
        return (f"publicada pelo usuário {str(sender)[:64]} do broker, não pelo do "
                f"dispositivo {device_id}")
    if signed.signature is None and not settings.device_unsigned_allowed:
        return f"mensagem sem assinatura do dispositivo {device_id}"
    if signed.signature is not None and not valid(signed, device_id, entry.secret_generation):
        return f"assinatura não confere com o segredo do dispositivo {device_id}"
    if store_key is None:
        return f"dispositivo {device_id} não informou a loja (store_key)"
    if store_key not in entry.store_keys:
        return f"dispositivo {device_id} não está autorizado na loja {str(store_key)[:64]}"
    return None
