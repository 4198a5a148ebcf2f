"""Live elevator telemetry at a fixed rate, with alarms on schedule, from a process of its own.

    python -m bench.alarm_feed --port PORT [--rate 10000] [--duration 75] [--devices 10000]
                               [--alarms 100] [--entrapments 40] [--warmup 15] [--seed 0]

The fleet is the benchmark site file's elevators (``fleet_config``, which the measuring side
builds the same way). Each car reports once per ``devices / rate`` seconds on a simple cycle
that trips no rule: travelling with the door closed, arriving (door open, passenger out),
door closed, travelling back. ``ts`` is the wall clock at publish time, in epoch ms.

On schedule, some cars raise an event (and keep reporting it):

- ``alarm``: stopped between floors, door closed, alarm button pressed. ``elevator.alarm_button``
  fires on this one message; we record the wall-clock time just before publishing it.
- ``entrapment``: stopped between floors, door closed, passenger detected, no alarm. The car
  then reports every 5 s, phased so that no report lands on the dwell's expiry
  (``elevator.entrapment`` is decided by the rules' clock tick, as in the field). We record the
  stop message's ``ts``: the dwell expires ``entrapment_s`` after it.

Event messages go at QoS 1, background telemetry at ``--qos`` (0). Progress lines on stderr;
the last stdout line is a JSON summary with every event.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from bench.stream import bench_site_config
from gateway.topics import Kind
from rules.thresholds import ElevatorThresholds
from steward.paho import release_sockets
from steward.site import ElevatorParams, StewardConfig

HALTED_REPORT_S = 5.0
"""A stopped car reports this often (as the elevator simulator's idle report)."""
ENTRAPMENT_S = ElevatorThresholds().entrapment_s
ELEVATOR_SHARE = 0.70
"""Of the benchmark site file's devices (bench/stream.py ``MIX``)."""


@dataclass(frozen=True)
class Car:
    site: str
    device: str
    top: int
    """Highest floor the cycle visits (a few floors above the first)."""
    speed: float

    @property
    def topic(self) -> str:
        return f"estate/{self.site}/elevator/{self.device}/telemetry"


@dataclass(frozen=True)
class Event:
    kind: str
    """``alarm`` or ``entrapment``."""
    car: int
    """Index into the fleet."""
    at_s: float
    """Seconds after the feed starts."""


def fleet_config(devices: int, *, seed: int) -> StewardConfig:
    """The benchmark site file with at least ``devices`` elevators (and the other kinds)."""
    return bench_site_config(math.ceil(devices / ELEVATOR_SHARE) + 4, seed=seed)


def cars(config: StewardConfig, n: int) -> list[Car]:
    out: list[Car] = []
    for site in config.sites:
        for building in site.buildings:
            for device in building.devices:
                if device.kind is not Kind.ELEVATOR:
                    continue
                params = ElevatorParams.model_validate(device.params)
                top = min(params.max_floor, 5)
                out.append(Car(site.id, device.id, top, round(0.8 * params.rated_speed_mps, 2)))
    if len(out) < n:
        raise ValueError(f"the site file has {len(out)} elevators, {n} wanted")
    return out[:n]


def schedule(
    devices: int,
    alarms: int,
    entrapments: int,
    warmup_s: float,
    duration_s: float,
    seed: int,
    dwell_s: float = ENTRAPMENT_S,
) -> list[Event]:
    """Events spread evenly (with jitter) over distinct cars; entrapments early enough that
    their dwell (``entrapment_s``) expires at least 5 s before the feed ends."""
    rng = random.Random(seed)
    n = alarms + entrapments
    if n > devices:
        raise ValueError("more events than cars")
    picked = rng.sample(range(devices), n)
    out = []
    for kind, count, last in (
        ("alarm", alarms, duration_s - 3.0),
        ("entrapment", entrapments, duration_s - dwell_s - 5.0),
    ):
        if count and last <= warmup_s:
            raise ValueError(f"--duration too short for {kind} events after the warm-up")
        gap = (last - warmup_s) / max(count, 1)
        for i in range(count):
            out.append(Event(kind, picked.pop(), warmup_s + (i + rng.random()) * gap))
    return sorted(out, key=lambda e: e.at_s)


def _payload(ts_ms: int, seq: int, car: Car, phase: int) -> bytes:
    """Phase in a 12-step cycle: up 4 floors, open, close, down 4 floors, open, close."""
    step = phase % 12
    if step < 4 or 6 <= step < 10:
        up = step < 4
        floor = 1 + step if up else car.top - (step - 6)
        return (
            f'{{"ts":{ts_ms},"seq":{seq},"floor":{floor},"moving":true,'
            f'"direction":"{"up" if up else "down"}","door":"closed","door_zone":false,'
            f'"occupied":true,"alarm":false,"mode":"normal","mains_power":true,'
            f'"speed_mps":{car.speed},"safety_circuit_ok":true,"door_lock_ok":true,'
            f'"fault_codes":[]}}'
        ).encode()
    floor = car.top if step in (4, 5) else 1
    door = "open" if step in (4, 10) else "closed"
    return (
        f'{{"ts":{ts_ms},"seq":{seq},"floor":{floor},"moving":false,"direction":"none",'
        f'"door":"{door}","door_zone":true,"occupied":false,"alarm":false,"mode":"normal",'
        f'"mains_power":true,"speed_mps":0.0,"safety_circuit_ok":true,"door_lock_ok":true,'
        f'"fault_codes":[]}}'
    ).encode()


def _stuck(ts_ms: int, seq: int, *, alarm: bool) -> bytes:
    """Stopped between floors 2 and 3, door closed: a passenger inside."""
    return (
        f'{{"ts":{ts_ms},"seq":{seq},"floor":2,"moving":false,"direction":"none",'
        f'"door":"closed","door_zone":false,"occupied":true,"alarm":{"true" if alarm else "false"},'
        f'"mode":"normal","mains_power":true,"speed_mps":0.0,"safety_circuit_ok":true,'
        f'"door_lock_ok":true,"fault_codes":[]}}'
    ).encode()


@dataclass
class FeedResult:
    published: int
    background: int
    seconds: float
    behind_max: int
    """Most messages the feed was ever behind its schedule."""
    events: list[dict[str, object]]

    @property
    def rate(self) -> float:
        return self.published / self.seconds if self.seconds > 0 else 0.0


class Feed:
    def __init__(self, host: str, port: int, qos: int) -> None:
        self.qos = qos
        self.connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"bench-alarm-feed-{uuid.uuid4().hex[:8]}",
            clean_session=True,
            protocol=mqtt.MQTTv311,
        )
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.on_connect = self._on_connect
        self.client.connect(host, port, keepalive=60)
        self.client.loop_start()
        if not self.connected.wait(10):
            self.close()
            raise ConnectionError(f"feed could not connect to {host}:{port}")
        self.window: list[mqtt.MQTTMessageInfo] = []

    def _on_connect(
        self, _c: mqtt.Client, _u: object, _f: mqtt.ConnectFlags, reason: ReasonCode, _p: object
    ) -> None:
        if not reason.is_failure:
            self.connected.set()

    def publish(self, topic: str, payload: bytes, qos: int) -> mqtt.MQTTMessageInfo:
        info = self.client.publish(topic, payload, qos=qos)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"publish failed: {mqtt.error_string(info.rc)}")
        return info

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        release_sockets(self.client)


def _raise(feed: Feed, event: Event, car: Car, seq: int) -> dict[str, object]:
    """Publish the event's first message; when it was published and its ``ts``."""
    wall = time.time()
    ts_ms = int(wall * 1000)
    info = feed.publish(car.topic, _stuck(ts_ms, seq, alarm=event.kind == "alarm"), 1)
    return {
        "kind": event.kind,
        "site": car.site,
        "device": car.device,
        "published_wall": wall,
        "ts_ms": ts_ms,
        "mid": info.mid,
    }


def _report(
    feed: Feed,
    car: Car,
    seq: int,
    phase: list[int],
    i: int,
    stuck: dict[int, tuple[bool, float]],
    elapsed: float,
) -> mqtt.MQTTMessageInfo | None:
    """Car ``i``'s turn: its next report, or None when it is stopped and not due."""
    held = stuck.get(i)
    now_ms = int(time.time() * 1000)
    if held is None:
        phase[i] += 1
        return feed.publish(car.topic, _payload(now_ms, seq, car, phase[i]), feed.qos)
    alarm, next_at = held
    if elapsed < next_at:
        return None  # a stopped car reports every 5 s, not at the fleet's pace
    stuck[i] = (alarm, next_at + HALTED_REPORT_S)
    return feed.publish(car.topic, _stuck(now_ms, seq, alarm=alarm), 1)


def run_feed(
    feed: Feed,
    fleet: Sequence[Car],
    events: Sequence[Event],
    *,
    rate: float,
    duration_s: float,
    progress: bool,
) -> FeedResult:
    n = len(fleet)
    seq = [0] * n
    phase = [random.Random(i).randrange(12) for i in range(n)]
    stuck: dict[int, tuple[bool, float]] = {}
    """car → (alarm pressed, next report time in feed seconds) once its event happened."""
    pending = list(reversed(events))
    happened: list[dict[str, object]] = []
    sent = background = behind_max = 0
    cursor = 0
    t0 = time.time()
    next_note = 1.0
    while True:
        elapsed = time.time() - t0
        if elapsed >= duration_s:
            break
        while pending and pending[-1].at_s <= elapsed:
            event = pending.pop()
            seq[event.car] += 1
            happened.append(_raise(feed, event, fleet[event.car], seq[event.car]))
            sent += 1
            # reports at +2.5 s, +7.5 s, ...: none lands on a dwell's expiry (a multiple of 5 s)
            stuck[event.car] = (event.kind == "alarm", elapsed + HALTED_REPORT_S / 2)
        due = int(elapsed * rate)
        behind_max = max(behind_max, due - background)
        batch = min(due - background, 200)
        for _ in range(batch):
            i = cursor
            cursor = (cursor + 1) % n
            background += 1
            seq[i] += 1
            info = _report(feed, fleet[i], seq[i], phase, i, stuck, elapsed)
            if info is None:
                seq[i] -= 1
                continue
            sent += 1
            if sent % 1000 == 0:  # paho queues without limit: stay near the socket
                feed.window.append(info)
                if len(feed.window) > 10:
                    feed.window.pop(0).wait_for_publish(5.0)
        if progress and elapsed >= next_note:
            next_note += 1.0
            print(f"progress {elapsed:.2f} {sent}", file=sys.stderr, flush=True)
        if batch == 0:
            time.sleep(0.001)
    seconds = time.time() - t0
    return FeedResult(sent, background, seconds, behind_max, happened)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.alarm_feed")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, default=10_000.0)
    parser.add_argument("--duration", type=float, default=75.0)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--alarms", type=int, default=100)
    parser.add_argument("--entrapments", type=int, default=40)
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--qos", type=int, choices=(0, 1), default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--entrapment-s", type=float, default=ENTRAPMENT_S)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    fleet = cars(fleet_config(args.devices, seed=args.seed), args.devices)
    events = schedule(
        args.devices,
        args.alarms,
        args.entrapments,
        args.warmup,
        args.duration,
        args.seed,
        args.entrapment_s,
    )
    feed = Feed(args.host, args.port, args.qos)
    try:
        result = run_feed(
            feed,
            fleet,
            events,
            rate=args.rate,
            duration_s=args.duration,
            progress=not args.quiet,
        )
        for info in feed.window:
            info.wait_for_publish(5.0)
    finally:
        feed.close()
    print(json.dumps({**asdict(result), "rate": result.rate}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
