"""Configuration from the environment and `.env`, validated at start-up."""

import ipaddress
import secrets
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MIN_SECRET_BYTES = 32
PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "secret", "dev", "development", "test"})
DEV_SECRET_FILE = "secret_key"  # noqa: S105 - a file name

CommaList = Annotated[list[str], NoDecode]
QUEUE_SCHEMES = {
    "postgres": "postgresql",
    "postgresql": "postgresql",
    "redis": "redis",
    "rediss": "rediss",
}


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class ConfigError(Exception):
    """The configuration cannot be used; the message says what to change."""


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="COLLOQUY_", env_file=".env", extra="ignore", frozen=True
    )

    env: Environment = Environment.DEVELOPMENT
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    var_dir: Path = Path("var")
    database_url: str = Field(
        default="sqlite:///var/colloquy.db",
        validation_alias=AliasChoices("COLLOQUY_DATABASE_URL", "DATABASE_URL"),
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("COLLOQUY_REDIS_URL", "REDIS_URL")
    )

    secret_key: SecretStr | None = None
    access_token_ttl: int = Field(default=900, ge=30)
    refresh_token_ttl: int = Field(default=7 * 24 * 3600, ge=60)
    registration_enabled: bool = True
    api_keys_per_user: int = Field(default=50, ge=1)

    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_cost: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)
    password_hash_concurrency: int = Field(default=4, ge=1)

    cors_origins: CommaList = []
    cors_allow_credentials: bool = False
    docs_enabled: bool = True
    trusted_proxies: CommaList = ["127.0.0.1"]
    login_rate_limit: str = "10/minute"
    register_rate_limit: str = "10/minute"

    max_body_size: int = Field(default=1024 * 1024, ge=1024)
    metrics_enabled: bool = True
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_json: bool = True

    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    db_pool_timeout: float = Field(default=5.0, gt=0)
    db_connect_timeout: float = Field(default=5.0, gt=0)
    db_statement_timeout: float = Field(default=30.0, gt=0)
    sqlite_busy_timeout: float = Field(default=5.0, gt=0)

    task_retention_days: int = Field(default=30, ge=1)
    maintenance_interval: float = Field(default=3600.0, ge=0)

    providers: str | None = None
    providers_file: Path | None = None
    dev_model_enabled: bool | None = None
    dev_model_delay_ms: int = Field(default=0, ge=0, le=60_000)
    model_dirs: CommaList = ["var/models"]
    default_model: str | None = None
    generation_event_ttl: int = Field(default=300, ge=1)

    # Limits on model calls; None is unlimited. Keys may override their own per-minute limits.
    monthly_token_quota: int | None = Field(default=None, ge=0)
    user_requests_per_minute: int | None = Field(default=None, ge=1)
    user_tokens_per_minute: int | None = Field(default=None, ge=1)
    user_concurrent_streams: int | None = Field(default=None, ge=1)
    key_requests_per_minute: int | None = Field(default=600, ge=1)
    key_tokens_per_minute: int | None = Field(default=1_000_000, ge=1)
    key_concurrent_streams: int | None = Field(default=None, ge=1)

    # Fine-tuning datasets: upload limits, and where their files are kept (var_dir/datasets).
    dataset_max_bytes: int = Field(default=512 * 1024 * 1024, ge=1024)
    dataset_max_line_bytes: int = Field(default=1024 * 1024, ge=64)
    dataset_min_examples: int = Field(default=10, ge=1)
    dataset_dir: Path | None = None

    # Fine-tuning jobs: queued and running jobs per user, jobs trained at once by this process,
    # and runs a job may start before a lost worker fails it.
    fine_tuning_jobs_per_user: int = Field(default=2, ge=1)
    fine_tuning_concurrency: int = Field(default=1, ge=1)
    fine_tuning_max_attempts: int = Field(default=3, ge=1)

    # Distributed jobs: unset runs them in the API process; a postgresql:// or redis:// URL puts
    # them on SAQ's queue there, for `colloquy worker` processes to run (each trains
    # `fine_tuning_concurrency` jobs at once). A running job whose worker has been silent for
    # `worker_lost_after` seconds is taken back: queued again, or failed after its last attempt.
    queue_url: str | None = None
    queue_name: str = Field(default="colloquy", min_length=1, max_length=100)
    worker_lost_after: int = Field(default=30, ge=10)

    @field_validator("cors_origins", "trusted_proxies", "model_dirs", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        return _split_commas(value)

    @field_validator("queue_url")
    @classmethod
    def _queue_scheme(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        scheme, separator, rest = value.strip().partition("://")
        base = scheme.lower().split("+", 1)[0]
        if not separator or base not in QUEUE_SCHEMES:
            raise ValueError(f"not a postgresql:// or redis:// URL: {value!r}")
        # SAQ talks to PostgreSQL through psycopg: a SQLAlchemy driver suffix has no meaning there.
        return f"{QUEUE_SCHEMES[base]}://{rest}"

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"not an address or CIDR range: {item!r}") from exc
        return value

    @field_validator("login_rate_limit", "register_rate_limit")
    @classmethod
    def _valid_rate(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"not a rate limit such as '10/minute': {value!r}") from exc
        return value

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def dev_model_on(self) -> bool:
        """The development model: on by default in development, off in production."""
        if self.dev_model_enabled is None:
            return not self.is_production
        return self.dev_model_enabled

    @cached_property
    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(item, strict=False) for item in self.trusted_proxies)

    @cached_property
    def signing_key(self) -> str:
        """The secret that signs tokens: configured, or in development kept under var/."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        if self.is_production:
            raise ConfigError("COLLOQUY_SECRET_KEY must be set in production")
        return _development_secret(self.var_dir)

    def check(self) -> None:
        """Refuse configurations that are unsafe for the chosen environment."""
        if not self.is_production:
            return
        if self.secret_key is None:
            raise ConfigError(
                "COLLOQUY_SECRET_KEY must be set in production "
                "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        secret = self.secret_key.get_secret_value()
        if secret.strip().lower() in PLACEHOLDER_SECRETS:
            raise ConfigError("COLLOQUY_SECRET_KEY is a placeholder; set a random secret")
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ConfigError(
                f"COLLOQUY_SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes in production"
            )
        dev_file = self.var_dir / DEV_SECRET_FILE
        if dev_file.exists() and dev_file.read_text().strip() == secret:
            raise ConfigError(
                "COLLOQUY_SECRET_KEY is the development secret; set a new one for production"
            )
        if "*" in self.cors_origins and self.cors_allow_credentials:
            raise ConfigError(
                "COLLOQUY_CORS_ORIGINS allows any origin with credentials; "
                "list the allowed origins or turn COLLOQUY_CORS_ALLOW_CREDENTIALS off"
            )


def _development_secret(var_dir: Path) -> str:
    path = var_dir / DEV_SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    try:
        with path.open("x") as file:
            path.chmod(0o600)
            file.write(secret)
    except FileExistsError:
        return path.read_text().strip()
    return secret
