"""Puts a fleet on a real MQTT broker.

``FleetPublisher`` spreads thousands of devices over a few connections, announces each device
``online`` (retained), publishes telemetry when the devices' simulated schedule says so and
stops by itself after a simulated duration or a number of messages. Time comes from an
injected ``Clock``: with an ``AcceleratedClock`` simulated seconds pass faster than wall
seconds, every report interval shrinks with them, and payload ``ts`` is the simulated time.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from gateway.topics import status_topic
from simulators.base import SimDevice
from simulators.mqtt import BrokerAddress, Connection
from simulators.schedule import Fleet, Outbound
from steward.clock import Clock


@dataclass(slots=True)
class PublishStats:
    devices: int
    telemetry: int = 0
    """Telemetry messages handed to the broker connection."""
    status: int = 0
    failed: int = 0
    unconfirmed: int = 0
    """Messages not yet written or acknowledged when the run ended (0 after a clean stop)."""
    wall_s: float = 0.0
    simulated_s: float = 0.0

    @property
    def rate(self) -> float:
        """Telemetry messages per wall second."""
        return self.telemetry / self.wall_s if self.wall_s > 0 else 0.0


StatusOnStop = Literal["offline", "clear", "keep"]
"""What each device's retained status says after a run: ``offline`` (a device's goodbye),
``clear`` (the retained message is deleted: tests on a shared broker) or ``keep`` (online)."""
ProgressCallback = Callable[[PublishStats], None]
_log = logging.getLogger(__name__)
_MAX_WAIT_S = 0.05
_FLUSH_TIMEOUT_S = 10.0


class FleetPublisher:
    """Publishes a fleet to a broker over ``connections`` MQTT connections (a device always
    uses the same one, so its ``online`` precedes its telemetry). Runs once: ``run()``
    blocks; ``start()``/``stop()`` run it in a background thread."""

    def __init__(
        self,
        fleet: Fleet | Sequence[SimDevice],
        broker_url: str,
        *,
        clock: Clock,
        qos: int = 0,
        connections: int = 4,
        client_id_prefix: str | None = None,
        status_on_stop: StatusOnStop = "offline",
        progress: ProgressCallback | None = None,
        progress_every_s: float = 1.0,
    ) -> None:
        if qos not in (0, 1):
            raise ValueError(f"qos must be 0 or 1, got {qos}")
        self.fleet = fleet if isinstance(fleet, Fleet) else Fleet(fleet)
        self.address = BrokerAddress.parse(broker_url)
        self.clock = clock
        self.time_factor = float(getattr(clock, "factor", 1.0))
        self.qos = qos
        self.connections = max(1, min(connections, len(self.fleet.devices)))
        self.client_id_prefix = client_id_prefix or f"steward-sim-{uuid.uuid4().hex[:8]}"
        self.status_on_stop = status_on_stop
        self.progress = progress
        self.progress_every_s = progress_every_s
        self.stats = PublishStats(devices=len(self.fleet.devices))
        self.error: BaseException | None = None
        """What ended a background run early, if anything."""
        self._conns: list[Connection] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wall0 = 0.0

    # --- blocking ---------------------------------------------------------------------------

    def run(
        self,
        duration_s: float | None = None,
        *,
        max_messages: int | None = None,
        stop: threading.Event | None = None,
    ) -> PublishStats:
        """Publish until ``duration_s`` simulated seconds have passed, ``max_messages``
        telemetry messages are out, or ``stop`` (or ``self.stop()``) is set; then flush and
        disconnect. Raises ``ConnectionError`` if the broker cannot be reached."""
        self._wall0 = time.monotonic()
        self._open()
        try:
            self._send(self.fleet.start(self.clock.now()))
            self._loop(duration_s, max_messages, stop)
        finally:
            self._close()
        return self.stats

    def _loop(
        self, duration_s: float | None, max_messages: int | None, stop: threading.Event | None
    ) -> None:
        assert self.fleet.start_at is not None
        end = math.inf if duration_s is None else self.fleet.start_at + duration_s
        next_progress = self._wall0 + self.progress_every_s
        while not (self._stop.is_set() or (stop is not None and stop.is_set())):
            left = None if max_messages is None else max_messages - self.stats.telemetry
            if left is not None and left <= 0:
                break
            now = min(self.clock.now(), end)
            self._send(self.fleet.advance(now, limit=left))
            if self.progress is not None and time.monotonic() >= next_progress:
                next_progress += self.progress_every_s
                self.progress(self._update_stats())
            if now >= end:
                break
            upcoming = self.fleet.next_due()
            wait = _MAX_WAIT_S if upcoming is None else (upcoming - now) / self.time_factor
            if wait > 0:
                (stop or self._stop).wait(min(wait, _MAX_WAIT_S))

    def _open(self) -> None:
        try:
            for i in range(self.connections):
                conn = Connection(self.address, f"{self.client_id_prefix}-{i}")
                conn.open()
                self._conns.append(conn)
        except BaseException:
            self._disconnect()
            raise

    def _send(self, messages: list[Outbound]) -> None:
        conns, stats = self._conns, self.stats
        for message in messages:
            conn = conns[message.device % len(conns)]
            if not conn.publish(
                message.topic, message.payload, qos=self.qos, retain=message.retain
            ):
                stats.failed += 1
            elif message.is_status:
                stats.status += 1
            else:
                stats.telemetry += 1

    def _close(self) -> None:
        try:
            self._flush()
            self._send(self._final_status())
            self._flush()
        finally:
            self._update_stats()
            self._disconnect()

    def _final_status(self) -> list[Outbound]:
        if self.status_on_stop == "offline":
            return self.fleet.stop()
        if self.status_on_stop == "clear":
            return [
                Outbound(status_topic(d.ref), b"", retain=True, is_status=True, device=i)
                for i, d in enumerate(self.fleet.devices)
            ]
        return []

    def _flush(self) -> None:
        deadline = time.monotonic() + _FLUSH_TIMEOUT_S
        for conn in self._conns:
            conn.flush(max(deadline - time.monotonic(), 0.0))

    def _disconnect(self) -> None:
        for conn in self._conns:
            conn.close()
        self._conns.clear()

    def _update_stats(self) -> PublishStats:
        stats = self.stats
        stats.wall_s = time.monotonic() - self._wall0
        if self.fleet.start_at is not None and self.fleet.now is not None:
            stats.simulated_s = self.fleet.now - self.fleet.start_at
        stats.unconfirmed = sum(conn.pending for conn in self._conns)
        return stats

    # --- background -------------------------------------------------------------------------

    def start(self, duration_s: float | None = None, *, max_messages: int | None = None) -> None:
        """Run in a background thread (the demo runs the simulator inside the service)."""
        if self._thread is not None:
            raise RuntimeError("this publisher has already run; make a new one")
        self._thread = threading.Thread(
            target=self._run_in_background,
            args=(duration_s, max_messages),
            name=f"simulator-{self.client_id_prefix}",
            daemon=True,
        )
        self._thread.start()

    def _run_in_background(self, duration_s: float | None, max_messages: int | None) -> None:
        try:
            self.run(duration_s, max_messages=max_messages)
        except Exception as exc:
            self.error = exc
            _log.exception("simulator %s stopped", self.client_id_prefix)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for a background run to end by itself; True when it has."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def stop(self, timeout: float = 30.0) -> PublishStats:
        """Ask the run to end, wait for it to flush and disconnect, return the counts."""
        self._stop.set()
        self.join(timeout)
        return self.stats
