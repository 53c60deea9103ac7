"""The deployment files stay true: compose validates, every setting is documented, the
Procfile runs what exists."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from core.settings import Settings
from tests.support.environment import ROOT


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(re.findall(r"^(STOCKFLOW_[A-Z0-9_]+)=", (ROOT / "platform/env.example")
                                .read_text(), re.MULTILINE))
    expected = {f"STOCKFLOW_{name.upper()}" for name in Settings.model_fields}
    assert expected - documented == set(), "undocumented settings"
    assert documented - expected == set(), "documented settings that do not exist"


def test_docker_compose_config_is_accepted() -> None:
    compose = shutil.which("docker-compose")
    command = [compose, "config", "-q"] if compose else None
    if command is None and subprocess.run(["docker", "compose", "version"],
                                          capture_output=True).returncode == 0:
        command = ["docker", "compose", "config", "-q"]
    if command is None:
        pytest.fail("neither docker-compose nor docker compose is installed "
                    "(platform/bootstrap.sh --test-tools installs docker-compose)")
    env = {**os.environ, "STOCKFLOW_SECRET_KEY": "k" * 40, "MARIADB_PASSWORD": "p",
           "MARIADB_ROOT_PASSWORD": "r", "REDIS_PASSWORD": "rp", "STOCKFLOW_FLOWER_BASIC_AUTH": "ops:pw"}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    text = (ROOT / "docker-compose.yml").read_text()
    for service in ("redis", "mariadb", "migrate", "web", "worker", "beat", "flower"):
        assert re.search(rf"^  {service}:", text, re.MULTILINE), service


def test_procfile_modules_exist() -> None:
    procfile = (ROOT / "platform/Procfile").read_text()
    for module in re.findall(r"python -m ([\w.]+)", procfile):
        path = ROOT / module.replace(".", "/")
        assert path.with_suffix(".py").exists() or (path / "__main__.py").exists(), module
    assert "gunicorn --worker-class gevent" in procfile
    assert "redbeat.RedBeatScheduler" in procfile


def test_platform_is_not_a_python_package() -> None:
    # a top-level package named platform would shadow the standard library module
    assert not (ROOT / "platform/__init__.py").exists()
