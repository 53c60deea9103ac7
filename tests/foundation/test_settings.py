"""Settings: one prefix, embedded defaults, and production refusing development values."""
from __future__ import annotations

import subprocess
import sys

import pytest

from core.settings import DEV_SECRET_KEY, ConfigurationError, Settings
from tests.support.environment import ROOT
from tests.support.settings import PRODUCTION


def test_production_with_development_secret_refuses_with_clear_message() -> None:
    with pytest.raises(ConfigurationError) as refused:
        Settings(**{**PRODUCTION, "secret_key": DEV_SECRET_KEY})
    assert "STOCKFLOW_SECRET_KEY" in str(refused.value)
    assert "Production mode refuses to start" in str(refused.value)


@pytest.mark.parametrize("missing", ["database_url", "redis_url", "flower_basic_auth"])
def test_production_needs_real_services(missing: str) -> None:
    with pytest.raises(ConfigurationError, match=f"STOCKFLOW_{missing.upper()}"):
        Settings(**{**PRODUCTION, missing: ""})


def test_production_refuses_sqlite() -> None:
    with pytest.raises(ConfigurationError, match="STOCKFLOW_DATABASE_URL"):
        Settings(**{**PRODUCTION, "database_url": "sqlite:///x.db"})


def test_production_with_real_values_starts() -> None:
    assert Settings(**PRODUCTION).is_production


def test_development_defaults_are_embedded(tmp_path: object) -> None:
    settings = Settings(_env_file=None, var_dir=tmp_path, database_url="", redis_url="")
    assert settings.effective_database_url == f"sqlite:///{tmp_path}/stockflow.sqlite3"
    assert settings.effective_redis_url == "redis://127.0.0.1:6389/0"
    assert settings.effective_broker_url == settings.effective_redis_url


def test_worker_process_refuses_to_start_in_production_on_dev_secret() -> None:
    """The whole process, not just the object: `celery -A tasks` exits with the message."""
    env = {"PATH": "/usr/bin:/bin", "STOCKFLOW_ENV": "production",
           "STOCKFLOW_DATABASE_URL": PRODUCTION["database_url"],
           "STOCKFLOW_REDIS_URL": PRODUCTION["redis_url"], "STOCKFLOW_FLOWER_BASIC_AUTH": "a:b"}
    result = subprocess.run([sys.executable, "-c", "import tasks"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "Production mode refuses to start; set STOCKFLOW_SECRET_KEY" in result.stderr
