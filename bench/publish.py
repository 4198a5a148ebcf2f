"""Put a pre-generated stream on the broker, in order, over one connection.

One connection keeps the stream's order on the broker (a device's ``seq`` arrives increasing,
a replay arrives after what it replays). The end is confirmed with a QoS 1 sentinel on a topic
nobody subscribes to: the broker handles one connection's packets in order, so its PUBACK
means every message before it has been queued for the offline sessions.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from steward.paho import release_sockets

SENTINEL_TOPIC = "bench/sentinel"


@dataclass
class PublishResult:
    published: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.published / self.seconds if self.seconds > 0 else 0.0


def publish_stream(
    host: str,
    port: int,
    messages: Sequence[tuple[str, bytes]],
    *,
    qos: int,
    timeout_s: float,
    progress: Callable[[str], None] | None = None,
) -> PublishResult:
    """Publish every message at ``qos``; return once the broker has them all. Raises
    ``TimeoutError`` past ``timeout_s`` and ``ConnectionError`` when the broker is away."""
    connected = threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"bench-pub-{uuid.uuid4().hex[:8]}",
        clean_session=True,
        protocol=mqtt.MQTTv311,
    )
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)

    def on_connect(
        _c: mqtt.Client, _u: object, _f: mqtt.ConnectFlags, reason: ReasonCode, _p: object
    ) -> None:
        if not reason.is_failure:
            connected.set()

    client.on_connect = on_connect
    started = time.perf_counter()
    deadline = time.monotonic() + timeout_s
    client.connect(host, port, keepalive=60)
    client.loop_start()
    try:
        if not connected.wait(10):
            raise ConnectionError(f"publisher could not connect to {host}:{port}")
        next_note = time.monotonic() + 1.0
        window: list[mqtt.MQTTMessageInfo] = []
        for i, (topic, payload) in enumerate(messages):
            info = client.publish(topic, payload, qos=qos)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                raise ConnectionError(f"publish {i} failed: {mqtt.error_string(info.rc)}")
            if i % 1000 == 0:
                now = time.monotonic()
                if now > deadline:
                    raise TimeoutError(f"published only {i} of {len(messages)} in time")
                if progress is not None and now >= next_note:
                    next_note = now + 1.0
                    progress(f"publishing: {i:,}/{len(messages):,} handed to paho")
                # paho queues without limit: stay at most ~10,000 messages ahead of the socket
                window.append(info)
                if len(window) > 10:
                    window.pop(0).wait_for_publish(max(0.1, deadline - time.monotonic()))
        sentinel = client.publish(SENTINEL_TOPIC, b"end", qos=1)
        sentinel.wait_for_publish(max(0.1, deadline - time.monotonic()))
        if not sentinel.is_published():
            raise TimeoutError("the broker did not confirm the end of the stream in time")
        return PublishResult(len(messages), time.perf_counter() - started)
    finally:
        client.disconnect()
        client.loop_stop()
        release_sockets(client)
