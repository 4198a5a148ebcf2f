"""Ticket events on ``estate/{site}/tickets`` (QoS 1) through a real Mosquitto; a broker that
is away means retry, never loss."""

from __future__ import annotations

import json
import threading
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.orm import Session, sessionmaker

from delivery.config import EventFilter
from delivery.dispatcher import Route
from delivery.log import DeliveryLog
from delivery.mqtt import MqttConnector
from steward.clock import FakeClock
from steward.paho import release_sockets
from steward.settings import mqtt_address
from tests.delivery.helpers import dispatcher, drain, open_ticket, outbox
from tests.mqtt_helpers import unique, wait_for
from tests.services import PrivateMosquitto, free_port
from tickets.lifecycle import TicketAction
from tickets.service import TicketService


class Subscriber:
    def __init__(self, url: str, topic: str) -> None:
        host, port, _, _ = mqtt_address(url)
        self.messages: list[dict[str, Any]] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique("test-sub"))
        self.client.on_message = lambda _c, _u, m: self.messages.append(json.loads(m.payload))
        self.client.on_subscribe = lambda *_a: self.subscribed.set()
        self.client.on_connect = lambda c, *_a: c.subscribe(topic, qos=1)
        self.client.connect(host, port)
        self.client.loop_start()
        assert self.subscribed.wait(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        release_sockets(self.client)


def mqtt_route(url: str) -> tuple[Route, MqttConnector]:
    connector = MqttConnector(url, timeout_s=5)
    return Route("mqtt", connector.target, EventFilter(), connector), connector


@pytest.mark.mosquitto
def test_each_event_is_published_to_its_sites_topic(
    service: TicketService,
    sessions: sessionmaker[Session],
    clock: FakeClock,
    mosquitto_url: str,
) -> None:
    site = unique("site")
    subscriber = Subscriber(mosquitto_url, f"estate/{site}/tickets")
    route, connector = mqtt_route(mosquitto_url)
    try:
        with dispatcher(sessions, clock, route) as d:
            wait_for(lambda: connector.connected, what="publisher connected")
            number = open_ticket(service, clock, "lift-1", site=site)
            service.act(number=number, action=TicketAction.ACKNOWLEDGE, actor="a")
            assert drain(d) == 2
            wait_for(lambda: len(subscriber.messages) == 2, what="two ticket events")
    finally:
        subscriber.close()
    assert subscriber.messages == [e.payload for e in outbox(service)]
    assert DeliveryLog(sessions, clock).endpoint("mqtt").delivered == 2


@pytest.mark.mosquitto
def test_a_broker_that_is_away_means_retry(
    service: TicketService,
    sessions: sessionmaker[Session],
    clock: FakeClock,
    tmp_path: Any,
) -> None:
    broker = PrivateMosquitto(tmp_path / "broker", port=free_port())
    route, connector = mqtt_route(broker.url)
    with dispatcher(sessions, clock, route) as d:
        open_ticket(service, clock, "lift-1")
        assert d.run_once() == 1
        [view] = DeliveryLog(sessions, clock).list().items
        assert (view.status, view.last_reason) == ("pending", "broker_unavailable")
        broker.start()
        try:
            wait_for(lambda: connector.connected, timeout=40, what="publisher reconnected")
            clock.advance(3600)
            assert drain(d) == 1
        finally:
            broker.stop()
    assert DeliveryLog(sessions, clock).endpoint("mqtt").delivered == 1
