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
