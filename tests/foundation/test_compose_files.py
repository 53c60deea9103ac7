"""docker-compose.yml and make compose-check's override stay true without running Docker: the
files resolve, the production settings accept what compose gives the app, RabbitMQ's
definitions parse and match the broker URL, and no secret lives in the repository.
(`make compose-check` runs the stack for real.)"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from urllib.parse import urlsplit

import pytest
import yaml

from core.celery_app import QUEUES
from core.device_brokers import REPLY_QUEUE_PREFIX, TASK_QUEUES
from core.settings import ConfigurationError, Settings
from tests.support.environment import ROOT

PRODUCTION = ROOT / "docker-compose.yml"
OVERRIDE = ROOT / "platform/compose/docker-compose.check.yml"
RABBITMQ = ROOT / "platform/compose/rabbitmq"
APP_SERVICES = ("migrate", "web", "worker", "worker_ruptura", "worker_slow", "beat", "flower")
SERVICES = ("mariadb", "redis", "rabbitmq", *APP_SERVICES)
# What .env must hold; each value a test stand-in of a realistic length.
SECRETS = {
    "STOCKFLOW_SECRET_KEY": "s" * 48, "STOCKFLOW_DEVICE_SIGNING_KEY": "d" * 48,
    "STOCKFLOW_METRICS_TOKEN": "m" * 48, "MARIADB_PASSWORD": "mariadb-pw",
    "MARIADB_ROOT_PASSWORD": "mariadb-root-pw", "REDIS_PASSWORD": "redis-pw",
    "RABBITMQ_PASSWORD": "rabbitmq-pw", "STOCKFLOW_FLOWER_BASIC_AUTH": "ops:Kq7vX2pLm9RtZ4wYb8",
}


def compose_config(*files) -> dict:
    """The files as docker-compose resolves them (anchors, merges, variables)."""
    compose = shutil.which("docker-compose")
    command = [compose] if compose else ["docker", "compose"]
    if not compose and subprocess.run([*command, "version"], capture_output=True).returncode:
        pytest.fail("neither docker-compose nor docker compose is installed "
                    "(platform/bootstrap.sh --test-tools installs docker-compose)")
    args = [arg for path in files for arg in ("-f", str(path))]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("STOCKFLOW_")}, **SECRETS}
    done = subprocess.run([*command, *args, "config"], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def volume_target(volume: str | dict) -> tuple[str, str]:
    """(target, source) of a resolved volume: "source:target[:mode]" (docker-compose v1) or
    a mapping (the compose plugin)."""
    if isinstance(volume, dict):
        return volume["target"], volume["source"]
    source, target = volume.split(":")[:2]
    return target, source


@pytest.fixture(scope="module")
def production() -> dict:
    return compose_config(PRODUCTION)


def test_every_secret_is_required_from_env() -> None:
    text = PRODUCTION.read_text()
    for name in SECRETS:
        uses = re.findall(r"\$\{" + name + r"([^}]*)\}", text)
        assert uses, f"{name} is not used"
        assert all(use.startswith(":?") for use in uses), f"{name} must come from .env (:?)"
    compose = shutil.which("docker-compose") or "docker-compose"
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    done = subprocess.run([compose, "-f", str(PRODUCTION), "config", "-q"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert done.returncode != 0 and "set " in done.stderr, "compose ran without its secrets"


def test_no_secret_is_written_in_the_files() -> None:
    secret = re.compile(r"PASSWORD|SECRET|_KEY$|TOKEN|_AUTH$")
    for path in (PRODUCTION, OVERRIDE):
        for name, service in yaml.safe_load(path.read_text())["services"].items():
            environment = service.get("environment") or {}
            for key, value in environment.items():
                if secret.search(key):
                    assert re.fullmatch(r"\$\{[A-Z0-9_]+(:\?[^}]*|:-)\}", str(value)), f"{name}: {key}"
    for path in (PRODUCTION, OVERRIDE, *RABBITMQ.iterdir()):
        # credentials in a URL come from variables only
        for user, password in re.findall(r"://([^:/@\s]*):([^@\s]+)@", path.read_text()):
            assert password.startswith("${"), f"{path.name}: a password in a URL ({user})"
    definitions = json.loads((RABBITMQ / "definitions.json").read_text())
    assert [user["password"] for user in definitions["users"]] == ["@RABBITMQ_PASSWORD@"]


def test_services_and_their_dependencies(production: dict) -> None:
    services = production["services"]
    assert set(SERVICES) <= set(services)
    for name in APP_SERVICES:
        assert services[name]["image"] == "stockflow:latest"
    for name in ("web", "worker", "worker_ruptura", "worker_slow", "beat"):
        needs = services[name]["depends_on"]
        assert needs["rabbitmq"]["condition"] == "service_healthy", name
        assert needs["redis"]["condition"] == "service_healthy", name
        assert needs["migrate"]["condition"] == "service_completed_successfully", name
    # only the web and the broker are published; Flower, Redis, MariaDB, management API never
    published = {name: [port["target"] for port in service.get("ports", [])]
                 for name, service in services.items()}
    assert {name: ports for name, ports in published.items() if ports} == {
        "web": [5000], "rabbitmq": [5672]}


def test_app_environment_is_known_settings_that_production_accepts(production: dict,
                                                                  monkeypatch) -> None:
    fields = {f"STOCKFLOW_{name.upper()}" for name in Settings.model_fields}
    for name in APP_SERVICES:
        environment = production["services"][name]["environment"]
        unknown = {key for key in environment if key.startswith("STOCKFLOW_")} - fields
        assert unknown == set(), f"{name}: not settings in core/settings.py: {unknown}"
    for key in list(os.environ):
        if key.startswith("STOCKFLOW_"):
            monkeypatch.delenv(key)
    for key, value in production["services"]["worker"]["environment"].items():
        monkeypatch.setenv(key, "" if value is None else str(value))
    try:
        settings = Settings()
    except ConfigurationError as exc:
        pytest.fail(f"production refuses the compose environment: {exc}")
    assert settings.is_production and settings.broker_is_amqp and settings.devices_enforced


def test_rabbitmq_definitions_match_the_broker_url(production: dict) -> None:
    definitions = json.loads((RABBITMQ / "definitions.json").read_text())
    broker = urlsplit(production["services"]["worker"]["environment"]["STOCKFLOW_BROKER_URL"])
    vhost, user = broker.path.lstrip("/"), broker.username
    assert [v["name"] for v in definitions["vhosts"]] == [vhost]
    assert {(p["user"], p["vhost"], p["configure"], p["write"], p["read"])
            for p in definitions["permissions"]} == {(user, vhost, ".*", ".*", ".*")}
    # devices add needs an administrator for the management API
    assert [u["tags"] for u in definitions["users"] if u["name"] == user] == ["administrator"]
    management = urlsplit(production["services"]["web"]["environment"][
        "STOCKFLOW_DEVICE_RABBITMQ_MANAGEMENT_URL"])
    assert (management.username, management.hostname, management.port) == (user, "rabbitmq", 15672)
    # the workers declare the feature queues (quorum, core/celery_app.py), not the definitions
    assert definitions["queues"] == definitions["exchanges"] == definitions["bindings"] == []
    policies = {p["name"]: p for p in definitions["policies"]}
    replies = policies["device-replies"]
    assert replies["vhost"] == vhost and replies["apply-to"] == "queues"
    assert re.match(replies["pattern"], REPLY_QUEUE_PREFIX + "pi-loja001-caixa1")
    assert not any(re.match(p["pattern"], queue) for p in policies.values() for queue in QUEUES)
    assert set(TASK_QUEUES) <= set(QUEUES)
    assert replies["definition"]["overflow"] == "drop-head"


def test_rabbitmq_service_loads_the_definitions(production: dict) -> None:
    service = production["services"]["rabbitmq"]
    assert service["hostname"] == "rabbitmq"  # the node name, and so its data, stay put
    targets = dict(volume_target(volume) for volume in service["volumes"])
    assert targets["/etc/rabbitmq/conf.d/90-stockflow.conf"].endswith(
        "platform/compose/rabbitmq/rabbitmq.conf")
    assert targets["/var/lib/rabbitmq"] == "rabbitmq-data"
    conf = (RABBITMQ / "rabbitmq.conf").read_text()
    rendered = re.search(r"^load_definitions\s*=\s*(\S+)", conf, re.MULTILINE).group(1)
    start = (RABBITMQ / "start.sh").read_text()
    assert rendered in start and "exec rabbitmq-server" in start
    assert service["command"] == ["sh", "/etc/stockflow/rabbitmq/start.sh"]
    consumer_timeout_s = int(re.search(r"^consumer_timeout\s*=\s*(\d+)", conf, re.MULTILINE)
                             .group(1)) / 1000
    assert consumer_timeout_s > Settings(env="test").time_limits("sync")[1]


def test_check_override_builds_every_image_production_pulls(production: dict) -> None:
    override = yaml.safe_load(OVERRIDE.read_text())["services"]
    merged = compose_config(PRODUCTION, OVERRIDE)["services"]
    for name, service in production["services"].items():
        if service["image"] == "stockflow:latest":
            build = merged[name]["build"]
            assert build["args"]["BASE_IMAGE"] == "stockflow/python:3.11-bookworm", name
        else:
            assert merged[name]["image"] != service["image"], f"{name} would be pulled"
            dockerfile = ROOT / merged[name]["build"]["context"] / merged[name]["build"]["dockerfile"]
            assert "stockflow/debian:bookworm" in dockerfile.read_text(), name
        assert merged[name]["build"].get("network") == "host", name
    assert override["pi"]["profiles"] == ["pi"]  # never started by `up`
    dockerfile = (ROOT / "platform/Dockerfile").read_text()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim-bookworm$", dockerfile, re.MULTILINE)
    assert "FROM ${BASE_IMAGE}" in dockerfile
