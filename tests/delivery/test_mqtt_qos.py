"""Ticket events reach ``estate/{site}/tickets`` at QoS 1 (issue 5, "MQTT publisher").

A subscriber at QoS 1 receives a message at min(publish QoS, subscription QoS), so a
publisher that fell back to QoS 0 shows up here as ``qos == 0``; test_mqtt.py only checks
the payloads."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.orm import Session, sessionmaker

from delivery.config import EventFilter
from delivery.dispatcher import Route
from delivery.mqtt import MqttConnector
from steward.clock import FakeClock
from steward.paho import release_sockets
from steward.settings import mqtt_address
from tests.delivery.helpers import dispatcher, drain, open_ticket
from tests.mqtt_helpers import unique, wait_for
from tickets.service import TicketService


@pytest.mark.mosquitto
def test_ticket_events_are_published_at_qos_1(
    service: TicketService,
    sessions: sessionmaker[Session],
    clock: FakeClock,
    mosquitto_url: str,
) -> None:
    site = unique("qos")
    topic = f"estate/{site}/tickets"
    received: list[tuple[str, int, bool]] = []
    subscribed = threading.Event()
    host, port, _, _ = mqtt_address(mosquitto_url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique("qos-sub"))
    client.on_message = lambda _c, _u, m: received.append((m.topic, m.qos, m.retain))
    client.on_subscribe = lambda *_a: subscribed.set()
    client.on_connect = lambda c, *_a: c.subscribe(topic, qos=1)
    client.connect(host, port)
    client.loop_start()
    connector = MqttConnector(mosquitto_url, timeout_s=5)
    route = Route("mqtt", connector.target, EventFilter(), connector)
    try:
        assert subscribed.wait(10)
        with dispatcher(sessions, clock, route) as d:
            wait_for(lambda: connector.connected, what="publisher connected")
            open_ticket(service, clock, "lift-1", site=site)
            assert drain(d) == 1
            wait_for(lambda: len(received) == 1, what="the ticket event")
    finally:
        client.disconnect()
        client.loop_stop()
        release_sockets(client)
    assert received == [(topic, 1, False)]
