"""The fleet publisher on a real Mosquitto: what a subscriber receives matches what was sent."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.payloads import SCHEMAS
from gateway.topics import Channel, Kind, parse_topic
from simulators.cli import simulate
from simulators.fleet import FleetPublisher, synthetic_fleet
from simulators.scenarios import load_config, run_scenario
from steward.clock import AcceleratedClock
from steward.paho import release_sockets
from steward.settings import mqtt_address
from steward.site import StewardConfig
from tests.mqtt_helpers import unique, wait_for
from tests.services import PrivateMosquitto, free_port

pytestmark = pytest.mark.mosquitto


class Subscriber:
    """Collects every device message of a site, ``estate/{site}/{kind}/{device}/{channel}``
    (retained ones included; not the site's ticket events a Steward on the shared broker may
    publish under ``estate/{site}/tickets``)."""

    def __init__(self, url: str, site: str) -> None:
        host, port, user, password = mqtt_address(url)
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique("test-sub"))
        if user:
            self.client.username_pw_set(user, password)
        self.client.on_connect = lambda c, *_: c.subscribe(f"estate/{site}/+/+/+", qos=1)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()
        assert self._subscribed.wait(10), "no SUBACK"

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))

    def of(self, channel: Channel) -> list[tuple[str, bytes, bool]]:
        with self._lock:
            return [m for m in self.messages if parse_topic(m[0]).channel is channel]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        release_sockets(self.client)


def test_a_small_fleet_arrives_complete_on_the_shared_broker(mosquitto_url: str) -> None:
    site = unique("sim")
    clock = AcceleratedClock(factor=30)
    devices = synthetic_fleet(40, sites=[site], start=clock.now())
    subscriber = Subscriber(mosquitto_url, site)
    try:
        publisher = FleetPublisher(
            devices, mosquitto_url, clock=clock, qos=1, connections=3, status_on_stop="clear"
        )
        stats = publisher.run(duration_s=60)
        assert stats.failed == 0 and stats.unconfirmed == 0
        assert stats.simulated_s == pytest.approx(60)
        assert stats.status == 80  # online at start, cleared at the end
        wait_for(lambda: len(subscriber.of(Channel.TELEMETRY)) >= stats.telemetry, 20, "telemetry")
        wait_for(lambda: len(subscriber.of(Channel.STATUS)) >= 80, 20, "status")
        telemetry = subscriber.of(Channel.TELEMETRY)
        assert len(telemetry) == stats.telemetry > 40 * 2
        kinds = set()
        for topic, payload, _ in telemetry:
            ref = parse_topic(topic).ref
            assert ref.site == site
            SCHEMAS[ref.kind].model_validate_json(payload)
            kinds.add(ref.kind)
        assert kinds >= {Kind.ELEVATOR, Kind.WATER_PRESSURE, Kind.EXTINGUISHER}
        statuses = [(parse_topic(t).ref.device, p) for t, p, _ in subscriber.of(Channel.STATUS)]
        assert sorted(d for d, p in statuses if p == b"online") == sorted(
            d.ref.device for d in devices
        )
        assert len([d for d, p in statuses if p == b""]) == 40
    finally:
        subscriber.close()


def test_stops_after_a_number_of_messages(private_broker: PrivateMosquitto) -> None:
    site = unique("sim")
    clock = AcceleratedClock(factor=100)
    devices = synthetic_fleet(20, sites=[site], start=clock.now())
    subscriber = Subscriber(private_broker.url, site)
    try:
        stats = FleetPublisher(devices, private_broker.url, clock=clock, qos=1).run(max_messages=50)
        assert stats.telemetry == 50
        wait_for(lambda: len(subscriber.of(Channel.TELEMETRY)) == 50, 20, "50 messages")
        wait_for(lambda: len(subscriber.of(Channel.STATUS)) == 40, 20, "online + offline")
        offline = [t for t, p, _ in subscriber.of(Channel.STATUS) if p == b"offline"]
        assert len(offline) == 20
    finally:
        subscriber.close()


def test_runs_in_a_background_thread_until_stopped(private_broker: PrivateMosquitto) -> None:
    clock = AcceleratedClock(factor=50)
    devices = synthetic_fleet(30, sites=[unique("sim")], start=clock.now())
    publisher = FleetPublisher(devices, private_broker.url, clock=clock, qos=0)
    publisher.start()
    try:
        wait_for(lambda: publisher.stats.telemetry > 30, 20, "telemetry flowing")
        assert publisher.running
    finally:
        stats = publisher.stop(timeout=20)
    assert not publisher.running and publisher.error is None
    assert stats.telemetry > 30 and stats.unconfirmed == 0


def test_an_unreachable_broker_is_a_connection_error() -> None:
    devices = synthetic_fleet(3, start=0.0)
    publisher = FleetPublisher(devices, f"mqtt://127.0.0.1:{free_port()}", clock=AcceleratedClock())
    with pytest.raises(ConnectionError, match="cannot reach"):
        publisher.run(duration_s=1)


def _renamed(config: StewardConfig, site: str) -> StewardConfig:
    first = config.sites[0].model_copy(update={"id": site})
    return config.model_copy(update={"sites": [first]})


def test_entrapment_scenario_reaches_the_broker(private_broker: PrivateMosquitto) -> None:
    site = unique("court")
    subscriber = Subscriber(private_broker.url, site)
    try:
        stats = run_scenario(
            "entrapment",
            private_broker.url,
            _renamed(load_config(None), site),
            AcceleratedClock(factor=20),
            duration_s=60,
            qos=1,
        )
        wait_for(lambda: len(subscriber.of(Channel.TELEMETRY)) == stats.telemetry, 20, "all")
        car = [
            orjson.loads(p)
            for t, p, _ in subscriber.of(Channel.TELEMETRY)
            if parse_topic(t).ref.device == "b1-elv-a"
        ]
        last = car[-1]
        assert (last["moving"], last["door"], last["door_zone"]) == (False, "closed", False)
        assert last["occupied"] is True and last["alarm"] is True
    finally:
        subscriber.close()


def test_simulate_prints_progress_and_a_summary(
    private_broker: PrivateMosquitto, capsys: pytest.CaptureFixture[str]
) -> None:
    simulate(
        broker_url=private_broker.url,
        scenario="entrapment",
        devices=50,
        site_config=None,
        time_factor=20.0,
        duration_s=40.0,
        qos=0,
    )
    out = capsys.readouterr().out
    assert "simulating 50 devices" in out and "scenario entrapment" in out
    assert "msg/s" in out and "done:" in out and "0 failed" in out
