"""The MQTT side of the gateway: paho-mqtt in one network thread that also drives rule ticks.

One thread owns the rule state (messages and ticks), so rules need no locking on the hot path.
The session is persistent (stable client id, clean_session=False) and QoS 1 messages are
acknowledged only once their reading has been handed on: at once when it decides nothing,
after the ticket is committed when it does. Reconnects use full-jitter exponential backoff,
and ticks keep firing while the broker is away.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from gateway.decode import DeadLetters, Decoder, Reason, Rejection
from gateway.reading import Reading, StatusChange
from gateway.topics import SUBSCRIPTIONS
from rules.decision import Action, Decision, Priority
from rules.engine import RulesEngine
from steward.clock import Clock
from steward.paho import BufferedClient, release_sockets
from steward.settings import MqttTls, Settings, mqtt_address, mqtt_tls

log = logging.getLogger("steward.gateway")

Ack = Callable[[], None]
DecisionSink = Callable[[list[Decision], Ack | None], None]
ReadingSink = Callable[[Reading], None]
DwellSink = Callable[[Ack, str], None]
"""A QoS 1 reading started a dwell of device ``key``: save it, then call ``ack``."""
Yield = Callable[[float], object]

URGENT_YIELD_S = 0.25
"""At most this long the gateway stops reading while an emergency ticket is written."""


def urgent(decisions: list[Decision]) -> bool:
    """An emergency is being raised: its ticket goes before the telemetry behind it."""
    return any(d.priority is Priority.EMERGENCY and d.action is Action.FIRE for d in decisions)


def ack_after(calls: int, ack: Ack) -> Ack:
    """An ack that acknowledges once it has been called ``calls`` times, from any threads:
    a message whose decisions and whose dwell are saved by different threads."""
    left = [calls]
    lock = threading.Lock()

    def part() -> None:
        with lock:
            left[0] -= 1
            done = left[0] == 0
        if done:
            ack()

    return part


def backoff_delay(
    attempt: int, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None
) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**attempt)] (AWS architecture blog)."""
    return (rng or random).uniform(0, min(cap, base * (2 ** min(attempt, 16))))


@dataclass
class GatewayStats:
    connected: bool = False
    connects: int = 0
    disconnects: int = 0
    messages_in: int = 0
    readings: int = 0
    status_changes: int = 0
    rule_eval_seconds: float = 0.0
    rule_evals: int = 0
    last_error: str = ""
    by_kind: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: MqttTls | None = None
    """TLS (``mqtts://``) and how to verify the broker; None: plain MQTT."""

    @classmethod
    def from_settings(cls, settings: Settings) -> BrokerAddress:
        """``STEWARD_MQTT_URL`` and ``STEWARD_MQTT_TLS_*``, checked: ``MqttTlsError`` for TLS
        settings with a plain URL or TLS files that cannot be used."""
        host, port, username, password = mqtt_address(settings.mqtt_url)
        tls = mqtt_tls(settings)
        if tls is not None:
            tls.context()  # reads the files: a bad one fails here, before the start
        return cls(host, port, username, password, tls)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}" + (f" over {self.tls.describe()}" if self.tls else "")


class MqttGateway:
    def __init__(
        self,
        *,
        broker: BrokerAddress,
        client_id: str,
        decoder: Decoder,
        engine: RulesEngine,
        dead_letters: DeadLetters,
        on_decisions: DecisionSink,
        clock: Clock,
        keepalive_s: int = 30,
        tick_interval_s: float = 1.0,
        on_reading: ReadingSink | None = None,
        on_dwell: DwellSink | None = None,
        yield_to_writer: Yield | None = None,
    ) -> None:
        self.broker = broker
        self.decoder = decoder
        self.engine = engine
        self.dead_letters = dead_letters
        self.on_decisions = on_decisions
        self.on_reading = on_reading
        self.on_dwell = on_dwell
        """Told when a QoS 1 reading starts a rule dwell, with its ack: the dwell is saved
        first. (A QoS 0 one has nothing to hold back: the periodic save takes it.)"""
        self._dwell_key: str | None = None
        """The device whose dwell the message being handled started, if it started one."""
        self.yield_to_writer = yield_to_writer
        """Called with ``URGENT_YIELD_S`` after an emergency was handed on: waits (up to that
        long) until it is committed. The gateway's thread holds the interpreter lock most of
        the time under load; the writer releases it at every SQL statement and waited up to
        a switch interval (5 ms) to get it back each time: tens of milliseconds for an
        emergency's ticket. Telemetry meanwhile waits in the socket and at the broker."""
        self.clock = clock
        self.keepalive_s = keepalive_s
        self.tick_interval_s = tick_interval_s
        self.stats = GatewayStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._generation = 0  # connection number: an ack never crosses a reconnect
        self._next_tick = 0.0
        self._client = BufferedClient(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        if broker.username:
            self._client.username_pw_set(broker.username, broker.password)
        if broker.tls is not None:
            # files are read now: a bad TLS setting fails the start, not each connect
            self._client.tls_set_context(broker.tls.context())
        self._client.max_inflight_messages_set(1000)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="steward-gateway", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            self._client.disconnect()
            # The network thread is gone: flush the DISCONNECT ourselves so paho closes the
            # socket (a clean DISCONNECT keeps the persistent session; a socket left to the
            # garbage collector is a ResourceWarning).
            for _ in range(20):
                if self._client.socket() is None:
                    break
                self._client.loop(timeout=0.05)
        except Exception:
            log.debug("disconnect on stop failed", exc_info=True)
        release_sockets(self._client)

    @property
    def connected(self) -> bool:
        return self.stats.connected

    # -- network thread ---------------------------------------------------------------------
    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                self._client.connect(self.broker.host, self.broker.port, self.keepalive_s)
            except (OSError, ValueError) as exc:
                delay = backoff_delay(attempt)
                attempt += 1
                self.stats.last_error = f"connect to {self.broker}: {exc}"
                log.warning("%s; retrying in %.1fs", self.stats.last_error, delay)
                self._idle(delay)
                continue
            rc = MQTTErrorCode.MQTT_ERR_SUCCESS
            while not self._stop.is_set() and rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                wait = 0.0 if self._client.buffered() else self._wait_s()
                rc = self._drain(self._client.loop(timeout=wait))
                self._tick_if_due()
            if self.stats.connected:
                attempt = 0
            self.stats.connected = False
            if not self._stop.is_set():
                delay = backoff_delay(attempt)
                attempt += 1
                why = self._client.tls_error or rc
                if self._client.tls_error:  # e.g. the broker wants a client certificate
                    self.stats.last_error = f"{self.broker}: {why}"
                log.warning("MQTT connection lost (%s); reconnecting in %.1fs", why, delay)
                self._idle(delay)

    def _drain(self, rc: MQTTErrorCode, most: int = 500) -> MQTTErrorCode:
        """Handle the packets already read into the client's buffer (``loop()`` handles one
        per call); ``most`` bounds it so acks, pings and ticks are not held back."""
        client = self._client
        for _ in range(most):
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or not client.buffered():
                break
            rc = client.loop_read()
        return rc

    def _idle(self, seconds: float) -> None:
        """Wait out a backoff while still firing rule timers."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            self._tick_if_due()
            self._stop.wait(min(self.tick_interval_s, max(0.0, deadline - time.monotonic())))

    def _wait_s(self) -> float:
        """How long the network loop may wait for a packet: until the next tick or the next
        dwell's end, and at most 50 ms."""
        wait = min(0.05, self.tick_interval_s)
        with self.engine.lock:
            due = self.engine.next_due()
        if due is not None:
            wait = min(wait, max(0.0, due - self.clock.now()))
        return wait

    def _tick_if_due(self) -> None:
        """The periodic tick, or between ticks the dwells whose time has come: a duration
        rule (an entrapment's 30 s) is decided at its end, not up to a tick later."""
        mono = time.monotonic()
        tick = mono >= self._next_tick
        if tick:
            self._next_tick = mono + self.tick_interval_s
        try:
            with self.engine.lock:
                # between ticks: only the dwells whose end has come (none: a heap peek)
                decisions = self.engine.tick() if tick else self.engine.expire()
        except Exception as exc:  # one bad tick must not stop the gateway
            log.exception("rule tick failed")
            self.stats.last_error = f"tick: {exc!r}"
            return
        if decisions:
            self.on_decisions(decisions, None)
            self._yield_if_urgent(decisions)

    def _yield_if_urgent(self, decisions: list[Decision]) -> None:
        if self.yield_to_writer is not None and urgent(decisions):
            self.yield_to_writer(URGENT_YIELD_S)

    # -- paho callbacks (network thread) ----------------------------------------------------
    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _props: object,
    ) -> None:
        if reason.is_failure:
            self.stats.last_error = f"broker refused connection: {reason}"
            log.error(self.stats.last_error)
            return
        self._generation += 1
        self.stats.connected = True
        self.stats.connects += 1
        client.subscribe([(topic, 1) for topic in SUBSCRIPTIONS])
        log.info("connected to MQTT %s (session present: %s)", self.broker, _flags.session_present)

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _props: object,
    ) -> None:
        self.stats.connected = False
        self.stats.disconnects += 1
        log.info("disconnected from MQTT: %s", reason)

    def _on_message(self, client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        self.stats.messages_in += 1
        self._dwell_key = None
        decisions = self._process(msg)
        dwell_key = self._dwell_key
        save_dwell = self.on_dwell if dwell_key is not None else None
        if msg.qos == 0:
            if decisions:
                self.on_decisions(decisions, None)
                self._yield_if_urgent(decisions)
            return
        ack = self._acker(client, msg.mid, msg.qos)
        if decisions and save_dwell is not None:
            ack = ack_after(2, ack)
        if decisions:
            self.on_decisions(decisions, ack)
        if save_dwell is not None and dwell_key is not None:
            save_dwell(ack, dwell_key)
        if not decisions and save_dwell is None:
            ack()
        if decisions:
            self._yield_if_urgent(decisions)

    def _acker(self, client: mqtt.Client, mid: int, qos: int) -> Ack:
        generation = self._generation

        def ack() -> None:
            if generation == self._generation:  # else the broker redelivers it anyway
                client.ack(mid, qos)

        return ack

    def _rejected(self, rejection: Rejection) -> list[Decision]:
        if rejection.reason is not Reason.RATE_LIMITED or rejection.ref is None:
            self.dead_letters.add(rejection)
            return []
        # a flood is counted, not kept: it would push every other dead letter out
        with self.engine.lock:
            return self.engine.on_rate_limited(rejection.ref)

    def _process(self, msg: mqtt.MQTTMessage) -> list[Decision]:
        received_at = self.clock.now()
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            self.dead_letters.add(
                self.decoder.reject(
                    Reason.BAD_TOPIC,
                    repr(msg._topic),
                    "topic is not UTF-8",
                    msg.payload,
                    received_at,
                )
            )
            return []
        try:
            result = self.decoder.decode(topic, msg.payload, received_at)
            if result is None:
                return []
            if isinstance(result, Rejection):
                return self._rejected(result)
            started = time.perf_counter()
            with self.engine.lock:
                if isinstance(result, StatusChange):
                    self.stats.status_changes += 1
                    decisions = self.engine.on_status(result)
                else:
                    self.stats.readings += 1
                    decisions = self.engine.on_reading(result)
                    if self.engine.new_dwell:
                        self._dwell_key = result.ref.key
            self.stats.rule_eval_seconds += time.perf_counter() - started
            self.stats.rule_evals += 1
            if isinstance(result, Reading) and self.on_reading is not None:
                self.on_reading(result)
        except Exception as exc:  # per-message error boundary: count, log once, go on
            log.exception("processing %s failed", topic)
            self.stats.last_error = f"{topic}: {exc!r}"
            self.dead_letters.add(
                self.decoder.reject(
                    Reason.INTERNAL_ERROR, topic, repr(exc), msg.payload, received_at
                )
            )
            return []
        return decisions
