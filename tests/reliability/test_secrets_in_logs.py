"""Secrets never reach the logs or the console: the admin key, the webhook secret, the InfluxDB
token and the passwords in the broker and database URLs, with everything at DEBUG, through
start-up, requests, readiness and the error paths where a URL tends to be printed (a failing
webhook, a failing InfluxDB, a broker or a database that cannot be reached)."""

from __future__ import annotations

import base64
import logging
import os
import secrets
import signal
import subprocess
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import SQLAlchemyError

from api.app import create_app
from gateway.topics import DeviceRef, Kind, telemetry_topic
from steward.runtime import Steward
from steward.settings import Settings
from tests.delivery.receiver import Receiver, Reply, always
from tests.e2e.harness import TRAPPED
from tests.mqtt_helpers import Publisher, forget_session, unique, wait_for
from tests.services import free_port

pytestmark = [pytest.mark.mosquitto, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Secrets:
    admin_key: str
    webhook_key: bytes
    influx_token: str
    mqtt_password: str
    db_password: str

    @property
    def webhook_secret(self) -> str:
        return "whsec_" + base64.b64encode(self.webhook_key).decode()

    def values(self) -> dict[str, str]:
        """Every form in which a secret could leak."""
        return {
            "admin key": self.admin_key,
            "webhook secret": self.webhook_secret,
            "webhook key": base64.b64encode(self.webhook_key).decode(),
            "influx token": self.influx_token,
            "mqtt password": self.mqtt_password,
            "database password": self.db_password,
        }

    def leaks(self, text: str) -> list[str]:
        return [name for name, value in self.values().items() if value in text]


def with_password(url: str, user: str, password: str) -> str:
    """``scheme://host...`` or ``scheme://user@host...`` → ``scheme://user:password@host...``."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{user}:{password}@{rest.split('@', 1)[-1]}"


@pytest.fixture
def secret_values() -> Secrets:
    return Secrets(
        admin_key=f"adm-{secrets.token_urlsafe(24)}",
        webhook_key=secrets.token_bytes(32),
        influx_token=f"influx-{secrets.token_urlsafe(24)}",
        mqtt_password=f"mqttpw-{secrets.token_urlsafe(16)}",
        db_password=f"dbpw-{secrets.token_urlsafe(16)}",
    )


@pytest.fixture
def failing_receiver() -> Iterator[Receiver]:
    """Answers 503 to everything: the webhook and InfluxDB's /api/v2/write both fail."""
    server = Receiver()
    server.script = always(Reply(503, body=b'{"error": "down for maintenance"}'))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def secret_env(
    monkeypatch: pytest.MonkeyPatch,
    secret_values: Secrets,
    failing_receiver: Receiver,
    mosquitto_url: str,
    postgres_url: str,
) -> dict[str, str]:
    """``STEWARD_*`` as an operator would set them, every secret among them."""
    env = {
        "STEWARD_MQTT_URL": with_password(mosquitto_url, "steward", secret_values.mqtt_password),
        "STEWARD_DATABASE_URL": with_password(postgres_url, "postgres", secret_values.db_password),
        "STEWARD_MQTT_CLIENT_ID": unique("gw-secrets"),
        "STEWARD_ADMIN_API_KEY": secret_values.admin_key,
        "STEWARD_WEBHOOK_URL": failing_receiver.url,
        "STEWARD_WEBHOOK_SECRET": secret_values.webhook_secret,
        "STEWARD_INFLUX_URL": f"http://127.0.0.1:{failing_receiver.port}",
        "STEWARD_INFLUX_TOKEN": secret_values.influx_token,
        "STEWARD_INFLUX_ORG": "estate",
        "STEWARD_INFLUX_BUCKET": "telemetry",
        "STEWARD_TICK_INTERVAL_S": "0.1",
        "STEWARD_DELIVERY_POLL_INTERVAL_S": "0.05",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_no_secret_in_any_log_record_at_debug(
    secret_env: dict[str, str],
    secret_values: Secrets,
    failing_receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    mosquitto_url: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings()
    assert secret_values.leaks(repr(settings) + str(settings)) == []
    site = unique("secrets")
    car = DeviceRef(site, Kind.ELEVATOR, "car-1")
    key = {"authorization": f"Bearer {secret_values.admin_key}"}
    publisher = Publisher(mosquitto_url)
    try:
        steward = Steward(settings)
        with steward, TestClient(create_app(steward)) as api:
            wait_for(lambda: steward.gateway.connected, what="gateway connected")
            assert api.get("/readyz").status_code == 200
            assert api.get("/healthz").status_code == 200
            assert api.get("/metrics").status_code == 200
            assert api.get("/api/v1/tickets").status_code == 401
            wrong = {"authorization": f"Bearer {secret_values.admin_key}x"}
            assert api.get("/api/v1/tickets", headers=wrong).status_code in {401, 403}
            assert api.get("/api/v1/tickets", headers=key).status_code == 200

            # an alarm: a ticket, its event to a webhook that fails, readings to an InfluxDB
            # that fails (both retried: what matters here is what was logged meanwhile)
            body = {"ts": 1_700_000_000_000, "seq": 1, **TRAPPED, "alarm": True}
            publisher.publish(telemetry_topic(car), body).wait_for_publish(10)
            wait_for(
                lambda: any(r.path.startswith("/hooks/") for r in failing_receiver.received),
                what="the webhook tried",
            )
            wait_for(
                lambda: any(r.path.startswith("/api/v2/write") for r in failing_receiver.received),
                what="InfluxDB tried",
            )
            wait_for(lambda: steward.telemetry.stats.failures > 0, what="the write failed")
            tickets = api.get("/api/v1/tickets", params={"site": site}, headers=key).json()
            assert len(tickets["items"]) == 1
    finally:
        publisher.close()
        forget_session(mosquitto_url, secret_env["STEWARD_MQTT_CLIENT_ID"])
    sent = {r.path.split("?")[0]: r.headers for r in failing_receiver.received}
    assert sent["/api/v2/write"]["authorization"] == f"Token {secret_values.influx_token}"
    assert "webhook-signature" in sent["/hooks/steward"]  # the secrets were in use

    # the broker cannot be reached: its URL, with the password, is what a log would show
    down_broker = with_password(
        f"mqtt://127.0.0.1:{free_port()}", "steward", secret_values.mqtt_password
    )
    unreachable = Settings(mqtt_url=down_broker, influx_url=None, webhook_url=None)
    steward = Steward(unreachable)
    with steward, TestClient(create_app(steward)) as api:
        wait_for(lambda: steward.gateway.stats.last_error != "", what="a failed connect")
        assert api.get("/readyz").status_code == 503

    # neither can the database
    down_db = with_password(
        f"postgresql://127.0.0.1:{free_port()}/steward", "postgres", secret_values.db_password
    )
    with pytest.raises(SQLAlchemyError) as failed:
        Steward(Settings(database_url=down_db, influx_url=None, webhook_url=None))
    logging.getLogger("steward").error("start-up failed", exc_info=failed.value)
    assert secret_values.leaks("".join(traceback.format_exception(failed.value))) == []

    captured = capsys.readouterr()
    messages = "\n".join(r.getMessage() for r in caplog.records)
    assert caplog.records, "nothing was logged: the test would prove nothing"
    assert "connect to 127.0.0.1" in messages  # the error paths did log
    assert secret_values.leaks(caplog.text) == []
    assert secret_values.leaks(messages) == []
    assert secret_values.leaks(captured.out + captured.err) == []


def steward_command(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(Path(sys.executable).with_name("steward")), *args],  # the console script
            cwd=ROOT,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.slow
def test_steward_run_verbose_prints_no_secret(
    secret_env: dict[str, str], secret_values: Secrets, tmp_path: Path, mosquitto_url: str
) -> None:
    """``steward run -v`` as an operator runs it: start-up, requests, SIGINT; then once more
    with a database that cannot be reached (the command fails and says why)."""
    port = free_port()
    log = tmp_path / "steward-run.log"
    process = steward_command("run", "-v", env={"STEWARD_HTTP_PORT": str(port)}, log=log)
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=5) as http:

            def ready() -> bool:
                assert process.poll() is None, log.read_text()
                try:
                    return http.get("/readyz").status_code == 200
                except httpx.TransportError:
                    return False

            wait_for(ready, timeout=60, what="steward run ready")
            assert http.get("/api/v1/tickets").status_code == 401
            key = {"authorization": f"Bearer {secret_values.admin_key}"}
            assert http.get("/api/v1/tickets", headers=key).status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        forget_session(mosquitto_url, secret_env["STEWARD_MQTT_CLIENT_ID"])
    output = log.read_text()
    assert "steward started" in output
    assert secret_values.leaks(output) == [], output

    down_db = with_password(
        f"postgresql://127.0.0.1:{free_port()}/steward", "postgres", secret_values.db_password
    )
    failed_log = tmp_path / "steward-run-failed.log"
    failed = steward_command("run", "-v", env={"STEWARD_DATABASE_URL": down_db}, log=failed_log)
    try:
        assert failed.wait(60) == 3
    finally:
        if failed.poll() is None:
            failed.kill()
            failed.wait(10)
    output = failed_log.read_text()
    assert "postgres:***@127.0.0.1" in output  # it says which database it could not reach
    assert secret_values.leaks(output) == [], output
