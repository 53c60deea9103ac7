"""The deployment files stay true: every setting is documented, the Procfile runs what exists
(docker-compose.yml: test_compose_files.py)."""
from __future__ import annotations

import re

from core.settings import Settings
from tests.support.environment import ROOT


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(re.findall(r"^(STOCKFLOW_[A-Z0-9_]+)=", (ROOT / "platform/env.example")
                                .read_text(), re.MULTILINE))
    expected = {f"STOCKFLOW_{name.upper()}" for name in Settings.model_fields}
    assert expected - documented == set(), "undocumented settings"
    assert documented - expected == set(), "documented settings that do not exist"


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
