#!/usr/bin/env python3
"""`make compose-check`: docker-compose.yml run for real, with nothing pulled from a registry.

A Debian base image is made from Debian's packages (debootstrap, then `docker import`); the
project image and stand-ins for the broker, Redis and MariaDB images are built on it
(platform/compose/standins/, mapped by platform/compose/docker-compose.check.yml, the
production file unchanged). The whole stack comes up, a device is issued with `devices add`,
the real edge agent sends scans through RabbitMQ, the database must show each written off
once, and the stack goes down with its volumes. Without a running Docker engine the check
starts its own (vfs storage, no iptables, no default bridge, its state under var/) and stops
it at the end. Standard library only; run as root. The last line is JSON, like the benches.
"""
from __future__ import annotations

import argparse
import configparser
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / "var" / "compose-check"
OVERRIDE = ROOT / "platform" / "compose" / "docker-compose.check.yml"
STANDINS = ROOT / "platform" / "compose" / "standins"
BASE_IMAGE = "stockflow/debian:bookworm"
PYTHON_IMAGE = "stockflow/python:3.11-bookworm"
PROJECT = "stockflowcheck"
DEVICE_ID = "pi-compose-check"
STORE = "LOJA-CHECK"
FIRST_PRODUCT = 9_100_001
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEBIAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def log(message: str) -> None:
    print(f"compose-check: {message}", flush=True)


def run(command: list[str], *, env: dict[str, str] | None = None, check: bool = True,
        capture: bool = False, stdin: str | None = None,
        timeout: float = 1800) -> subprocess.CompletedProcess:
    """Run a command (its output shown unless captured); raise with its output if it fails."""
    done = subprocess.run(command, env=env, input=stdin, text=True, timeout=timeout, cwd=ROOT,
                          stdout=subprocess.PIPE if capture else None,
                          stderr=subprocess.PIPE if capture else None)
    if check and done.returncode != 0:
        detail = f"\n{done.stdout or ''}{done.stderr or ''}" if capture else ""
        raise SystemExit(f"compose-check: failed ({done.returncode}): {' '.join(command)}{detail}")
    return done


class Timer:
    """Seconds per step, printed as each ends."""

    def __init__(self) -> None:
        self.figures: dict[str, float | int | bool | str] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        log(f"{name} ...")
        start = time.monotonic()
        yield
        self.figures[f"{name}_s"] = round(time.monotonic() - start, 1)
        log(f"{name}: {self.figures[f'{name}_s']} s")


# --- the Docker engine --------------------------------------------------------------------

def engine_answers(env: dict[str, str]) -> bool:
    return subprocess.run(["docker", "info"], env=env, capture_output=True).returncode == 0


@contextmanager
def docker_engine(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """Yield the environment of a Docker engine: the running one, else one of our own that
    touches nothing of the machine's (its own data, exec root, pidfile and socket; no iptables
    rules, no ip_forward, no docker0 bridge), stopped at the end."""
    if engine_answers(env):
        log("using the running Docker engine")
        yield env
        return
    run_dir = Path(tempfile.mkdtemp(prefix="sf-dockerd-"))  # short: socket paths have a limit
    socket = run_dir / "docker.sock"
    STATE.mkdir(parents=True, exist_ok=True)
    command = ["dockerd", "--storage-driver", "vfs", "--iptables=false", "--ip-forward=false",
               "--bridge=none", "--data-root", str(STATE / "docker"),
               "--exec-root", str(run_dir / "exec"), "--pidfile", str(run_dir / "docker.pid"),
               "--host", f"unix://{socket}"]
    log(f"starting {' '.join(command)} (log: {STATE / 'dockerd.log'})")
    with open(STATE / "dockerd.log", "ab") as daemon_log:
        daemon = subprocess.Popen(command, stdout=daemon_log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    own = {**env, "DOCKER_HOST": f"unix://{socket}"}
    try:
        deadline = time.monotonic() + 60
        while not engine_answers(own):
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"compose-check: dockerd did not start; see {STATE / 'dockerd.log'}")
            time.sleep(0.5)
        yield own
    finally:
        log("stopping our dockerd")
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        # dockerd leaves its default network namespace mounted under the exec root
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        for mount in sorted((m for m in mounts if m.startswith(f"{run_dir}/")), reverse=True):
            subprocess.run(["umount", "-l", mount], check=False)
        shutil.rmtree(run_dir, ignore_errors=True)


def image_exists(env: dict[str, str], image: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", image], env=env,
                          capture_output=True).returncode == 0


# --- the Debian base image ----------------------------------------------------------------

def apt_mirrors() -> tuple[str, str | None]:
    """Return the Debian mirror and the security mirror this machine's apt uses."""
    texts = [path.read_text(errors="replace") for path in
             [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
             if path.is_file() and path.suffix in ("", ".list", ".sources")]
    uris = []
    for text in texts:
        uris += re.findall(r"^\s*URIs:\s*(\S+)", text, re.MULTILINE)
        uris += re.findall(r"^\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)", text, re.MULTILINE)
    debian = [uri.rstrip("/") for uri in uris if "debian" in uri and "security" not in uri]
    security = [uri.rstrip("/") for uri in uris if "debian-security" in uri]
    return (debian[0] if debian else DEFAULT_MIRROR), (security[0] if security else None)


def build_base_image(env: dict[str, str]) -> None:
    """debootstrap a minimal bookworm and import it as BASE_IMAGE (skipped when it exists)."""
    if shutil.which("debootstrap") is None:
        raise SystemExit("compose-check: debootstrap is missing "
                         "(bash platform/bootstrap.sh --test-tools installs it)")
    mirror, security = apt_mirrors()
    rootfs = Path(tempfile.mkdtemp(prefix="rootfs-", dir=STATE))
    rootfs.chmod(0o755)  # it becomes the image's /: mkdtemp's 0700 would lock every user out
    try:
        log(f"debootstrap --variant=minbase bookworm from {mirror}")
        run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), mirror], capture=True)
        sources = [f"deb {mirror} bookworm main", f"deb {mirror} bookworm-updates main"]
        if security:
            sources.append(f"deb {security} bookworm-security main")
        (rootfs / "etc/apt/sources.list").write_text("\n".join(sources) + "\n")
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for item in (rootfs / cache).glob("*"):
                if item.is_file():
                    item.unlink()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        # an imported image has no configuration: give it Debian's PATH, or `sh` is not found
        imported = subprocess.run(["docker", "import", "--change", f"ENV PATH={DEBIAN_PATH}",
                                   "--change", 'CMD ["bash"]', "-", BASE_IMAGE],
                                  stdin=tar.stdout, env=env, capture_output=True, text=True)
        tar.stdout.close()
        if tar.wait() != 0 or imported.returncode != 0:
            raise SystemExit(f"compose-check: docker import failed: {imported.stderr}")
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)


def host_pip_config() -> tuple[str, Path | None]:
    """Return the pip index and CA file this machine's pip uses (PIP_INDEX_URL / PIP_CERT, else
    /etc/pip.conf or /etc/xdg/pip/pip.conf), so pip inside the image build reaches PyPI the
    same way (an HTTPS proxy with its own CA, a mirror)."""
    parser = configparser.ConfigParser()
    parser.read(["/etc/xdg/pip/pip.conf", "/etc/pip.conf"])
    index = os.environ.get("PIP_INDEX_URL") or parser.get("global", "index-url", fallback="")
    cert = os.environ.get("PIP_CERT") or parser.get("global", "cert", fallback="")
    return index, (Path(cert) if cert and Path(cert).is_file() else None)


def build_python_image(env: dict[str, str]) -> None:
    """The stand-in for python:3.11-slim-bookworm, which platform/Dockerfile builds FROM, with
    the host's pip index and CA in its /etc/pip.conf."""
    index, cert = host_pip_config()
    with tempfile.TemporaryDirectory(dir=STATE) as context:
        shutil.copy(STANDINS / "python.Dockerfile", Path(context) / "Dockerfile")
        Path(context, "pip-cert.pem").write_bytes(cert.read_bytes() if cert else b"")
        run(["docker", "build", "--network", "host", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}",
             "--build-arg", f"PIP_INDEX_URL={index}", "-t", PYTHON_IMAGE, context], env=env)


# --- the stack ----------------------------------------------------------------------------

def compose_command() -> list[str]:
    """Debian's docker-compose (v1), else the `docker compose` plugin."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    raise SystemExit("compose-check: neither docker-compose nor docker compose is installed")


def check_secrets() -> dict[str, str]:
    """Fresh secrets for this run only, the variables docker-compose.yml asks .env for."""
    token = secrets.token_urlsafe
    return {
        "STOCKFLOW_SECRET_KEY": token(48), "STOCKFLOW_DEVICE_SIGNING_KEY": token(48),
        "STOCKFLOW_METRICS_TOKEN": token(48), "MARIADB_PASSWORD": token(24),
        "MARIADB_ROOT_PASSWORD": token(24), "REDIS_PASSWORD": token(24),
        "RABBITMQ_PASSWORD": token(24), "STOCKFLOW_FLOWER_BASIC_AUTH": f"ops:{token(24)}",
        # as the Pis reach the broker (here: on the stack's own network)
        "STOCKFLOW_DEVICE_BROKER_URL": "amqp://rabbitmq:5672/stockflow",
        # this machine may already use 5000 and 5672: publish on loopback, any free port
        "WEB_PUBLISH": "127.0.0.1:", "BROKER_PUBLISH": "127.0.0.1:",
    }


class Stack:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.compose = [*compose_command(), "-p", PROJECT, "-f", str(ROOT / "docker-compose.yml"),
                        "-f", str(OVERRIDE)]

    def __call__(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return run([*self.compose, *args], env=self.env, **kwargs)

    def container_ids(self) -> list[str]:
        return self("ps", "-q", capture=True).stdout.split()

    def wait_healthy(self, timeout_s: float) -> None:
        """Until every container with a health check is healthy and the rest run (the
        one-shot migrate: exited 0)."""
        deadline = time.monotonic() + timeout_s
        while True:
            states = {}
            for container in self.container_ids():
                inspected = json.loads(run(["docker", "inspect", container], env=self.env,
                                           capture=True).stdout)[0]
                state = inspected["State"]
                name = inspected["Name"].lstrip("/")
                states[name] = (state.get("Health", {}).get("Status") or state["Status"],
                                state.get("ExitCode", 0))
            waiting = {name: status for name, (status, code) in states.items()
                       if status not in ("healthy", "running") and not (status == "exited" and code == 0)}
            if states and not waiting:
                return
            failed = {name: status for name, status in waiting.items()
                      if status in ("unhealthy", "exited", "dead")}
            if failed or time.monotonic() > deadline:
                self("ps", check=False)
                for name in failed or waiting:
                    run(["docker", "logs", "--tail", "60", name], env=self.env, check=False)
                raise SystemExit(f"compose-check: not healthy: {failed or waiting}")
            time.sleep(3)

    def python(self, code: str) -> str:
        """Run Python in the web container (the app's own code and production settings)."""
        return self("exec", "-T", "web", "python", "-c", code, capture=True).stdout


def issue_device(stack: Stack) -> dict[str, str]:
    """`devices add` in the web container; return the agent's environment lines it printed."""
    printed = stack("exec", "-T", "web", "flask", "--app", "web", "devices", "add", DEVICE_ID,
                    "--store", STORE, capture=True).stdout
    lines = dict(line.split("=", 1) for line in printed.splitlines()
                 if re.match(r"^STOCKFLOW_AGENT_[A-Z0-9_]+=", line))
    if "STOCKFLOW_AGENT_BROKER_URL" not in lines:
        raise SystemExit(f"compose-check: devices add printed no broker URL:\n{printed}")
    return lines


def stock_products(stack: Stack, count: int) -> None:
    stack.python(
        "from core.db import session_scope\n"
        "from core.models import Produto\n"
        "with session_scope() as s:\n"
        f"    s.add_all([Produto(id={FIRST_PRODUCT} + n, store_key={STORE!r}, descricao=f'check {{n}}',"
        f" preco=1) for n in range({count})])\n")


def written_off(stack: Stack) -> tuple[int, int]:
    """Return (scans of the device written off, products removed by them) from the database."""
    out = stack.python(
        "from sqlalchemy import func, select\n"
        "from core.db import session_scope\n"
        "from core.models import BaixaLeitura, ProdutoRemovido\n"
        "with session_scope() as s:\n"
        f"    removed = s.scalar(select(func.count()).select_from(BaixaLeitura).where("
        f"BaixaLeitura.device_id == {DEVICE_ID!r}, BaixaLeitura.outcome == 'removed'))\n"
        f"    rows = s.scalar(select(func.count()).select_from(ProdutoRemovido).where("
        f"ProdutoRemovido.device_id == {DEVICE_ID!r}))\n"
        "    print(removed, rows)\n")
    removed, rows = out.split()
    return int(removed), int(rows)


def send_scans(stack: Stack, agent_env: dict[str, str], count: int, timeout_s: float) -> dict[str, int]:
    """Run the real edge agent (`run --stdin`) in a container on the stack's network with the
    issued credentials, feed it `count` product ids, wait until the database shows them written
    off, stop it, and read its spool's status (empty: every outcome came back)."""
    work = Path(tempfile.mkdtemp(prefix="pi-", dir=STATE))
    work.chmod(0o755)
    (work / "printers.json").write_text(json.dumps({"store_key": STORE}))
    (work / "scans.txt").write_text("".join(f"{FIRST_PRODUCT + n}\n" for n in range(count)))
    for path in work.iterdir():
        path.chmod(0o644)
    env_args = [arg for name, value in {**agent_env, "STOCKFLOW_AGENT_PRINTERS_JSON": "/check/printers.json",
                                        "STOCKFLOW_AGENT_SPOOL_DIR": "/var/lib/stockflow",
                                        "STOCKFLOW_AGENT_ACK_TIMEOUT_S": "20"}.items()
                for arg in ("-e", f"{name}={value}")]
    name = f"{PROJECT}-pi"
    run(["docker", "rm", "-f", name], env=stack.env, check=False, capture=True)
    try:
        stack("run", "-d", "--name", name, "-v", f"{work}:/check:ro", *env_args, "pi",
              "sh", "-c", "exec python -m edge_agent run --stdin < /check/scans.txt", capture=True)
        deadline = time.monotonic() + timeout_s
        removed = rows = 0
        while time.monotonic() < deadline:
            removed, rows = written_off(stack)
            if removed >= count:
                break
            time.sleep(2)
        # the last outcomes may still be on their way to the Pi
        time.sleep(3)
        run(["docker", "stop", "-t", "20", name], env=stack.env, capture=True)
        agent_log = run(["docker", "logs", name], env=stack.env, capture=True).stdout
        accepted = sum(1 for line in agent_log.splitlines() if '"accepted": true' in line)
        if removed < count:  # say why: the agent's last complaints
            complaints = [line for line in agent_log.splitlines() if "WARNING" in line or "ERROR" in line]
            log("the agent said, last:\n" + "\n".join(complaints[-5:]))
        printed = stack("run", "--rm", "-T", "-v", f"{work}:/check:ro", *env_args, "pi", "python",
                        "-m", "edge_agent", "status", "--json", capture=True).stdout
        status = json.loads([line for line in printed.splitlines() if line.startswith("{")][-1])
    finally:
        run(["docker", "rm", "-f", name], env=stack.env, check=False, capture=True)
        shutil.rmtree(work, ignore_errors=True)
    removed, rows = written_off(stack)
    return {"scans_sent": count, "scans_accepted": accepted, "scans_written_off": removed,
            "products_removed": rows, "spool_left": status["spool_depth"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=300, help="scans the agent sends (300)")
    parser.add_argument("--keep", action="store_true", help="leave the stack up (no down -v)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("compose-check: run as root (it may start dockerd and runs debootstrap)")
    STATE.mkdir(parents=True, exist_ok=True)
    timer, started = Timer(), time.monotonic()
    env = {**os.environ, **check_secrets()}
    with docker_engine(env) as env:
        with timer.step("base_image"):
            timer.figures["base_image_cached"] = image_exists(env, BASE_IMAGE)
            if not timer.figures["base_image_cached"]:
                build_base_image(env)
        stack = Stack(env)
        with timer.step("build"):
            build_python_image(env)
            # the app services share one image: built once (migrate), with the stand-ins
            stack("build", "--parallel", "mariadb", "redis", "rabbitmq", "migrate")
            stack("build", "pi")  # FROM the project image
        ok = False
        try:
            with timer.step("up"):
                stack("up", "-d")
                stack.wait_healthy(timeout_s=600)
            device_env = issue_device(stack)
            stock_products(stack, args.scans)
            with timer.step("scans"):
                timer.figures.update(send_scans(stack, device_env, args.scans, timeout_s=300))
            ok = (timer.figures["scans_written_off"] == args.scans == timer.figures["products_removed"]
                  and timer.figures["spool_left"] == 0)
        finally:
            if not args.keep:
                with timer.step("down"):
                    stack("down", "-v", "--remove-orphans", check=False)
    timer.figures["total_s"] = round(time.monotonic() - started, 1)
    timer.figures["ok"] = ok
    print(json.dumps(timer.figures))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
