"""A fleet of simulated devices on one simulated timeline: when each device reports, which
scripted incidents happen when, and the MQTT messages that result. Pure: no broker, no clock.

``advance(now)`` returns every message due up to ``now`` in time order; a publisher (or a test
with a ``FakeClock``) drives it. Scripted injections run at their offset from ``start``; the
device then reports at once, so the rules see the change without waiting for the next sample.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import orjson

from gateway.topics import status_topic, telemetry_topic
from simulators.base import SimDevice


@dataclass(frozen=True, slots=True)
class Outbound:
    """One MQTT message to publish."""

    topic: str
    payload: bytes
    retain: bool = False
    is_status: bool = False
    at: float = 0.0
    """Simulated time it belongs to."""
    device: int = 0
    """Index of the device in the fleet (a publisher keeps one device on one connection)."""


@dataclass(frozen=True, slots=True)
class Injection:
    """A scripted incident: call ``apply`` on ``device`` at ``at_s`` simulated seconds after
    the fleet starts."""

    at_s: float
    device: str
    label: str
    apply: Callable[[], None] = field(compare=False, repr=False)


class Fleet:
    def __init__(self, devices: Sequence[SimDevice], injections: Iterable[Injection] = ()) -> None:
        self.devices = list(devices)
        self._by_key = {d.ref.key: i for i, d in enumerate(self.devices)}
        self._by_id: dict[str, int] = {}
        for i, device in enumerate(self.devices):
            self._by_id.setdefault(device.ref.device, i)
        self.injections = sorted(injections, key=lambda inj: inj.at_s)
        for injection in self.injections:
            self.index_of(injection.device)  # unknown device names fail now, not mid-run
        self.start_at: float | None = None
        self.now: float | None = None
        self.applied: list[tuple[float, Injection]] = []
        self._next_injection = 0
        self._heap: list[tuple[float, int]] = []
        self._due: list[float] = []
        self._last: list[float] = []
        self._online: list[bool] = []

    def index_of(self, device: str) -> int:
        """Index of a device by ``site/device`` key or bare device id (first site wins)."""
        index = self._by_key.get(device, self._by_id.get(device))
        if index is None:
            raise KeyError(f"no simulated device {device!r}")
        return index

    def device(self, device: str) -> SimDevice:
        return self.devices[self.index_of(device)]

    def start(self, now: float) -> list[Outbound]:
        """Begin at simulated ``now``: every device announces itself ``online`` (retained)."""
        if self.start_at is not None:
            raise RuntimeError("the fleet has already started")
        self.start_at = self.now = now
        self._last = [now] * len(self.devices)
        self._online = [d.online for d in self.devices]
        self._due = [max(d.first_report_at(), now) for d in self.devices]
        self._heap = [(due, i) for i, due in enumerate(self._due)]
        heapq.heapify(self._heap)
        return [self._status(i, now) for i in range(len(self.devices))]

    def next_due(self) -> float | None:
        """Simulated time of the next message or injection (None when nothing is scheduled)."""
        candidates = [self._heap[0][0]] if self._heap else []
        if self._next_injection < len(self.injections):
            candidates.append(self._injection_time(self.injections[self._next_injection]))
        return min(candidates) if candidates else None

    def advance(self, now: float, limit: int | None = None) -> list[Outbound]:
        """Everything due up to ``now``, in time order; at most ``limit`` telemetry messages
        (the rest stays due)."""
        if self.start_at is None:
            raise RuntimeError("start() the fleet first")
        out: list[Outbound] = []
        telemetry = 0
        while limit is None or telemetry < limit:
            report_at = self._heap[0][0] if self._heap else None
            injection = self._pending_injection(now)
            if injection is not None and (report_at is None or injection[0] <= report_at):
                out.extend(self._inject(*injection))
            elif report_at is not None and report_at <= now:
                message = self._report(*heapq.heappop(self._heap))
                if message is not None:
                    out.append(message)
                    telemetry += not message.is_status
            else:
                break
        self.now = now if self.now is None else max(self.now, now)
        return out

    def stop(self) -> list[Outbound]:
        """The devices say goodbye: ``offline``, retained (what their Last Will would say)."""
        at = self.now or 0.0
        return [self._status(i, at, online=False) for i, on in enumerate(self._online) if on]

    # --- internals --------------------------------------------------------------------------

    def _injection_time(self, injection: Injection) -> float:
        assert self.start_at is not None
        return self.start_at + injection.at_s

    def _pending_injection(self, now: float) -> tuple[float, Injection] | None:
        if self._next_injection >= len(self.injections):
            return None
        injection = self.injections[self._next_injection]
        at = self._injection_time(injection)
        return (at, injection) if at <= now else None

    def _inject(self, at: float, injection: Injection) -> list[Outbound]:
        self._next_injection += 1
        index = self.index_of(injection.device)
        device = self.devices[index]
        device.step(at)
        injection.apply()
        self.applied.append((at, injection))
        out = []
        if device.online != self._online[index]:
            self._online[index] = device.online
            out.append(self._status(index, at))
        self._schedule(index, max(device.next_report_at(self._last[index]), at))
        return out

    def _report(self, due: float, index: int) -> Outbound | None:
        if due != self._due[index]:
            return None  # superseded by a reschedule after an injection
        device = self.devices[index]
        if not self._online[index]:
            device.step(due)
            self._schedule(index, due + 60.0)  # silent; look again later
            return None
        if due < device.quiet_until:
            device.step(due)
            self._schedule(index, device.quiet_until)  # online, but says nothing until then
            return None
        payload = device.telemetry(due)
        self._last[index] = due
        self._schedule(index, device.next_report_at(due))
        return Outbound(telemetry_topic(device.ref), orjson.dumps(payload), at=due, device=index)

    def _schedule(self, index: int, due: float) -> None:
        self._due[index] = due
        heapq.heappush(self._heap, (due, index))

    def _status(self, index: int, at: float, *, online: bool | None = None) -> Outbound:
        device = self.devices[index]
        state = device.online if online is None else online
        return Outbound(
            status_topic(device.ref),
            b"online" if state else b"offline",
            retain=True,
            is_status=True,
            at=at,
            device=index,
        )
