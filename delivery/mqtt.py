"""Ticket events on MQTT: ``estate/{site}/tickets``, QoS 1, the CloudEvent as JSON.

The delivery side's only MQTT code. paho's own network thread connects and reconnects;
``send`` waits for the broker's PUBACK, within a timeout, before calling an event delivered.
With an ``mqtts://`` URL it uses TLS as the gateway does (``steward.settings.MqttTls``).
"""

from __future__ import annotations

import time
import uuid

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from delivery.connector import AttemptResult, Message
from delivery.policy import Outcome, Reason
from steward.paho import Client, release_sockets
from steward.settings import MqttTls, mqtt_address, mqtt_uses_tls

TICKETS_TOPIC = "estate/{site}/tickets"


def tickets_topic(site: str) -> str:
    return TICKETS_TOPIC.format(site=site)


class MqttConnector:
    kind = "mqtt"

    def __init__(
        self,
        url: str,
        *,
        tls: MqttTls | None = None,
        timeout_s: float = 10.0,
        keepalive_s: int = 30,
    ) -> None:
        """``tls``: how an ``mqtts://`` URL verifies the broker (default: the system trust
        store); its files are read here, so a bad setting is a ``MqttTlsError`` at start-up."""
        host, port, user, password = mqtt_address(url)
        use_tls = mqtt_uses_tls(url)
        self.target = f"{'mqtts' if use_tls else 'mqtt'}://{host}:{port}/{TICKETS_TOPIC}"
        self._address = (host, port, keepalive_s)
        self._timeout_s = timeout_s
        self._client = Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"steward-events-{uuid.uuid4().hex[:12]}",
            clean_session=True,
            protocol=mqtt.MQTTv311,
        )
        if user:
            self._client.username_pw_set(user, password)
        if use_tls:
            self._client.tls_set_context((tls or MqttTls()).context())
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._started = False

    @property
    def connected(self) -> bool:
        return bool(self._client.is_connected())

    def start(self) -> None:
        if self._started:
            return
        host, port, keepalive = self._address
        self._client.connect_async(host, port, keepalive)
        self._client.loop_start()
        self._started = True

    def close(self) -> None:
        if not self._started:
            return
        self._client.disconnect()
        self._client.loop_stop()
        release_sockets(self._client)
        self._started = False

    def send(self, message: Message, *, now: float) -> AttemptResult:
        started = time.perf_counter()
        if not self._client.is_connected():
            why = f" ({self._client.tls_error})" if self._client.tls_error else ""
            return AttemptResult.from_error(
                Reason.BROKER_UNAVAILABLE,
                latency_ms=0.0,
                detail=f"not connected to the broker{why}",
            )
        info = self._client.publish(tickets_topic(message.site), orjson.dumps(message.event), qos=1)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return AttemptResult.from_error(
                Reason.BROKER_UNAVAILABLE, latency_ms=0.0, detail=mqtt.error_string(info.rc)
            )
        try:
            info.wait_for_publish(self._timeout_s)
        except (RuntimeError, ValueError) as exc:
            return AttemptResult.from_error(
                Reason.BROKER_UNAVAILABLE, latency_ms=_ms(started), detail=str(exc)
            )
        if not info.is_published():
            return AttemptResult.from_error(
                Reason.TIMEOUT, latency_ms=_ms(started), detail="no PUBACK within the timeout"
            )
        return AttemptResult(Outcome.DELIVERED, Reason.OK, _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
