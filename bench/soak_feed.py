"""A paced live feed for the soak: a realistic device mix at a fixed rate, for a long time.

    python -m bench.soak_feed --port PORT [--rate 5000] [--duration 1800] [--devices 10000]

The fleet is the benchmark site file (bench/stream.py ``bench_site_config``). Messages go out
at ``--rate`` on the wall clock (``ts`` = now), spread over the fleet so that elevators
dominate as in the field (``OTHER_EVERY``: ~3 % of the messages come from water-pressure
sensors and extinguishers, driven by the project's simulators; patrol checkpoints are scanned
only every couple of hours, so none within a soak):

- elevators run bench/alarm_feed.py's quiet cycle (trips, door cycles: no rule fires, but a
  door open at a landing starts a dwell, so the dwell saver works all the time);
- ``--qos1-share`` of the cars publish at QoS 1 (acked by Steward after processing), the
  rest at QoS 0. One QoS per device: MQTT keeps the order of one topic only within a QoS
  level, and when Steward's QoS 1 in-flight window is full the broker holds QoS 1 back
  while QoS 0 flows, so a device mixing both would see its older QoS 1 report arrive after
  a newer one and rejected as ``duplicate_seq`` (seen in a soak under backlog);
- ``--malformed-share`` are malformed messages (bench/stream.py's kinds, each with the
  rejection reason the gateway must give it);
- incidents: a QoS 1 car reports controller fault 07 for ``--incident-s``, then clears it:
  ``elevator.controller_fault`` opens a ticket and auto-resolves it, so the ticket store,
  the outbox and the delivery dispatcher work too. Each incident on a car of its own.

Progress lines ``progress <elapsed_s> <published>`` go to stderr every second; the last stdout
line is a JSON summary (published by QoS, kind and rejection reason, incidents).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from bench.alarm_feed import Car, Feed, _payload, cars
from bench.publish import SENTINEL_TOPIC
from bench.stream import _malformed, bench_site_config, malformed_reason
from gateway.topics import Kind, telemetry_topic
from simulators.base import SimDevice
from simulators.fleet import devices_from_config

OTHER_EVERY = 33
"""One message in this many comes from a water-pressure sensor or an extinguisher."""
QUIET_KINDS = (Kind.WATER_PRESSURE, Kind.EXTINGUISHER)
FAULTED = b'"fault_codes":["07"]'
"""Position lost: a controller code without a rule of its own (``controller_fault``)."""
WINDOW = 1000
"""Every this many messages, keep the handle; wait on the tenth-last (paho queues unbounded)."""


Message = tuple[str, bytes, int, str]
"""topic, payload, QoS, kind"""


@dataclass
class Incident:
    car: int
    at_s: float
    started_wall: float | None = None
    cleared_wall: float | None = None


@dataclass
class FeedSummary:
    published: int = 0
    seconds: float = 0.0
    by_qos: Counter[int] = field(default_factory=Counter)
    valid_by_kind: Counter[str] = field(default_factory=Counter)
    malformed_by_reason: Counter[str] = field(default_factory=Counter)
    behind_max: int = 0
    """Most messages the feed was ever behind its schedule."""
    incidents: list[Incident] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.published / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "published": self.published,
            "seconds": round(self.seconds, 3),
            "rate": round(self.rate, 1),
            "by_qos": {str(q): n for q, n in sorted(self.by_qos.items())},
            "valid": sum(self.valid_by_kind.values()),
            "valid_by_kind": dict(self.valid_by_kind),
            "malformed_by_reason": dict(self.malformed_by_reason),
            "behind_max": self.behind_max,
            "incidents": [asdict(i) for i in self.incidents],
        }


def incident_schedule(
    cars: Sequence[int], count: int, duration_s: float, incident_s: float, seed: int
) -> list[Incident]:
    """``count`` incidents on distinct ``cars``, spread evenly (with jitter) over the run,
    each cleared at least 5 s before the feed ends."""
    if count == 0:
        return []
    last = duration_s - incident_s - 5.0
    first = min(5.0, last / 2)
    if last <= first:
        raise ValueError("--duration too short for incidents")
    rng = random.Random(seed)
    if count > len(cars):
        raise ValueError(f"{count} incidents but only {len(cars)} QoS 1 cars")
    picked = rng.sample(list(cars), count)
    gap = (last - first) / count
    return [Incident(picked[i], first + (i + rng.random()) * gap) for i in range(count)]


class Fleet:
    """Whose turn it is, and what it says."""

    def __init__(self, devices: int, seed: int, incident_s: float, qos1_share: float) -> None:
        config = bench_site_config(devices, seed=seed)
        n_cars = sum(
            d.kind is Kind.ELEVATOR for s in config.sites for b in s.buildings for d in b.devices
        )
        self.cars: list[Car] = cars(config, n_cars)
        sims = devices_from_config(config, start=time.time(), seed=seed)
        self.others: list[SimDevice] = [d for d in sims if d.ref.kind in QUIET_KINDS]
        rng = random.Random(seed)
        self.phase = [rng.randrange(12) for _ in self.cars]
        self.seq = [0] * len(self.cars)
        every = round(1 / qos1_share) if qos1_share > 0 else 0
        self.qos1_cars = frozenset(range(0, len(self.cars), every) if every else ())
        self.incident_s = incident_s
        self.faulted: dict[int, tuple[float, Incident]] = {}
        """car → (when its fault clears, in feed seconds; the incident)."""
        self._car = 0
        self._other = 0

    def start_incident(self, incident: Incident, elapsed: float) -> None:
        incident.started_wall = time.time()
        self.faulted[incident.car] = (elapsed + self.incident_s, incident)

    def car_message(self, elapsed: float) -> tuple[str, bytes, int]:
        """The next car's report and its QoS."""
        i = self._car
        self._car = (i + 1) % len(self.cars)
        car = self.cars[i]
        self.seq[i] += 1
        self.phase[i] += 1
        payload = _payload(int(time.time() * 1000), self.seq[i], car, self.phase[i])
        qos = 1 if i in self.qos1_cars else 0
        held = self.faulted.get(i)
        if held is None:
            return car.topic, payload, qos
        until, incident = held
        if elapsed < until:
            payload = payload.replace(b'"fault_codes":[]', FAULTED)
        else:  # this report (at QoS 1 too) clears it
            del self.faulted[i]
            incident.cleared_wall = time.time()
        return car.topic, payload, qos

    def other_message(self) -> tuple[str, bytes]:
        sim = self.others[self._other]
        self._other = (self._other + 1) % len(self.others)
        payload = bytes(memoryview(orjson.dumps(sim.telemetry(time.time()))))
        return telemetry_topic(sim.ref), payload

    def message(self, index: int, elapsed: float) -> Message:
        """Message number ``index`` of the schedule."""
        if self.others and index % OTHER_EVERY == OTHER_EVERY - 1:
            topic, payload = self.other_message()
            return topic, payload, 0, topic.split("/", 3)[2]
        topic, payload, qos = self.car_message(elapsed)
        return topic, payload, qos, Kind.ELEVATOR.value


def run_feed(
    feed: Feed,
    fleet: Fleet,
    incidents: Sequence[Incident],
    *,
    rate: float,
    duration_s: float,
    malformed_share: float,
    progress: bool,
) -> FeedSummary:
    out = FeedSummary(incidents=list(incidents))
    pending = sorted(incidents, key=lambda x: x.at_s, reverse=True)
    malformed_every = round(1 / malformed_share) if malformed_share > 0 else 0
    previous: tuple[str, bytes, int] | None = None
    scheduled = 0
    t0 = time.monotonic()
    next_note = 1.0
    while (elapsed := time.monotonic() - t0) < duration_s:
        while pending and pending[-1].at_s <= elapsed:
            fleet.start_incident(pending.pop(), elapsed)
        due = int(elapsed * rate)
        out.behind_max = max(out.behind_max, due - scheduled)
        batch = min(due - scheduled, 200)
        for _ in range(batch):
            scheduled += 1
            if malformed_every and previous and scheduled % malformed_every == 0:
                bad = sum(out.malformed_by_reason.values())
                reason = malformed_reason(bad)
                topic, payload = _malformed(reason, bad, previous[:2])
                # a replay at its original's QoS: at another it could overtake the original
                _send(feed, out, topic, payload, previous[2] if topic == previous[0] else 0)
                out.malformed_by_reason[reason.value] += 1
                continue
            topic, payload, qos, kind = fleet.message(scheduled, elapsed)
            _send(feed, out, topic, payload, qos)
            out.valid_by_kind[kind] += 1
            previous = (topic, payload, qos)
        if progress and elapsed >= next_note:
            next_note += 1.0
            print(f"progress {elapsed:.2f} {out.published}", file=sys.stderr, flush=True)
        if batch == 0:
            time.sleep(0.001)
    out.seconds = time.monotonic() - t0
    return out


def _send(feed: Feed, out: FeedSummary, topic: str, payload: bytes, qos: int) -> None:
    info = feed.publish(topic, payload, qos)
    out.published += 1
    out.by_qos[qos] += 1
    if out.published % WINDOW == 0:
        feed.window.append(info)
        if len(feed.window) > 10:
            feed.window.pop(0).wait_for_publish(10.0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak_feed")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, default=5_000.0)
    parser.add_argument("--duration", type=float, default=1800.0)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--qos1-share", type=float, default=0.02)
    parser.add_argument("--malformed-share", type=float, default=0.001)
    parser.add_argument("--incidents", type=int, default=90)
    parser.add_argument("--incident-s", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    fleet = Fleet(args.devices, args.seed, args.incident_s, args.qos1_share)
    incidents = incident_schedule(
        sorted(fleet.qos1_cars), args.incidents, args.duration, args.incident_s, args.seed
    )
    feed = Feed(args.host, args.port, 0)
    try:
        print("ready", file=sys.stderr, flush=True)
        summary = run_feed(
            feed,
            fleet,
            incidents,
            rate=args.rate,
            duration_s=args.duration,
            malformed_share=args.malformed_share,
            progress=not args.quiet,
        )
        # one connection keeps order: once the sentinel is acked, the broker has it all
        sentinel = feed.publish(SENTINEL_TOPIC, b"end", 1)
        sentinel.wait_for_publish(30.0)
        if not sentinel.is_published():
            raise TimeoutError("the broker did not confirm the end of the feed")
    finally:
        feed.close()
    print(json.dumps(summary.as_dict()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
