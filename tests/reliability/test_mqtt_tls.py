"""Steward's own broker link over TLS (``mqtts://``, ``STEWARD_MQTT_TLS_*``) against a real
Mosquitto with a TLS listener beside its plain one: an alarm becomes a ticket and its event is
published, both clients over TLS; a broker certificate from another CA, or naming another
host, is refused and the gateway says why; a broker that requires a client certificate gets
one; plain ``mqtt://`` is unchanged; bad TLS settings stop the start in one line."""

from __future__ import annotations

import json
import logging
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from delivery.connector import Message
from delivery.mqtt import MqttConnector
from delivery.policy import Outcome
from gateway.decode import DeadLetters, Decoder
from gateway.mqtt import Ack, BrokerAddress, MqttGateway
from gateway.topics import DeviceRef, Kind, telemetry_topic
from rules.decision import Decision
from rules.engine import RulesEngine
from steward.clock import FakeClock, SystemClock
from steward.paho import release_sockets
from steward.runtime import Steward
from steward.settings import MqttTls, MqttTlsError, Settings, mqtt_address, mqtt_tls
from steward.site import DeviceRegistry, RulesConfig, StewardConfig
from tests.e2e.harness import TRAPPED, running, settings, tickets
from tests.mqtt_helpers import Publisher, unique, wait_for
from tests.services import BrokerTls, PrivateMosquitto, free_port
from tests.tls_certs import Pki, encrypted_key, make_pki

pytestmark = pytest.mark.mosquitto

ROOT = Path(__file__).resolve().parents[2]
KEY_PASSWORD = "key-pw-5f0c1e"
URL_PASSWORD = "url-pw-93ad27"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


class Subscriber:
    """Collects the JSON messages on one topic (through the broker's plain listener)."""

    def __init__(self, url: str, topic: str) -> None:
        host, port, _, _ = mqtt_address(url)
        self.messages: list[dict[str, Any]] = []
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique("test-sub"))
        self.client.on_message = lambda _c, _u, m: self.messages.append(json.loads(m.payload))
        self.client.on_subscribe = lambda *_a: subscribed.set()
        self.client.on_connect = lambda c, *_a: c.subscribe(topic, qos=1)
        self.client.connect(host, port)
        self.client.loop_start()
        assert subscribed.wait(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        release_sockets(self.client)


@contextmanager
def broker(folder: Path, tls: BrokerTls) -> Iterator[PrivateMosquitto]:
    mosquitto = PrivateMosquitto(folder, tls=tls)
    mosquitto.start()
    try:
        yield mosquitto
    finally:
        mosquitto.stop()


@pytest.fixture(scope="module")
def tls_broker(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateMosquitto]:
    """Plain listener and TLS listener (certificate for 127.0.0.1 and localhost)."""
    tls = BrokerTls(pki.server.cert, pki.server.key, pki.ca.cert)
    with broker(tmp_path_factory.mktemp("mosquitto-tls"), tls) as mosquitto:
        yield mosquitto


@pytest.fixture(scope="module")
def mtls_broker(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateMosquitto]:
    """Its TLS listener requires a client certificate signed by the test CA."""
    tls = BrokerTls(pki.server.cert, pki.server.key, pki.ca.cert, require_certificate=True)
    with broker(tmp_path_factory.mktemp("mosquitto-mtls"), tls) as mosquitto:
        yield mosquitto


def gateway_for(s: Settings, *, tick_interval_s: float = 0.05) -> MqttGateway:
    """A gateway built from the settings as ``Steward`` builds it, decisions dropped."""
    registry = DeviceRegistry(StewardConfig())
    clock = SystemClock()

    def drop(_decisions: list[Decision], ack: Ack | None) -> None:
        if ack is not None:
            ack()

    return MqttGateway(
        broker=BrokerAddress.from_settings(s),
        client_id=s.mqtt_client_id,
        decoder=Decoder(registry),
        engine=RulesEngine(registry, RulesConfig(), clock),
        dead_letters=DeadLetters(10),
        on_decisions=drop,
        clock=clock,
        tick_interval_s=tick_interval_s,
    )


def tls_settings(url: str, **extra: Any) -> Settings:
    return Settings(mqtt_url=url, mqtt_client_id=unique("gw-tls"), **extra)


def tls_version(gateway: MqttGateway) -> str | None:
    sock = gateway._client.socket()
    return sock.version() if isinstance(sock, ssl.SSLSocket) else None


def refusal(gateway: MqttGateway) -> str:
    """Run the gateway until it has failed to connect; return what it says."""
    gateway.start()
    try:
        wait_for(lambda: gateway.stats.last_error != "", what="a failed connect")
        assert not gateway.connected
        assert gateway.stats.connects == 0
        return gateway.stats.last_error
    finally:
        gateway.stop()


def test_alarm_over_mqtts_becomes_a_ticket_and_its_event_is_published_over_tls(
    tls_broker: PrivateMosquitto,
    pki: Pki,
    tmp_path: Path,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = tls_broker.tls_url.replace("://", f"://steward:{URL_PASSWORD}@")  # anonymous broker
    s = settings(
        url, f"sqlite:///{tmp_path}/steward.db", unique("gw-tls"), mqtt_tls_ca_file=pki.ca.cert
    )
    site = unique("tls")
    events = Subscriber(tls_broker.url, f"estate/{site}/tickets")  # devices: the plain listener
    publisher = Publisher(tls_broker.url)
    try:
        with running(s, clock) as (steward, api):
            assert tls_version(steward.gateway) in {"TLSv1.2", "TLSv1.3"}
            (route,) = [r for r in steward.delivery.routes if r.name == "mqtt"]
            assert route.target.startswith(f"mqtts://127.0.0.1:{tls_broker.tls_port}/")
            connector = route.connector
            assert isinstance(connector, MqttConnector)
            wait_for(lambda: connector.connected, what="event publisher connected")
            car = DeviceRef(site, Kind.ELEVATOR, "car-1")
            body = {"ts": int(clock.now() * 1000), "seq": 1, **TRAPPED, "alarm": True}
            publisher.publish(telemetry_topic(car), body).wait_for_publish(10)
            wait_for(lambda: len(tickets(api, site=site)) == 1, what="the alarm's ticket")
            wait_for(lambda: len(events.messages) == 1, what="the ticket event over TLS")
    finally:
        publisher.close()
        events.close()
    (ticket,) = events.messages
    assert ticket["type"] == "steward.ticket.opened"
    assert ticket["data"]["site"] == site
    connected = [r.getMessage() for r in caplog.records if "connected to MQTT" in r.getMessage()]
    assert connected == [
        f"connected to MQTT 127.0.0.1:{tls_broker.tls_port} over TLS (private CA)"
        " (session present: False)"
    ]
    assert URL_PASSWORD not in caplog.text


def test_a_broker_certificate_from_another_ca_is_refused_and_the_gateway_says_why(
    tls_broker: PrivateMosquitto, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="steward.gateway")
    other = tls_settings(tls_broker.tls_url, mqtt_tls_ca_file=pki.other_ca.cert)
    why = refusal(gateway_for(other))
    assert why.startswith(f"connect to 127.0.0.1:{tls_broker.tls_port} over TLS (private CA): ")
    assert "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed" in why
    assert "certificate verify failed" in caplog.text

    # no CA file: the system trust store, which does not know the test CA either
    system = tls_settings(tls_broker.tls_url)
    assert "certificate verify failed" in refusal(gateway_for(system))


def test_the_host_name_is_checked_unless_switched_off(pki: Pki, tmp_path: Path) -> None:
    misnamed = BrokerTls(pki.misnamed_server.cert, pki.misnamed_server.key, pki.ca.cert)
    with broker(tmp_path / "mosquitto", misnamed) as mosquitto:
        checked = tls_settings(mosquitto.tls_url, mqtt_tls_ca_file=pki.ca.cert)
        why = refusal(gateway_for(checked))
        assert "certificate is not valid for '127.0.0.1'" in why, why

        unchecked = replace_settings(checked, mqtt_tls_check_hostname=False)
        gateway = gateway_for(unchecked)
        gateway.start()
        try:
            wait_for(lambda: gateway.connected, what="connected without the host name check")
            assert tls_version(gateway) is not None
        finally:
            gateway.stop()
        # the chain is still verified without the host name check
        other = replace_settings(unchecked, mqtt_tls_ca_file=pki.other_ca.cert)
        assert "certificate verify failed" in refusal(gateway_for(other))


def replace_settings(s: Settings, **changes: Any) -> Settings:
    return Settings(**{**s.model_dump(), **changes})


def test_plain_mqtt_is_unchanged(tls_broker: PrivateMosquitto, pki: Pki) -> None:
    s = tls_settings(tls_broker.url)
    assert mqtt_tls(s) is None
    gateway = gateway_for(s)
    assert gateway.broker.tls is None
    gateway.start()
    try:
        wait_for(lambda: gateway.connected, what="plain connect")
        assert tls_version(gateway) is None
        assert str(gateway.broker) == f"127.0.0.1:{tls_broker.port}"
    finally:
        gateway.stop()
    assert mqtt_address("mqtt://h") == ("h", 1883, None, None)
    assert mqtt_address("mqtts://u:p@h") == ("h", 8883, "u", "p")
    assert mqtt_address("mqtts://h:9883") == ("h", 9883, None, None)

    # a TLS setting with a plain URL: the operator meant TLS, and would not get it
    with pytest.raises(MqttTlsError, match="STEWARD_MQTT_TLS_CA_FILE set but STEWARD_MQTT_URL"):
        BrokerAddress.from_settings(tls_settings(tls_broker.url, mqtt_tls_ca_file=pki.ca.cert))


def test_a_broker_that_requires_a_client_certificate_gets_steward_s(
    mtls_broker: PrivateMosquitto,
    pki: Pki,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    without = tls_settings(mtls_broker.tls_url, mqtt_tls_ca_file=pki.ca.cert)
    why = refusal(gateway_for(without))
    assert "certificate required" in why, why  # the broker's TLS alert, not just "lost"

    # the key encrypted, its password in the settings; the cert and key in separate files
    key = encrypted_key(pki.client.key, KEY_PASSWORD, tmp_path / "client.key")
    mutual = replace_settings(
        without,
        mqtt_tls_cert_file=pki.client.cert,
        mqtt_tls_key_file=key,
        mqtt_tls_key_password=KEY_PASSWORD,
    )
    gateway = gateway_for(mutual)
    gateway.start()
    try:
        wait_for(lambda: gateway.connected, what="connected with the client certificate")
        assert tls_version(gateway) is not None
    finally:
        gateway.stop()

    # the ticket-event publisher: the same settings, the same certificate
    tls = mqtt_tls(mutual)
    assert tls is not None
    connector = MqttConnector(mutual.mqtt_url, tls=tls, timeout_s=5)
    events = Subscriber(mtls_broker.url, "estate/mtls/tickets")
    connector.start()
    try:
        wait_for(lambda: connector.connected, what="event publisher connected")
        event = {"id": "e-1", "type": "steward.ticket.opened"}
        message = Message(1, "e-1", "mtls", "steward.ticket.opened", event)
        assert connector.send(message, now=0.0).outcome is Outcome.DELIVERED
        wait_for(lambda: events.messages == [event], what="the event")
    finally:
        connector.close()
        events.close()
    # one file holding both the certificate and its key
    both = tmp_path / "client-and-key.pem"
    both.write_bytes(pki.client.cert.read_bytes() + pki.client.key.read_bytes())
    MqttTls(ca_file=pki.ca.cert, cert_file=both).context()

    assert "client certificate" in MqttTls(cert_file=both).describe()
    for text in (caplog.text, repr(mutual), str(mutual), repr(tls)):
        assert KEY_PASSWORD not in text


def test_bad_tls_settings_stop_the_start_in_one_line(pki: Pki, tmp_path: Path) -> None:
    missing = tmp_path / "missing-ca.crt"
    garbage = tmp_path / "garbage.pem"
    garbage.write_text(
        "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n"
    )
    not_a_key = tmp_path / "not-a-key.pem"
    not_a_key.write_text("hello\n")
    bad_key = tmp_path / "bad-key.pem"
    bad_key.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    locked = encrypted_key(pki.client.key, KEY_PASSWORD, tmp_path / "locked.key")
    url = f"mqtts://127.0.0.1:{free_port()}"
    client = {"mqtt_tls_cert_file": pki.client.cert, "mqtt_tls_key_file": pki.client.key}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"mqtt_tls_ca_file": missing}, f"STEWARD_MQTT_TLS_CA_FILE {missing}: no such file"),
        ({"mqtt_tls_ca_file": tmp_path}, "STEWARD_MQTT_TLS_CA_FILE .*: is a directory"),
        ({"mqtt_tls_ca_file": not_a_key}, "STEWARD_MQTT_TLS_CA_FILE .*: no PEM certificate"),
        ({"mqtt_tls_ca_file": garbage}, "STEWARD_MQTT_TLS_CA_FILE .*: no CA certificate in it"),
        ({**client, "mqtt_tls_cert_file": missing}, "STEWARD_MQTT_TLS_CERT_FILE .*: no such"),
        ({**client, "mqtt_tls_key_file": not_a_key}, "STEWARD_MQTT_TLS_KEY_FILE .*: no PEM priv"),
        ({**client, "mqtt_tls_key_file": bad_key}, "KEY_FILE .*: not a valid private key"),
        ({**client, "mqtt_tls_key_file": pki.other_ca.key}, "KEY_FILE .*: the key is not the cert"),
        ({**client, "mqtt_tls_key_file": locked}, "encrypted; set STEWARD_MQTT_TLS_KEY_PASSWORD"),
        (
            {**client, "mqtt_tls_key_file": locked, "mqtt_tls_key_password": "wrong-pw"},
            "KEY_FILE .*: cannot decrypt the key: STEWARD_MQTT_TLS_KEY_PASSWORD is wrong",
        ),
        ({**client, "mqtt_tls_cert_file": garbage}, "CERT_FILE .*: not a valid PEM certificate"),
        ({"mqtt_tls_cert_file": pki.client.cert}, "STEWARD_MQTT_TLS_CERT_FILE .*: no PEM priv"),
        ({"mqtt_tls_key_file": pki.client.key}, "KEY_FILE is set without .*CERT_FILE"),
    ]
    for given, expected in cases:
        s = tls_settings(url, **given)
        with pytest.raises(MqttTlsError, match=expected) as failed:
            BrokerAddress.from_settings(s)
        assert "\n" not in str(failed.value)
        assert "wrong-pw" not in str(failed.value)

    # Steward fails before it opens anything (a database that does not exist is not reached)
    s = tls_settings(url, mqtt_tls_ca_file=missing, database_url="postgresql://127.0.0.1:1/x")
    with pytest.raises(MqttTlsError, match="no such file"):
        Steward(s)


def test_steward_run_with_a_missing_ca_file_exits_2_with_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "ca.crt"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STEWARD_")},
        "STEWARD_MQTT_URL": f"mqtts://steward:{URL_PASSWORD}@127.0.0.1:{free_port()}",
        "STEWARD_MQTT_TLS_CA_FILE": str(missing),
        "STEWARD_DATABASE_URL": f"sqlite:///{tmp_path}/steward.db",
        "STEWARD_TELEMETRY_PATH": str(tmp_path / "telemetry.db"),
    }
    done = subprocess.run(
        [str(Path(sys.executable).with_name("steward")), "run", "-v"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"configuration error: MQTT TLS: STEWARD_MQTT_TLS_CA_FILE {missing}: no such file\n"
    )
    assert "Traceback" not in done.stdout + done.stderr
    assert URL_PASSWORD not in done.stdout + done.stderr
    assert not (tmp_path / "steward.db").exists()  # nothing was opened
