"""The benchmark's message stream, generated before anything is timed.

A fleet of simulated devices (simulators/) in a realistic mix, driven on its own simulated
timeline so every payload is what a real device of that kind would send: contract §2 JSON,
``seq`` increasing per device, ``ts`` ending near the wall clock's now. Elevators dominate
(70 % of the devices, and as they report every 1 s while moving and every 5 s when idle,
nearly all of the messages). Water and extinguisher sensors send their first report; patrol
checkpoints are scanned once (a guard round under way), since a real checkpoint is scanned
only every couple of hours. A known number of deliberately malformed messages is spread evenly
through the stream, each with the rejection reason the gateway must give it.
"""

from __future__ import annotations

import heapq
import math
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

import orjson

from gateway.decode import Reason
from gateway.topics import Kind, telemetry_topic
from simulators.base import FIRST_REPORT_SPREAD_S, SimDevice
from simulators.fleet import devices_from_config
from simulators.schedule import Fleet
from steward.site import StewardConfig

MIX: tuple[tuple[Kind, float], ...] = (
    (Kind.ELEVATOR, 0.70),
    (Kind.EXTINGUISHER, 0.15),
    (Kind.WATER_PRESSURE, 0.10),
    (Kind.PATROL, 0.05),
)
"""Share of each kind among the devices."""
DEVICES_PER_SITE = 200
MALFORMED_SHARE = 0.005
ELEVATOR_MSG_PER_S = 0.34
"""Mean report rate of a simulated elevator (1 s moving, 5 s idle), to place ``ts`` near now."""
MALFORMED_CYCLE: tuple[Reason, ...] = (
    Reason.NOT_JSON,
    Reason.SCHEMA,
    Reason.DUPLICATE_SEQ,
    Reason.BAD_ID,
    Reason.UNKNOWN_KIND,
)
TOO_LARGE_EVERY = 200
"""One malformed message in this many is an oversized (> 64 KiB) one."""
TOO_LARGE_BYTES = 70_000

Message = tuple[str, bytes]
Progress = Callable[[str], None]


@dataclass
class StreamInfo:
    """What the gateway must make of a stream (it travels as JSON from the feeder)."""

    total: int
    devices_by_kind: dict[str, int]
    valid_by_kind: dict[str, int]
    malformed_by_reason: dict[str, int]
    payload_bytes: int
    elevator_payload_mean: float
    simulated_span_s: float
    generate_s: float
    timeline_start: float
    """Device time (epoch s) of the oldest message."""
    timeline_end: float
    """Device time (epoch s) of the newest message: Steward's clock starts here."""
    timeline_end_minus_now_s: float
    seed: int

    @property
    def valid(self) -> int:
        return sum(self.valid_by_kind.values())

    @property
    def malformed(self) -> int:
        return sum(self.malformed_by_reason.values())

    @property
    def devices(self) -> int:
        return sum(self.devices_by_kind.values())

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StreamInfo:
        return cls(**{f.name: data[f.name] for f in fields(cls)})


@dataclass
class Stream:
    """The messages to publish, in order, the site file of their devices, and ``info``."""

    messages: list[Message]
    config: StewardConfig
    info: StreamInfo


def kinds_in_mix(n: int) -> list[Kind]:
    """``n`` kinds interleaved in ``MIX`` proportions (largest deficit first)."""
    counts = dict.fromkeys((kind for kind, _ in MIX), 0)
    kinds = []
    for i in range(1, n + 1):
        kind = max(MIX, key=lambda km: km[1] * i - counts[km[0]])[0]
        counts[kind] += 1
        kinds.append(kind)
    return kinds


def _device(kind: Kind, building: int, number: int, rng: random.Random) -> dict[str, Any]:
    prefix = f"b{building:03d}"
    if kind is Kind.ELEVATOR:
        top = rng.choice((6, 11, 18, 26, 33))
        speed = 1.0 if top <= 6 else 1.5 if top <= 11 else 1.75 if top <= 18 else 2.5
        params = {"min_floor": rng.choice((-1, -2)), "max_floor": top, "rated_speed_mps": speed}
        return {"id": f"{prefix}-elv-{number}", "kind": kind, "params": params}
    if kind is Kind.WATER_PRESSURE:
        network = "fire" if number % 2 == 0 else "domestic"
        return {"id": f"{prefix}-water-{number}", "kind": kind, "params": {"network": network}}
    if kind is Kind.EXTINGUISHER:
        params = {"basement": number % 3 == 0}
        return {"id": f"{prefix}-fex-{number}", "kind": kind, "params": params}
    return {"id": f"{prefix}-cp-{number}", "kind": kind, "params": {"key_area": True}}


def bench_site_config(n: int, *, seed: int = 0) -> StewardConfig:
    """A site file for ``n`` devices in ``MIX`` proportions, ``DEVICES_PER_SITE`` a site, two
    elevators a building and the other kinds spread over the same buildings."""
    if n < len(MIX):
        raise ValueError(f"need at least {len(MIX)} devices for all four kinds")
    rng = random.Random(seed)
    kinds = kinds_in_mix(n)
    sites = []
    for s, begin in enumerate(range(0, n, DEVICES_PER_SITE)):
        site_kinds = kinds[begin : begin + DEVICES_PER_SITE]
        n_buildings = max(1, math.ceil(site_kinds.count(Kind.ELEVATOR) / 2))
        buildings: list[list[dict[str, Any]]] = [[] for _ in range(n_buildings)]
        ordinal: Counter[Kind] = Counter()
        numbers: Counter[tuple[int, Kind]] = Counter()
        for kind in site_kinds:
            k = ordinal[kind]
            ordinal[kind] += 1
            b = k // 2 if kind is Kind.ELEVATOR else k % n_buildings
            numbers[b, kind] += 1
            buildings[b].append(_device(kind, b + 1, numbers[b, kind], rng))
        sites.append(
            {
                "id": f"bench-{s + 1:03d}",
                "name": f"Benchmark compound {s + 1}",
                "buildings": [
                    {"id": f"b{b + 1:03d}", "devices": devs}
                    for b, devs in enumerate(buildings)
                    if devs
                ],
            }
        )
    return StewardConfig.model_validate({"sites": sites})


def _malformed(reason: Reason, i: int, previous: Message) -> Message:
    """A bad message modelled on the latest valid one (same device, unless the topic is what
    is wrong)."""
    topic, payload = previous
    _, site, kind, device, channel = topic.split("/")
    if reason is Reason.TOO_LARGE:
        return topic, b'{"ts":0,"pad":"' + b"x" * TOO_LARGE_BYTES + b'"}'
    if reason is Reason.NOT_JSON:
        return topic, (payload[: len(payload) // 2] if i % 2 else b"\xff\xfe" + payload[2:])
    if reason is Reason.SCHEMA:
        body = orjson.loads(payload)
        variant = i % 3
        if variant == 0:
            body["ts"] = "yesterday"
        elif variant == 1:
            del body["ts"]
        else:
            body["seq"] = -1
        return topic, bytes(memoryview(orjson.dumps(body)))
    if reason is Reason.DUPLICATE_SEQ:
        return previous  # a replay: the same seq again
    if reason is Reason.BAD_ID:
        return f"estate/{site}/{kind}/BAD-{device}/{channel}", payload
    if reason is Reason.UNKNOWN_KIND:
        return f"estate/{site}/toaster/{device}/{channel}", payload
    raise ValueError(f"no malformed message for {reason}")


def malformed_reason(i: int) -> Reason:
    if i % TOO_LARGE_EVERY == 0:
        return Reason.TOO_LARGE
    return MALFORMED_CYCLE[i % len(MALFORMED_CYCLE)]


Timed = tuple[float, str, bytes]


def _patrol_scans(sims: list[SimDevice], n: int, start: float, seed: int) -> list[Timed]:
    """One scan of each of the first ``n`` patrol checkpoints, in the first seconds."""
    rng = random.Random(seed)
    timed: list[Timed] = []
    for sim in (d for d in sims if d.ref.kind is Kind.PATROL):
        if len(timed) >= n:
            break
        at = start + rng.uniform(0.0, FIRST_REPORT_SPREAD_S)
        # a copy: orjson's bytes keep a ~4 KiB buffer each (15x the payload)
        payload = bytes(memoryview(orjson.dumps(sim.telemetry(at))))
        timed.append((at, telemetry_topic(sim.ref), payload))
    timed.sort(key=lambda m: m[0])
    return timed


def _fleet_messages(
    sims: list[SimDevice], start: float, n: int, deadline: float, progress: Progress | None
) -> list[Timed]:
    """The first ``n`` telemetry messages the fleet sends from ``start`` on, in time order."""
    fleet = Fleet(sims)
    fleet.start(start)  # the retained 'online' announcements are not part of the stream
    out: list[Timed] = []
    t = start
    next_note = time.monotonic() + 1.0
    while len(out) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"generated only {len(out)} of {n} in time")
        if t - start > 30 * 24 * 3600:
            raise RuntimeError("the fleet stopped reporting (a month of simulated silence)")
        t += 1.0
        for message in fleet.advance(t, limit=n - len(out)):
            if not message.is_status:
                out.append((message.at, message.topic, bytes(memoryview(message.payload))))
        if progress is not None and time.monotonic() >= next_note:
            next_note += 1.0
            progress(f"generating: {len(out):,}/{n:,} fleet messages")
    return out


def insert_malformed(valid: list[Message], n: int) -> tuple[list[Message], dict[str, int]]:
    """``n`` malformed messages spread evenly through ``valid``, each modelled on the valid
    message just before it; and how many of each rejection reason."""
    if n and not valid:
        raise ValueError("cannot place malformed messages in an empty stream")
    out: list[Message] = []
    by_reason: Counter[str] = Counter()
    gap = len(valid) / n if n else math.inf
    next_bad = gap / 2
    bad = 0
    for index, message in enumerate(valid):
        out.append(message)
        while bad < n and index + 1 >= next_bad:
            reason = malformed_reason(bad)
            out.append(_malformed(reason, bad, message))
            by_reason[reason.value] += 1
            bad += 1
            next_bad += gap
    return out, dict(by_reason)


def generate(
    devices: int,
    messages: int,
    *,
    malformed_share: float = MALFORMED_SHARE,
    seed: int = 0,
    now: float | None = None,
    timeout_s: float = 600.0,
    progress: Progress | None = None,
) -> Stream:
    """``messages`` messages in all (malformed ones included) from ``devices`` devices."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout_s
    config = bench_site_config(devices, seed=seed)
    by_kind = Counter(
        d.kind.value for site in config.sites for b in site.buildings for d in b.devices
    )
    malformed = round(messages * malformed_share) if malformed_share > 0 else 0
    if malformed_share > 0 and messages >= 100:
        malformed = max(malformed, 1)
    valid_target = messages - malformed
    patrol_n = min(by_kind[Kind.PATROL.value], valid_target)
    fleet_target = valid_target - patrol_n
    # Start the simulated timeline so that its end lands near now.
    now = time.time() if now is None else now
    span_guess = fleet_target / max(1.0, by_kind[Kind.ELEVATOR.value] * ELEVATOR_MSG_PER_S)
    start = now - span_guess
    sims = devices_from_config(config, start=start, seed=seed)
    scans = _patrol_scans(sims, patrol_n, start, seed)
    reports = _fleet_messages(sims, start, fleet_target, deadline, progress)
    ordered = [(topic, payload) for _, topic, payload in heapq.merge(scans, reports)]
    out_messages, malformed_by_reason = insert_malformed(ordered, malformed)

    elevator_sizes = [len(p) for topic, p in ordered if "/elevator/" in topic]
    first_ts = min((m[0] for m in (scans[:1] + reports[:1])), default=start)
    last_ts = max((m[0] for m in (scans[-1:] + reports[-1:])), default=start)
    return Stream(
        messages=out_messages,
        config=config,
        info=StreamInfo(
            total=len(out_messages),
            devices_by_kind=dict(by_kind),
            valid_by_kind=dict(Counter(topic.split("/", 3)[2] for topic, _ in ordered)),
            malformed_by_reason=malformed_by_reason,
            payload_bytes=sum(len(p) for _, p in out_messages),
            elevator_payload_mean=(
                sum(elevator_sizes) / len(elevator_sizes) if elevator_sizes else 0.0
            ),
            simulated_span_s=last_ts - first_ts,
            generate_s=time.perf_counter() - started,
            timeline_start=first_ts,
            timeline_end=last_ts,
            timeline_end_minus_now_s=last_ts - now,
            seed=seed,
        ),
    )
