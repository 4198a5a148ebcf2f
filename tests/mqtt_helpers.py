"""MQTT helpers for tests: a publisher, waiting on real I/O, forgetting persistent sessions."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from steward.paho import release_sockets
from steward.settings import mqtt_address


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    """Poll real I/O (not simulated time) until ``predicate`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Publisher:
    def __init__(self, url: str) -> None:
        host, port, user, password = mqtt_address(url)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique("test-pub"))
        if user:
            self.client.username_pw_set(user, password)
        self.client.max_inflight_messages_set(500)
        self.client.max_queued_messages_set(0)
        self.client.connect(host, port)
        self.client.loop_start()

    def publish(
        self, topic: str, payload: bytes | str | dict[str, Any], qos: int = 1, retain: bool = False
    ) -> mqtt.MQTTMessageInfo:
        body = orjson.dumps(payload) if isinstance(payload, dict) else payload
        return self.client.publish(topic, body, qos=qos, retain=retain)

    def publish_all(self, items: Iterable[tuple[str, bytes]], qos: int = 1) -> int:
        infos = [self.client.publish(topic, body, qos=qos) for topic, body in items]
        for info in infos:
            info.wait_for_publish(30)
        return len(infos)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        release_sockets(self.client)


def forget_session(url: str, client_id: str) -> None:
    """Drop a persistent session from the broker so it stops queueing for a finished test."""
    host, port, _, _ = mqtt_address(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    try:
        client.connect(host, port)
        client.loop_start()
        time.sleep(0.1)
        client.disconnect()
        client.loop_stop()
        release_sockets(client)
    except OSError:
        pass
