"""The simulators' only contact with paho-mqtt: one publishing connection per ``Connection``.

Each connection owns a paho client with its own network thread (``loop_start``); the caller
publishes from its own thread. The broker's acknowledgements (QoS 1) or the socket writes
(QoS 0) are counted, so a run can wait until everything it sent has left.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from steward.paho import release_sockets
from steward.settings import mqtt_address

_TLS_BY_SCHEME = {"mqtt": False, "tcp": False, "mqtts": True, "ssl": True}


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """``mqtt://[user:pass@]host[:port]`` (also ``tcp``; ``mqtts``/``ssl`` for TLS)."""
        scheme = urlsplit(url).scheme
        if scheme not in _TLS_BY_SCHEME:
            raise ValueError(f"broker URL must look like mqtt://host:port, got {url!r}")
        host, port, username, password = mqtt_address(url)
        tls = _TLS_BY_SCHEME[scheme]
        if tls and urlsplit(url).port is None:
            port = 8883
        return cls(host, port, username, password, tls)


class Connection:
    """One MQTT connection that publishes and counts what left."""

    def __init__(self, address: BrokerAddress, client_id: str, *, keepalive: int = 30) -> None:
        self.address = address
        self.client_id = client_id
        self.keepalive = keepalive
        self.sent = 0
        """Messages handed to paho (sent, or queued for resending at QoS 1)."""
        self.done = 0
        """Messages written to the socket (QoS 0) or acknowledged by the broker (QoS 1)."""
        self.failed = 0
        """Messages dropped: QoS 0 while disconnected, or a full queue."""
        self._done_changed = threading.Condition()
        self._connected = threading.Event()
        self._refusal: str | None = None
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=True,
            protocol=mqtt.MQTTv311,
        )
        if address.username is not None:
            client.username_pw_set(address.username, address.password)
        if address.tls:
            client.tls_set()
        client.max_inflight_messages_set(200)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self._client = client

    def open(self, timeout: float = 10.0) -> None:
        """Connect and start the network thread; raise ``ConnectionError`` if refused."""
        try:
            self._client.connect(self.address.host, self.address.port, self.keepalive)
        except OSError as exc:
            raise ConnectionError(
                f"cannot reach MQTT broker {self.address.host}:{self.address.port}: {exc}"
            ) from exc
        self._client.loop_start()
        if not self._connected.wait(timeout) or self._refusal is not None:
            self.close()
            why = self._refusal or f"no CONNACK within {timeout:g} s"
            raise ConnectionError(f"MQTT broker refused {self.client_id}: {why}")

    def publish(self, topic: str, payload: bytes, *, qos: int, retain: bool = False) -> bool:
        """Hand one message to paho; False when it was dropped."""
        with self._done_changed:
            self.sent += 1
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        queued_for_resend = qos > 0 and info.rc is MQTTErrorCode.MQTT_ERR_NO_CONN
        if info.rc is MQTTErrorCode.MQTT_ERR_SUCCESS or queued_for_resend:
            return True
        with self._done_changed:
            self.sent -= 1
            self.failed += 1
        return False

    @property
    def pending(self) -> int:
        with self._done_changed:
            return self.sent - self.done

    def flush(self, timeout: float) -> bool:
        """Wait until everything sent is done; False on timeout."""
        with self._done_changed:
            return self._done_changed.wait_for(lambda: self.done >= self.sent, timeout)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        release_sockets(self._client)

    # --- paho callbacks (network thread) ----------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            self._refusal = str(reason)
        self._connected.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self._connected.clear()

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, properties: Any
    ) -> None:
        with self._done_changed:
            self.done += 1
            self._done_changed.notify_all()
