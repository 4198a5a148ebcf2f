"""Shared fixtures: real Mosquitto and PostgreSQL (see tests/services.py), fake clocks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from steward.clock import FakeClock
from tests.services import (
    PrivateMosquitto,
    create_postgres_database,
    drop_postgres_database,
    mosquitto_binary,
    port_open,
    require_service,
)


@pytest.fixture(autouse=True)
def _private_telemetry_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Steward a test builds keeps its embedded telemetry in the test's own folder
    (with a PostgreSQL ticket database it would otherwise share ./var/telemetry.db)."""
    monkeypatch.setenv("STEWARD_TELEMETRY_PATH", str(tmp_path / "telemetry.db"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def mosquitto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The shared broker: ``STEWARD_TEST_MQTT_URL``, else 127.0.0.1:1883 if it answers, else a
    private Mosquitto for the session. Tests isolate themselves by unique site ids."""
    url = os.environ.get("STEWARD_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
    parts = urlsplit(url)
    if port_open(parts.hostname or "127.0.0.1", parts.port or 1883):
        yield url
        return
    if mosquitto_binary() is None:
        require_service("Mosquitto", f"nothing at {url} and no mosquitto binary to start")
    broker = PrivateMosquitto(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    try:
        yield broker.url
    finally:
        broker.stop()


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[PrivateMosquitto]:
    """A Mosquitto of this test's own, for tests that stop or restart the broker."""
    broker = PrivateMosquitto(tmp_path / "mosquitto")
    broker.start()
    try:
        yield broker
    finally:
        broker.kill()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using this runs twice: on an SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'steward.db'}"
        return
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)
