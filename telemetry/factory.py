"""``make_sink``: InfluxDB when ``STEWARD_INFLUX_URL`` is set, else the embedded store."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from steward.clock import Clock
from steward.settings import Settings
from telemetry.embedded import EmbeddedStore
from telemetry.influx import InfluxSink
from telemetry.influx_client import InfluxTarget
from telemetry.lineproto import BuildingOf
from telemetry.sink import TelemetrySink


class TelemetryConfigError(ValueError):
    """The telemetry settings cannot work as given."""


def data_dir(settings: Settings) -> Path:
    """Beside an SQLite ticket database (so a test's tmp database gets its own telemetry),
    else ``./var``."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(str(url.database)).parent
    return Path("var")


def store_path(settings: Settings) -> Path:
    return settings.telemetry_path or data_dir(settings) / "telemetry.db"


def spool_dir(settings: Settings) -> Path:
    return settings.telemetry_spool_dir or data_dir(settings) / "telemetry-spool"


def influx_target(settings: Settings) -> InfluxTarget | None:
    if not settings.influx_url:
        return None
    missing = [
        f"STEWARD_{name.upper()}"
        for name in ("influx_token", "influx_org", "influx_bucket")
        if not getattr(settings, name)
    ]
    if missing:
        raise TelemetryConfigError(f"STEWARD_INFLUX_URL is set, {', '.join(missing)} not")
    assert settings.influx_token is not None and settings.influx_org and settings.influx_bucket
    return InfluxTarget(
        url=settings.influx_url,
        token=settings.influx_token.get_secret_value(),
        org=settings.influx_org,
        bucket=settings.influx_bucket,
    )


def make_sink(
    settings: Settings, *, clock: Clock, building_of: BuildingOf | None = None
) -> TelemetrySink:
    """``building_of(ref)`` gives a device's building from the site registry (a tag in
    InfluxDB, a column in the embedded store); None for unregistered devices."""
    target = influx_target(settings)
    if target is not None:
        return InfluxSink(
            target,
            clock=clock,
            building_of=building_of,
            spool_dir=spool_dir(settings),
            spool_max_bytes=settings.telemetry_spool_max_mb * 1024 * 1024,
        )
    return EmbeddedStore(
        store_path(settings),
        clock=clock,
        building_of=building_of,
        retention_s=settings.telemetry_retention_days * 86400,
    )
