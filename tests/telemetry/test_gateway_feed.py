"""The gateway feeding a sink through its ``on_reading`` hook, on a real Mosquitto: every
accepted reading reaches the store from the gateway's network thread; rejected ones do not.
(Steward's runtime makes the same connection: ``on_reading=self.telemetry.add``.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from gateway.decode import DeadLetters, Decoder
from gateway.mqtt import Ack, BrokerAddress, MqttGateway
from gateway.topics import DeviceRef, Kind, telemetry_topic
from rules.decision import Decision
from rules.engine import RulesEngine
from steward.clock import SystemClock
from steward.settings import mqtt_address
from steward.site import DeviceRegistry, RulesConfig, StewardConfig
from telemetry.embedded import EmbeddedStore
from tests.mqtt_helpers import Publisher, unique, wait_for
from tests.services import PrivateMosquitto
from tests.telemetry.helpers import FULL

pytestmark = pytest.mark.mosquitto


@pytest.fixture
def fed_store(
    private_broker: PrivateMosquitto, tmp_path: Path
) -> Iterator[tuple[EmbeddedStore, MqttGateway]]:
    """A broker of the test's own: the shared one carries other tests' devices too."""
    mosquitto_url = private_broker.url
    clock = SystemClock()
    registry = DeviceRegistry(StewardConfig())
    store = EmbeddedStore(tmp_path / "telemetry.db", clock=clock, flush_interval_s=0.05)
    host, port, _, _ = mqtt_address(mosquitto_url)
    client_id = unique("gw-telemetry")

    def ack_all(_decisions: list[Decision], ack: Ack | None) -> None:
        if ack is not None:
            ack()

    gateway = MqttGateway(
        broker=BrokerAddress(host, port),
        client_id=client_id,
        decoder=Decoder(registry),
        engine=RulesEngine(registry, RulesConfig(), clock),
        dead_letters=DeadLetters(100),
        on_decisions=ack_all,
        clock=clock,
        tick_interval_s=0.05,
        on_reading=store.add,
    )
    store.start()
    gateway.start()
    wait_for(lambda: gateway.connected, what="the gateway connected")
    try:
        yield store, gateway
    finally:
        gateway.stop()
        store.stop()


def test_every_accepted_reading_is_stored(
    fed_store: tuple[EmbeddedStore, MqttGateway], private_broker: PrivateMosquitto
) -> None:
    store, gateway = fed_store
    site = unique("feed")
    cars = [DeviceRef(site, Kind.ELEVATOR, f"car-{n}") for n in range(4)]
    start_ms = int(SystemClock().now() * 1000) - 60_000
    messages = [
        (
            telemetry_topic(car),
            orjson.dumps({**FULL[Kind.ELEVATOR], "ts": start_ms + i * 100, "seq": i}),
        )
        for i in range(50)  # within the gateway's per-device burst
        for car in cars
    ]
    messages.insert(50, (telemetry_topic(cars[0]), b"{not json"))
    publisher = Publisher(private_broker.url)
    try:
        publisher.publish_all(messages)
    finally:
        publisher.close()
    wait_for(lambda: store.stats.received == 200, what="200 readings handed to the store")
    assert store.flush(10)
    for car in cars:
        got = store.readings(
            site=site, device=car.device, start=start_ms / 1000, end=start_ms / 1000 + 60
        )
        assert [p.value for p in got.fields["seq"]] == list(range(50))
        assert [p.t for p in got.fields["seq"]] == [(start_ms + i * 100) / 1000 for i in range(50)]
        assert [p.value for p in got.fields["fault_codes"]] == ["04,E12"] * 50
    assert (store.stats.written, store.stats.dropped) == (200, 0)
    assert gateway.stats.readings == 200
