"""Broker users for devices: each Pi gets its own, allowed only what its agent does.

`broker_admin(kind)` returns the admin of one broker behind one small interface
(`create_user`, `delete_user`): RabbitMQ through its management API when
STOCKFLOW_DEVICE_RABBITMQ_MANAGEMENT_URL is set, else `rabbitmqctl` on this host; Redis through
ACL SETUSER on STOCKFLOW_DEVICE_REDIS_ADMIN_URL. What each broker can and cannot stop is in
docs/devices.md.
"""
from __future__ import annotations

import re
import secrets
import shlex
import subprocess
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import redis
import requests

from core.settings import get_settings

RABBITMQ = "rabbitmq"
REDIS = "redis"
BROKERS = (REDIS, RABBITMQ)
# The queues a Pi publishes to (edge_agent: baixa.registrar, health.report) and the prefix
# of its own reply queue (core/baixa/outcomes.py).
TASK_QUEUES = ("baixa", "health")
REPLY_QUEUE_PREFIX = "baixa.outcomes."
# kombu's Redis transport keeps priorities 3, 6 and 9 of a queue in "<queue>\x06\x16<n>".
PRIORITY_SEP = b"\x06\x16"


class BrokerAdminError(RuntimeError):
    """The broker refused or could not be reached; the message says what failed."""


def broker_user(device_id: str) -> str:
    """Return the broker user name of a device."""
    return f"device-{device_id}"


def new_password() -> str:
    return secrets.token_urlsafe(24)


def with_credentials(url: str, user: str, password: str) -> str:
    """Return the broker URL with this user and password in it (any credentials replaced)."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def without_credentials(url: str) -> str:
    """Return the URL with no user or password in it."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def broker_kind(url: str) -> str:
    """Return "redis" or "rabbitmq" for a broker URL (BrokerAdminError for anything else)."""
    scheme = urlsplit(url).scheme
    if scheme in ("redis", "rediss"):
        return REDIS
    if scheme in ("amqp", "amqps", "pyamqp"):
        return RABBITMQ
    raise BrokerAdminError(f"broker {scheme or url!r} não é redis:// nem amqp://")


def amqp_vhost(url: str) -> str:
    """Return the virtual host of an amqp:// URL as kombu reads it ("/" when none is named)."""
    path = urlsplit(url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


class BrokerAdmin(Protocol):
    """Creates and deletes the broker user of one device."""

    kind: str

    def create_user(self, device_id: str, user: str, password: str) -> None: ...

    def delete_user(self, device_id: str, user: str) -> None: ...

    def persistence_note(self) -> str | None: ...


# --- RabbitMQ ---------------------------------------------------------------------------

def rabbitmq_permissions(device_id: str) -> tuple[str, str, str]:
    """Return (configure, write, read) regexes: publish to the task exchanges, declare and
    read its own reply queue, nothing else."""
    own = "^" + re.escape(REPLY_QUEUE_PREFIX + device_id) + "$"
    tasks = "^(" + "|".join(re.escape(q) for q in TASK_QUEUES) + ")$"
    return own, tasks, own


@dataclass
class RabbitmqCtl:
    """RabbitMQ through `rabbitmqctl` (the password goes on its stdin, not its command line)."""

    vhost: str
    command: str = "rabbitmqctl"
    kind: str = RABBITMQ

    def _run(self, *args: str, stdin: str | None = None) -> str:
        try:
            done = subprocess.run([*shlex.split(self.command), *args], input=stdin,
                                  capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BrokerAdminError(f"{self.command} {args[0]}: {exc}") from exc
        if done.returncode != 0:
            raise BrokerAdminError(f"{self.command} {args[0]}: "
                                   f"{(done.stderr or done.stdout).strip()[-500:]}")
        return done.stdout

    def create_user(self, device_id: str, user: str, password: str) -> None:
        self.delete_user(device_id, user)  # a stale one (users are broker-wide, not per vhost)
        self._run("add_user", user, stdin=password + "\n")
        self._run("set_permissions", "-p", self.vhost, user, *rabbitmq_permissions(device_id))

    def delete_user(self, device_id: str, user: str) -> None:
        if user not in self._run("list_users", "--quiet", "--no-table-headers").split():
            return
        self._run("delete_user", user)
        self._run("close_all_user_connections", user, "device revoked")

    def persistence_note(self) -> str | None:
        return None  # RabbitMQ keeps users in its own database


@dataclass
class RabbitmqHttp:
    """RabbitMQ through its management API (the management plugin must be on)."""

    base_url: str
    vhost: str
    kind: str = RABBITMQ

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        parts = urlsplit(self.base_url)
        url = without_credentials(self.base_url).rstrip("/") + path
        auth = (unquote(parts.username or ""), unquote(parts.password or ""))
        try:
            response = requests.request(method, url, json=body, auth=auth, timeout=30)
        except requests.RequestException as exc:
            raise BrokerAdminError(f"RabbitMQ management API {method} {path}: {exc}") from exc
        if response.status_code >= 400 and response.status_code != 404:
            raise BrokerAdminError(f"RabbitMQ management API {method} {path}: "
                                   f"{response.status_code} {response.text[:300]}")
        return response

    def create_user(self, device_id: str, user: str, password: str) -> None:
        self._call("PUT", f"/api/users/{quote(user, safe='')}", {"password": password, "tags": ""})
        configure, write, read = rabbitmq_permissions(device_id)
        self._call("PUT", f"/api/permissions/{quote(self.vhost, safe='')}/{quote(user, safe='')}",
                   {"configure": configure, "write": write, "read": read})

    def delete_user(self, device_id: str, user: str) -> None:
        self._call("DELETE", f"/api/users/{quote(user, safe='')}")
        self._call("DELETE", f"/api/connections/username/{quote(user, safe='')}")

    def persistence_note(self) -> str | None:
        return None


# --- Redis ------------------------------------------------------------------------------

def redis_acl_rules(device_id: str) -> list[bytes]:
    """Return the ACL SETUSER rules of a device (after `reset on >password`).

    Found by running the real agent against an ACL user and reading ACL LOG: kombu's
    declare on publish (LLEN of the queue and its priority keys, SADD of the exchange's
    binding sets), LPUSH, BRPOP of the reply queue, and the QoS restore every consumer runs
    (the unacked mutex and index). Each selector allows its commands on its keys only, so
    LLEN/LPUSH on `baixa` never means BRPOP or DEL on it.
    """
    own = (REPLY_QUEUE_PREFIX + device_id).encode()

    def queue_keys(name: bytes, access: bytes = b"~") -> list[bytes]:
        return [access + name, access + name + PRIORITY_SEP + b"?"]

    def selector(*parts: bytes) -> bytes:
        return b"(" + b" ".join(parts) + b")"

    task_keys = [key for queue in TASK_QUEUES for key in queue_keys(queue.encode())]
    bindings = [f"~_kombu.{kind}.{queue}".encode() for queue in TASK_QUEUES
                for kind in ("binding", "binding_permanent")]
    return [
        b"resetchannels", b"-@all",
        # keyless: the connection's own business
        b"+ping", b"+hello", b"+auth", b"+select", b"+client|setname",
        b"+multi", b"+exec", b"+discard", b"+script|load",
        # its own reply queue: read and consume, never delete
        *queue_keys(own), b"+brpop", b"+rpop", b"+llen",
        selector(*task_keys, b"+llen", b"+lpush"),
        selector(*bindings, b"+sadd", b"+smembers"),
        selector(b"~unacked_mutex", b"+set", b"+get", b"+del", b"+evalsha", b"+eval"),
        selector(b"%R~unacked_index", b"+zrange"),
    ]


@dataclass
class RedisAcl:
    """Redis ACL users; `ACL SAVE` when Redis has an aclfile, else `CONFIG REWRITE`."""

    admin_url: str
    kind: str = REDIS

    def _client(self) -> redis.Redis:
        return redis.Redis.from_url(self.admin_url, socket_timeout=10, socket_connect_timeout=10)

    def create_user(self, device_id: str, user: str, password: str) -> None:
        try:
            with self._client() as client:
                client.execute_command("ACL", "SETUSER", user, "reset", "on",
                                       f">{password}", *redis_acl_rules(device_id))
                self._persist(client)
        except redis.RedisError as exc:
            raise BrokerAdminError(f"Redis ACL SETUSER {user}: {exc}") from exc

    def delete_user(self, device_id: str, user: str) -> None:
        try:
            with self._client() as client:
                if client.execute_command("ACL", "GETUSER", user) is None:
                    return
                # Off first, so the connections killed next cannot authenticate again.
                client.execute_command("ACL", "SETUSER", user, "off")
                client.execute_command("CLIENT", "KILL", "USER", user)
                client.execute_command("ACL", "DELUSER", user)
                self._persist(client)
        except redis.RedisError as exc:
            raise BrokerAdminError(f"Redis ACL DELUSER {user}: {exc}") from exc

    def _persist(self, client: redis.Redis) -> None:
        if self._aclfile(client):
            client.execute_command("ACL", "SAVE")

    def _aclfile(self, client: redis.Redis) -> str:
        value = client.config_get("aclfile").get("aclfile")
        return value.decode() if isinstance(value, bytes) else str(value or "")

    def persistence_note(self) -> str | None:
        with self._client() as client:
            if self._aclfile(client):
                return None
        return ("aviso: este Redis não tem aclfile; o usuário vale até o Redis reiniciar "
                "(configure aclfile e ele é salvo com ACL SAVE, docs/devices.md)")


def broker_admin(kind: str, broker_url: str = "") -> BrokerAdmin:
    """Return the admin of the given broker (`broker_url`: the broker as the Pis reach it,
    whose virtual host RabbitMQ users get their permissions on; deleting needs none)."""
    settings = get_settings()
    if kind == REDIS:
        server = settings.effective_broker_url
        default = server if broker_kind(server) == REDIS else settings.effective_redis_url
        return RedisAcl(settings.device_redis_admin_url or default)
    vhost = amqp_vhost(broker_url)
    if settings.device_rabbitmq_management_url:
        return RabbitmqHttp(settings.device_rabbitmq_management_url, vhost)
    return RabbitmqCtl(vhost, settings.device_rabbitmqctl)
