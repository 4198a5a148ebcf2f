"""One ``Settings`` object, built once at start-up from the environment (contract §7)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./var/steward.db"
URL_FIELDS = frozenset({"mqtt_url", "database_url", "influx_url", "webhook_url"})
"""Settings whose value may carry a password: shown through ``redact_url``."""
SECRET_QUERY_WORDS = ("password", "token", "secret", "key")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STEWARD_", extra="ignore", frozen=True)

    mqtt_url: str = "mqtt://127.0.0.1:1883"
    database_url: str = DEFAULT_DATABASE_URL
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    site_config: Path | None = None

    influx_url: str | None = None
    influx_token: SecretStr | None = None
    influx_org: str | None = None
    influx_bucket: str | None = None
    # Telemetry storage (telemetry/): the embedded store unless STEWARD_INFLUX_URL is set.
    telemetry_path: Path | None = None
    """Embedded store file; default telemetry.db beside an SQLite database, else ./var."""
    telemetry_retention_days: float = Field(default=30, gt=0)
    telemetry_spool_dir: Path | None = None
    """Where InfluxDB batches wait out an outage; default telemetry-spool/ beside the store."""
    telemetry_spool_max_mb: int = Field(default=1024, ge=1)

    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    admin_api_key: SecretStr | None = None
    integrations_config: Path | None = None
    """More webhook endpoints, with filters and templates (docs/integrations.md)."""

    # Beyond the contract's minimum: tuning knobs with safe defaults.
    mqtt_client_id: str = "steward-gateway"
    mqtt_keepalive_s: int = Field(default=30, ge=5, le=3600)
    tick_interval_s: float = Field(default=1.0, gt=0, le=60)
    max_payload_bytes: int = Field(default=65536, ge=256)
    dead_letter_size: int = Field(default=1000, ge=1)
    strict_devices: bool = False
    device_rate_per_s: float = Field(default=20.0, gt=0)
    """Sustained messages per second one device may send; the excess is dropped and counted."""
    device_burst: int = Field(default=100, ge=1)
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=120)
    mqtt_ticket_events: bool = True
    """Publish ticket events to ``estate/{site}/tickets`` on the service's broker."""
    delivery_poll_interval_s: float = Field(default=0.2, gt=0, le=60)
    delivery_retry_hours: float = Field(default=24.0, ge=1)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """``repr`` and ``str`` (what a log or a traceback shows) without URL passwords;
        ``SecretStr`` fields already print as ``**********``."""
        for name, value in super().__repr_args__():
            shown = redact_url(value) if name in URL_FIELDS and isinstance(value, str) else value
            yield name, shown

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"mqtt", "tcp"} or not parts.hostname:
            raise ValueError("must look like mqtt://[user:pass@]host:port")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be sqlite:///path or postgresql://user@host/db")
        return value


def mqtt_address(url: str) -> tuple[str, int, str | None, str | None]:
    """``mqtt://user:pass@host:port`` → (host, port, user, password)."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 1883, parts.username, parts.password


def redact_url(url: str) -> str:
    """A URL fit for a log: ``mqtt://user:pass@host:1883`` → ``mqtt://user:***@host:1883``,
    and ``***`` for query parameters named like a password, token, secret or key."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user, _, _ = netloc.rpartition("@")[0].partition(":")
        netloc = f"{user}:***@{netloc.rpartition('@')[2]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [
                (k, "***" if any(w in k.lower() for w in SECRET_QUERY_WORDS) else v)
                for k, v in pairs
            ],
            safe="*",
        )
    return urlunsplit(parts._replace(netloc=netloc, query=query))
