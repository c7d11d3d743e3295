"""Settings of the web service, read from the environment and `.env` (pydantic-settings).

`get_settings()` is cached; tests change the environment and then call `reset_settings()`.
An invalid value raises `ConfigError` with one line naming the variable (values are never echoed:
they may hold passwords).
"""

from __future__ import annotations

import logging
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.errors import ConfigError

log = logging.getLogger("app.config")

DbType = Literal["postgresql", "sqlite"]
SECRET_KEY_FILE = "secret_key"
_PG_SCHEMES = {"postgres", "postgresql", "postgresql+asyncpg", "postgresql+psycopg2", "postgresql+psycopg"}
_SQLITE_SCHEMES = {"sqlite", "sqlite+aiosqlite", "sqlite+pysqlite"}


def normalize_database_url(url: str) -> tuple[str, DbType]:
    """Return (SQLAlchemy async URL, "postgresql" | "sqlite") for any supported DATABASE_URL spelling.

    PostgreSQL URLs (including `+psycopg2`) run on asyncpg, SQLite URLs on aiosqlite; a relative SQLite
    path (`sqlite:///data/x.db`) stays relative to the working directory.
    """
    try:
        parsed = make_url(url.strip())
    except ArgumentError as exc:
        raise ValueError("not a database URL (expected postgresql://... or sqlite:///...)") from exc
    scheme = parsed.drivername.lower()
    if scheme in _PG_SCHEMES:
        query = dict(parsed.query)
        if "sslmode" in query:  # libpq spelling -> asyncpg's
            query["ssl"] = query.pop("sslmode")
        parsed = parsed.set(drivername="postgresql+asyncpg", query=query)
        if not parsed.database:
            raise ValueError("the PostgreSQL URL names no database (postgresql://user:pass@host:5432/DBNAME)")
        return parsed.render_as_string(hide_password=False), "postgresql"
    if scheme in _SQLITE_SCHEMES:
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False), "sqlite"
    raise ValueError(
        f"unsupported scheme {scheme!r} (use postgresql://, postgresql+asyncpg:// or sqlite:///)"
    )


def sqlite_file(url: str) -> Path | None:
    """The database file of an SQLite URL (None for PostgreSQL or an in-memory database)."""
    async_url, db_type = normalize_database_url(url)
    database = make_url(async_url).database
    if db_type != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def hide_password(url: str) -> str:
    """The URL with its password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable URL>"


def _default_concurrency() -> int:
    return max(1, (os.cpu_count() or 2) - 1)


class Settings(BaseSettings):
    """Every setting of the service; .env.example documents each one."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Core
    ENVIRONMENT: Literal["development", "production", "test"] = "development"
    DATABASE_URL: str = "sqlite:///data/pcap_analyzer.db"
    SECRET_KEY: str | None = Field(default=None, repr=False)
    DATA_DIR: Path = Path("./data")
    REPORT_TTL_HOURS: int = Field(default=24, gt=0)
    # Pool per process: DB_POOL_MIN_SIZE connections stay open (what the steady load needs), up to
    # DB_POOL_MAX_SIZE under bursts; a request waits DB_POOL_TIMEOUT_SECONDS for one before a 503 "busy".
    DB_POOL_MIN_SIZE: int = Field(default=10, ge=0)
    DB_POOL_MAX_SIZE: int = Field(default=20, ge=1)
    DB_POOL_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0)
    DB_POOL_RECYCLE_SECONDS: int = Field(default=1800, gt=0)
    DB_CONNECT_TIMEOUT_SECONDS: float = Field(default=5.0, gt=0)
    # Web service
    ACCESS_TOKEN_EXPIRE_MINUTES: int = Field(default=30, gt=0)
    # Each web process reuses an account row read for authentication this long (0: read every request);
    # a change made through another process (sign-out, block) applies there within this time.
    AUTH_CACHE_SECONDS: float = Field(default=1.0, ge=0, le=10)
    MAX_UPLOAD_MB: int = Field(default=1024, gt=0)
    MAX_DECOMPRESSED_MB: int = Field(default=4096, gt=0)
    # A gzip/zstd upload may expand at most this many times (real captures: 2-20x; bombs: 1000x+).
    MAX_DECOMPRESSION_RATIO: float = Field(default=100, gt=1)
    MAX_REQUEST_BODY_KB: int = Field(default=64, gt=0)  # every route but the upload (JSON, forms)
    MAX_REQUEST_HEADERS_KB: int = Field(default=32, gt=0)  # all request headers together
    # Addresses of reverse proxies whose X-Forwarded-For is believed (comma-separated, "*" for any).
    FORWARDED_ALLOW_IPS: str = "127.0.0.1"
    WEB_CONCURRENCY: int = Field(default_factory=lambda: os.cpu_count() or 1, gt=0)  # serve's processes
    # Requests one web process works on at once (0: no limit); more wait their turn in arrival order.
    WEB_MAX_ACTIVE_REQUESTS: int = Field(default=3, ge=0)
    MAX_PENDING_TASKS_PER_USER: int = Field(default=5, gt=0)
    WORKER_ENABLED: bool = True
    WORKER_CONCURRENCY: int = Field(default_factory=_default_concurrency, gt=0)
    # A crashed worker's task is retried once its lease runs out: TASK_LEASE_SECONDS after the last
    # heartbeat (sent every TASK_HEARTBEAT_SECONDS, which must be shorter; unset: a third of the lease),
    # at most TASK_MAX_ATTEMPTS times.
    TASK_LEASE_SECONDS: float = Field(default=15, gt=0)
    TASK_HEARTBEAT_SECONDS: float | None = Field(default=None, gt=0)
    TASK_MAX_ATTEMPTS: int = Field(default=3, gt=0)
    # Per analysis: the engine process is stopped and the task failed past these (0 = no limit).
    ANALYSIS_MAX_SECONDS: float = Field(default=3600, ge=0)
    ANALYSIS_MAX_MEMORY_MB: float = Field(default=4096, ge=0)
    CLEANUP_INTERVAL_MINUTES: float = Field(default=10, gt=0)
    LOGIN_RATE_LIMIT_ATTEMPTS: int = Field(default=5, gt=0)
    LOGIN_RATE_LIMIT_WINDOW_SECONDS: int = Field(default=300, gt=0)
    COOKIE_SECURE: bool | None = None  # None: True in production, False otherwise
    # Operations: logs and metrics
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    LOG_FORMAT: Literal["text", "json"] = "text"
    METRICS_TOKEN: str | None = Field(default=None, repr=False)
    WORKER_METRICS_PORT: int | None = Field(default=None, ge=1, le=65535)
    WORKER_METRICS_ADDR: str = "127.0.0.1"
    HSTS_ENABLED: bool | None = None  # None: on in production (the service then runs behind HTTPS)
    HSTS_MAX_AGE_SECONDS: int = Field(default=31_536_000, ge=0)
    # Accounts
    APP_BASE_URL: str = "http://localhost:8000"  # the public address, for links in emails
    PASSWORD_RESET_TOKEN_MINUTES: int = Field(default=60, gt=0)
    REQUIRE_ADMIN_2FA: bool = False
    # Email (off unless SMTP_HOST is set; MAIL_ENABLED=false turns it off explicitly)
    MAIL_ENABLED: bool | None = None
    SMTP_HOST: str | None = None
    SMTP_PORT: int = Field(default=587, gt=0, lt=65536)
    SMTP_USER: str | None = None
    SMTP_PASSWORD: str | None = Field(default=None, repr=False)
    SMTP_STARTTLS: bool | None = None  # None: use STARTTLS when the server offers it
    SMTP_TLS: bool = False  # implicit TLS (usually port 465)
    SMTP_TIMEOUT_SECONDS: float = Field(default=20.0, gt=0)
    MAIL_FROM: str = "pcap-analyzer <noreply@localhost>"
    MAIL_MAX_ATTEMPTS: int = Field(default=4, gt=0)

    @field_validator("DATABASE_URL")
    @classmethod
    def _check_url(cls, value: str) -> str:
        normalize_database_url(value)
        return value.strip()

    @field_validator("LOG_LEVEL", "LOG_FORMAT", mode="before")
    @classmethod
    def _case(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str):
            return value.strip().upper() if info.field_name == "LOG_LEVEL" else value.strip().lower()
        return value

    @field_validator("METRICS_TOKEN")
    @classmethod
    def _check_metrics_token(cls, value: str | None) -> str | None:
        if value is not None and value.strip() == "":
            return None
        if value is not None and len(value) < 16:
            raise ValueError("must be at least 16 characters (generate one with: openssl rand -hex 32)")
        return value

    @field_validator("SECRET_KEY")
    @classmethod
    def _check_secret(cls, value: str | None) -> str | None:
        if value is not None and value.strip() == "":
            return None
        if value is not None and len(value) < 32:
            raise ValueError("must be at least 32 characters (generate one with: openssl rand -hex 32)")
        return value

    @model_validator(mode="after")
    def _finish(self) -> Settings:
        if self.DB_POOL_MIN_SIZE > self.DB_POOL_MAX_SIZE:
            raise ValueError("DB_POOL_MIN_SIZE must not exceed DB_POOL_MAX_SIZE")
        if self.TASK_HEARTBEAT_SECONDS is None:
            self.TASK_HEARTBEAT_SECONDS = self.TASK_LEASE_SECONDS / 3
        if self.TASK_HEARTBEAT_SECONDS >= self.TASK_LEASE_SECONDS:
            raise ValueError("TASK_HEARTBEAT_SECONDS must be shorter than TASK_LEASE_SECONDS")
        if self.COOKIE_SECURE is None:
            self.COOKIE_SECURE = self.ENVIRONMENT == "production"
        if self.HSTS_ENABLED is None:
            self.HSTS_ENABLED = self.ENVIRONMENT == "production"
        if self.SMTP_HOST is not None and not self.SMTP_HOST.strip():
            self.SMTP_HOST = None
        if self.MAIL_ENABLED is None:
            self.MAIL_ENABLED = self.SMTP_HOST is not None
        elif self.MAIL_ENABLED and self.SMTP_HOST is None:
            raise ValueError("MAIL_ENABLED=true needs SMTP_HOST")
        if self.SMTP_TLS and self.SMTP_STARTTLS:
            raise ValueError("SMTP_TLS and SMTP_STARTTLS exclude each other (465: SMTP_TLS, 587: STARTTLS)")
        self.APP_BASE_URL = self.APP_BASE_URL.rstrip("/")
        if self.SECRET_KEY is None:
            if self.ENVIRONMENT == "production":
                raise ValueError("SECRET_KEY is required when ENVIRONMENT=production (openssl rand -hex 32)")
            self.SECRET_KEY = _load_or_create_secret(
                Path(self.DATA_DIR), warn=self.ENVIRONMENT == "development"
            )
        return self

    @property
    def async_database_url(self) -> str:
        """DATABASE_URL normalised for SQLAlchemy's async drivers."""
        return normalize_database_url(self.DATABASE_URL)[0]

    @property
    def mail_enabled(self) -> bool:
        """Whether the service sends emails (SMTP_HOST set and MAIL_ENABLED not false)."""
        return bool(self.MAIL_ENABLED and self.SMTP_HOST)

    @property
    def db_type(self) -> DbType:
        return normalize_database_url(self.DATABASE_URL)[1]


def _load_or_create_secret(data_dir: Path, *, warn: bool) -> str:
    """Development key kept in DATA_DIR/secret_key (0600), so sessions survive restarts."""
    path = data_dir / SECRET_KEY_FILE
    if path.is_file():
        key = path.read_text().strip()
        if len(key) >= 32:
            return key
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    os.chmod(path, 0o600)
    if warn:
        log.warning("SECRET_KEY is not set: generated one in %s (set SECRET_KEY in production)", path)
    return key


def _one_line(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        name = ".".join(str(p) for p in error["loc"]) or "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{name}: {message}" if error["loc"] else message)
    return "invalid setting " + "; ".join(parts)


def load_settings(**overrides: object) -> Settings:
    """Build Settings from the environment (plus overrides), turning validation errors into ConfigError."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; see reset_settings)."""
    return load_settings()


def reset_settings() -> None:
    """Forget the cached settings so the next get_settings() re-reads the environment (for tests)."""
    get_settings.cache_clear()


class _DatabaseOnly(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")
    DATABASE_URL: str = Settings.model_fields["DATABASE_URL"].default


def database_url_from_env() -> str:
    """DATABASE_URL from the environment or .env, validated, without the other settings' side effects."""
    try:
        url = _DatabaseOnly().DATABASE_URL
        normalize_database_url(url)
    except (ValidationError, ValueError) as exc:
        raise ConfigError(f"invalid setting DATABASE_URL: {exc}") from None
    return url
