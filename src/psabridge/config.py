"""Process-wide settings, read from the environment (prefix ``PSABRIDGE_``) and an optional ``.env``.

Kept in one place so the CLI, the web app, the workers and the tests agree on where data lives and
which Autotask zone-discovery address is used (the demo and tests point it at the emulator).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

AUTOTASK_GLOBAL_ZONE_URL = "https://webservices.autotask.net/atservicesrest/v1.0/zoneInformation"


class Settings(BaseSettings):
    """Settings of one PSA Bridge installation."""

    model_config = SettingsConfigDict(env_prefix="PSABRIDGE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path(".psabridge"), description="Where the SQLite file and key file live.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; defaults to a SQLite file under data_dir."
    )
    encryption_key: SecretStr | None = Field(
        default=None, description="Fernet key for secrets at rest; else data_dir/secret.key is created."
    )
    autotask_zone_url: str = Field(
        default=AUTOTASK_GLOBAL_ZONE_URL, description="Autotask zone-discovery address (server-wide)."
    )
    autotask_integration_code: str | None = Field(
        default=None, description="Server-wide API tracking identifier, prefilled in the connector form."
    )
    secure_cookies: bool = Field(
        default=False, description="Mark the session cookie Secure (set when served behind https)."
    )
    session_ttl_minutes: int = Field(default=720, ge=5, description="Admin Hub login lifetime.")
    autotask_hourly_budget_cap: float | None = Field(
        default=None,
        gt=0,
        description=(
            "Share of the tenant's hourly API threshold this installation may use (a fraction in (0, 1]), or"
            " an absolute number of calls per rolling hour (> 1). At the cap a sync pauses and resumes later."
            " Unset: no cap of our own (Autotask's threshold still applies and the client slows past 50%)."
        ),
    )
    sync_batch_subscriptions: int = Field(
        default=5_000,
        ge=1,
        le=1_000_000,
        description=(
            "About how many subscriptions a sync plans and applies at a time (whole customers per batch):"
            " bounds the memory of a sync of a very large organization."
        ),
    )
    host: str = "127.0.0.1"
    port: int = 8000
    redis_url: str = "redis://127.0.0.1:6379/0"
    log_level: str = "INFO"
    log_format: str = Field(
        default="text",
        pattern="^(text|json)$",
        description="Log lines as plain text or one JSON object each.",
    )
    # --- scale-out: jobs, locks, schedules, operations --------------------------------------------
    broker_url: str = Field(
        default="",
        description=(
            "Redis URL of the Dramatiq broker (e.g. redis://127.0.0.1:6379/0). Empty: jobs run in the"
            " process that starts them (the embedded default). Set: `psabridge worker` runs them, and the"
            " connector lock, the Autotask concurrency slots and the hourly budget live in this Redis."
        ),
    )
    redis_prefix: str = Field(
        default="psabridge",
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="Prefix of every Redis key (and the Dramatiq namespace) of this installation.",
    )
    sync_lock_seconds: float = Field(
        default=60.0,
        ge=2,
        le=3600,
        description="Lease of a connector's Redis sync lock; the holder extends it every third of it.",
    )
    worker_heartbeat_seconds: float = Field(
        default=60.0,
        ge=1,
        le=3600,
        description="A worker silent this long is dead: its unfinished jobs are handed to another worker.",
    )
    change_sync_delay_seconds: float = Field(
        default=10.0,
        ge=0,
        le=3600,
        description=(
            "Quiet period after a hub change before its organization is synced (bursts coalesce);"
            " 0 turns change-driven sync off."
        ),
    )
    scheduler_tick_seconds: float = Field(
        default=30.0, ge=0.2, le=3600, description="How often `psabridge scheduler` looks for due schedules."
    )
    smtp_host: str = Field(default="", description="SMTP server for notifications; empty: no e-mail.")
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_from: str = "psabridge@localhost"
    notify_email_to: str = Field(default="", description="Comma-separated recipients of notifications.")
    notify_webhook_url: str = Field(default="", description="URL that receives notifications as JSON POSTs.")
    notify_webhook_secret: SecretStr | None = Field(
        default=None, description="Key of the HMAC-SHA256 signature (X-PSABridge-Signature) of each webhook."
    )

    def resolved_database_url(self) -> str:
        """The database URL in force: explicit, or a SQLite file under the data directory."""
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.data_dir / 'psabridge.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (cached; tests call ``get_settings.cache_clear()``)."""
    return Settings()
