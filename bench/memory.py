"""Memory per device: RSS growth from an empty Steward core to 100,000 tracked devices with
live rule state.

    .venv/bin/python -m bench.memory [--steps 0,1000,10000,50000,100000] [--readings 3]
    .venv/bin/python -m bench.memory --smoke        # steps 0, 200, 1000; a small trace

Protocol (/work/shared/docs/benchmarks.md: baseline = the empty process; target ≤ 2 KiB a
device):

1. Each step runs in a fresh child process (``--child N``), so imports, earlier steps and the
   allocator's leftovers cannot pollute it. The child imports what Steward's core imports,
   builds an empty registry, an empty ``RulesEngine`` and a ``Decoder`` on a ``FakeClock``,
   collects garbage and reads ``VmRSS`` from /proc/self/status: the **baseline**.
2. The site file for N devices in the ingest benchmark's mix (bench/stream.py: 70 %
   elevators, 15 % extinguishers, 10 % water pressure, 5 % patrol, 200 devices a site),
   validated into ``StewardConfig`` and a ``DeviceRegistry``: the **registry** cost.
3. ``engine.reconfigure(registry)``: the engine creates every registered device's state up
   front: the **idle state** cost.
4. Every device sends ``--readings`` contract payloads from the project's simulators, as JSON,
   through ``Decoder.decode`` and ``RulesEngine.on_reading`` (a site at a time, so only one
   site's simulators are alive), then one ``tick()``: the **live state** cost (views, the
   latest ``Reading`` and telemetry model, trackers, decoder ``seq`` and token bucket).
5. KiB a device = (RSS after 4 - baseline) / N per step, and the marginal slope between
   steps. A separate child (``--trace``) repeats 2-4 under tracemalloc to name the biggest
   allocations a device holds; tracemalloc slows everything down, so it is never timed.

Results are appended to ``bench/results/<date>-memory.json``. Exit status 1 when a child fails
or a reading is rejected, never because of the figure.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.machine import code_info, machine_info
from bench.report import Outcome, Progress, Row, finish, make_progress
from bench.stream import bench_site_config
from gateway.decode import Decoder, Rejection
from gateway.reading import Reading
from gateway.topics import Kind, telemetry_topic
from rules.engine import RulesEngine
from simulators.fleet import devices_from_registry
from steward.clock import FakeClock
from steward.site import DeviceRegistry, RegisteredDevice, StewardConfig

TARGET_KIB_PER_DEVICE = 2.0
STEPS = (0, 1_000, 10_000, 50_000, 100_000)
SMOKE_STEPS = (0, 200, 1_000)
READINGS_PER_DEVICE = 3
READING_GAP_S = 5.0
"""Between a device's readings: an idle elevator's pace."""
TRACE_DEVICES = 2_000
SMOKE_TRACE_DEVICES = 200
TRACE_TOP = 15
TRACE_FRAMES = 12
REPO = Path(__file__).resolve().parents[1]


def rss_kib() -> int:
    """``VmRSS`` after a full collection."""
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


# --- the child: one step ---------------------------------------------------------------------


@dataclass
class Core:
    """What Steward's core keeps per device: the registry, the decoder, the rules engine."""

    clock: FakeClock
    registry: DeviceRegistry
    decoder: Decoder
    engine: RulesEngine
    config: StewardConfig
    """What Steward keeps of the site file next to the registry (``without_devices``)."""

    @classmethod
    def empty(cls, now: float) -> Core:
        clock = FakeClock(now)
        config = StewardConfig()
        registry = DeviceRegistry(config)
        return cls(
            clock, registry, Decoder(registry), RulesEngine(registry, config.rules, clock), config
        )

    def register(self, config: StewardConfig) -> None:
        """As ``Steward`` does: the registry, and the file without its devices."""
        self.registry = DeviceRegistry(config)
        self.config = config.without_devices()
        self.decoder.registry = self.registry

    def track(self) -> None:
        self.engine.reconfigure(self.registry, self.config.rules)


@dataclass
class Fed:
    sent: int = 0
    readings: int = 0
    rejected: int = 0
    decisions: int = 0


def feed(core: Core, readings: int, start: float, seed: int) -> Fed:
    """Every registered device sends ``readings`` simulated payloads (a patrol checkpoint one
    scan) through the decoder and the engine, one site at a time; then one tick at the end of
    the timeline."""
    fed = Fed()
    by_site: dict[str, list[RegisteredDevice]] = {}
    for device in core.registry:
        by_site.setdefault(device.ref.site, []).append(device)
    for site_devices in by_site.values():
        sims = devices_from_registry(site_devices, start=start, seed=seed)
        topics = [telemetry_topic(sim.ref) for sim in sims]
        for k in range(readings):
            for n, (sim, topic) in enumerate(zip(sims, topics, strict=True)):
                if k and sim.ref.kind is Kind.PATROL:
                    continue  # a checkpoint is scanned once a round (hours apart)
                at = start + k * READING_GAP_S + (n % 100) * 0.01
                payload = orjson.dumps(sim.telemetry(at))
                fed.sent += 1
                core.clock.set(at + 0.05)
                decoded = core.decoder.decode(topic, payload, at + 0.05)
                if isinstance(decoded, Reading):
                    fed.readings += 1
                    fed.decisions += len(core.engine.on_reading(decoded))
                elif isinstance(decoded, Rejection):
                    fed.rejected += 1
        del sims, topics
    core.clock.set(start + readings * READING_GAP_S + 1.0)
    fed.decisions += len(core.engine.tick())
    return fed


def measure(devices: int, readings: int, seed: int) -> dict[str, Any]:
    """One step in this (fresh) process: RSS at the baseline and after every phase."""
    now = time.time()
    start = now - readings * READING_GAP_S - 10.0
    core = Core.empty(start)
    baseline = rss_kib()
    t0 = time.perf_counter()
    config = bench_site_config(devices, seed=seed) if devices else StewardConfig()
    core.register(config)
    del config
    registry = rss_kib()
    t1 = time.perf_counter()
    core.track()
    idle = rss_kib()
    t2 = time.perf_counter()
    fed = feed(core, readings, start, seed)
    live = rss_kib()
    t3 = time.perf_counter()
    return {
        "devices": devices,
        "readings_per_device": readings,
        "rss_kib": {"baseline": baseline, "registry": registry, "idle": idle, "live": live},
        "seconds": {
            "registry": round(t1 - t0, 2),
            "track": round(t2 - t1, 2),
            "feed": round(t3 - t2, 2),
        },
        "tracked_devices": len(core.engine.devices),
        "with_view": sum(1 for s in core.engine.devices.values() if s.view is not None),
        "with_reading": sum(1 for s in core.engine.devices.values() if s.reading is not None),
        "fed": asdict(fed),
        "gc_tracked_objects": len(gc.get_objects()),
    }


def _short(filename: str) -> str:
    for prefix in (str(REPO / ".venv" / "lib"), str(REPO), sys.prefix, sys.base_prefix):
        if filename.startswith(prefix + os.sep):
            return filename[len(prefix) + 1 :]
    return filename


def _ours(filename: str, *, bench: bool = False) -> bool:
    """Steward's code; the benchmark's own modules (they build the input) only if ``bench``."""
    if not filename.startswith(str(REPO) + os.sep) or filename.startswith(str(REPO / ".venv")):
        return False
    return bench or not filename.startswith(str(REPO / "bench") + os.sep)


def _source(where: str) -> str:
    path, _, line = where.rpartition(":")
    try:
        text = (REPO / path).read_text().splitlines()[int(line) - 1]
    except (OSError, ValueError, IndexError):
        return ""
    return text.strip()[:100]


def trace(devices: int, readings: int, seed: int, top: int = TRACE_TOP) -> dict[str, Any]:
    """The same phases under tracemalloc: the biggest allocations by line, per device."""
    now = time.time()
    start = now - readings * READING_GAP_S - 10.0
    tracemalloc.start(TRACE_FRAMES)
    core = Core.empty(start)
    gc.collect()
    empty = tracemalloc.take_snapshot()
    core.register(bench_site_config(devices, seed=seed))
    gc.collect()
    registered = tracemalloc.take_snapshot()
    core.track()
    feed(core, readings, start, seed)
    gc.collect()
    live = tracemalloc.take_snapshot()
    tracemalloc.stop()
    per = max(devices, 1)

    def biggest(after: tracemalloc.Snapshot, before: tracemalloc.Snapshot) -> list[dict[str, Any]]:
        """By the innermost frame in the project's own code (``pydantic/main.py`` says
        nothing; the line of Steward that asked for it does), with that innermost frame."""
        grouped: dict[str, list[int]] = {}
        inner: dict[str, str] = {}
        for stat in after.compare_to(before, "traceback"):
            frames = list(stat.traceback)  # most recent call last
            ours = next(
                (f for f in reversed(frames) if _ours(f.filename)),
                next((f for f in reversed(frames) if _ours(f.filename, bench=True)), frames[-1]),
            )
            where = f"{_short(ours.filename)}:{ours.lineno}"
            size_count = grouped.setdefault(where, [0, 0])
            size_count[0] += stat.size_diff
            size_count[1] += stat.count_diff
            if frames[-1] is not ours:
                inner.setdefault(where, f"{_short(frames[-1].filename)}:{frames[-1].lineno}")
        ranked = sorted(grouped.items(), key=lambda item: -item[1][0])[:top]
        return [
            {
                "where": where,
                "source": _source(where),
                "inner": inner.get(where),
                "bytes_per_device": round(size / per, 1),
                "blocks_per_device": round(count / per, 2),
            }
            for where, (size, count) in ranked
        ]

    def grown(after: tracemalloc.Snapshot, before: tracemalloc.Snapshot) -> float:
        return round(sum(s.size_diff for s in after.compare_to(before, "filename")) / per, 1)

    return {
        "devices": devices,
        "readings_per_device": readings,
        "registry_bytes_per_device": grown(registered, empty),
        "state_bytes_per_device": grown(live, registered),
        "registry_top": biggest(registered, empty),
        "state_top": biggest(live, registered),
    }


# --- the parent: every step in its own child ------------------------------------------------


def run_child(
    devices: int, readings: int, seed: int, *, traced: bool, timeout_s: float
) -> dict[str, Any]:
    command = [
        sys.executable,
        *("-m", "bench.memory", "--child", str(devices), "--readings", str(readings)),
        *("--seed", str(seed)),
        *(["--trace"] if traced else []),
    ]
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[1:])} failed ({done.returncode}): {done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@dataclass
class Step:
    devices: int
    baseline_kib: int
    registry_kib: int
    idle_kib: int
    live_kib: int
    sent: int
    readings: int
    rejected: int
    decisions: int
    tracked: int
    with_reading: int
    seconds: float

    @classmethod
    def from_child(cls, data: dict[str, Any]) -> Step:
        rss, fed = data["rss_kib"], data["fed"]
        return cls(
            devices=data["devices"],
            baseline_kib=rss["baseline"],
            registry_kib=rss["registry"] - rss["baseline"],
            idle_kib=rss["idle"] - rss["registry"],
            live_kib=rss["live"] - rss["idle"],
            sent=fed["sent"],
            readings=fed["readings"],
            rejected=fed["rejected"],
            decisions=fed["decisions"],
            tracked=data["tracked_devices"],
            with_reading=data["with_reading"],
            seconds=sum(data["seconds"].values()),
        )

    @property
    def growth_kib(self) -> int:
        return self.registry_kib + self.idle_kib + self.live_kib

    @property
    def state_kib(self) -> int:
        """Rule state: the engine's per-device state plus the decoder's, idle and live."""
        return self.idle_kib + self.live_kib

    @property
    def problems(self) -> list[str]:
        """Accounting: every device tracked and fed, every message accepted."""
        out = []
        if self.readings != self.sent or self.rejected:
            out.append(f"{self.devices:,} devices: accepted {self.readings} of {self.sent}")
        if self.tracked != self.devices or self.with_reading != self.devices:
            out.append(f"{self.devices:,} devices: {self.tracked} tracked, {self.with_reading} fed")
        return out

    def per_device(self, kib: int) -> float:
        return kib / self.devices if self.devices else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "growth_kib": self.growth_kib,
            "kib_per_device": round(self.per_device(self.growth_kib), 3),
            "registry_kib_per_device": round(self.per_device(self.registry_kib), 3),
            "state_kib_per_device": round(self.per_device(self.state_kib), 3),
        }


def slopes(steps: Sequence[Step]) -> list[dict[str, Any]]:
    """KiB per device added between consecutive steps (each its own process, its own
    baseline)."""
    out = []
    for a, b in itertools.pairwise(steps):
        added = b.devices - a.devices
        if added > 0:
            out.append(
                {
                    "from": a.devices,
                    "to": b.devices,
                    "kib_per_device": round((b.growth_kib - a.growth_kib) / added, 3),
                    "registry_kib_per_device": round((b.registry_kib - a.registry_kib) / added, 3),
                    "state_kib_per_device": round((b.state_kib - a.state_kib) / added, 3),
                }
            )
    return out


def run(
    steps: Sequence[int],
    *,
    readings: int = READINGS_PER_DEVICE,
    trace_devices: int | None = TRACE_DEVICES,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    note = progress or (lambda _m: None)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    machine = machine_info()
    measured: list[Step] = []
    children = []
    for n in sorted(steps):
        note(f"memory: step {n:,} devices x {readings} readings (fresh process)")
        child = run_child(n, readings, seed, traced=False, timeout_s=max(120.0, n / 200))
        children.append(child)
        step = Step.from_child(child)
        measured.append(step)
        note(
            f"memory: {n:,} devices: +{step.growth_kib:,} KiB over the empty process "
            f"({step.baseline_kib:,} KiB), {step.per_device(step.growth_kib):.2f} KiB a device, "
            f"in {step.seconds:.1f}s"
        )
    traced = None
    if trace_devices:
        note(f"memory: tracemalloc run, {trace_devices:,} devices (not timed)")
        traced = run_child(trace_devices, readings, seed, traced=True, timeout_s=600.0)
    last = measured[-1]
    problems = [p for s in measured for p in s.problems]
    return {
        "benchmark": "memory",
        "started_at": started_at,
        "machine": machine,
        "code": code_info(),
        "parameters": {"steps": sorted(steps), "readings_per_device": readings, "seed": seed},
        "steps": [s.as_dict() for s in measured],
        "slopes": slopes(measured),
        "children": children,
        "trace": traced,
        "summary": {
            "devices": last.devices,
            "empty_process_kib": last.baseline_kib,
            "kib_per_device": round(last.per_device(last.growth_kib), 3),
            "registry_kib_per_device": round(last.per_device(last.registry_kib), 3),
            "state_kib_per_device": round(last.per_device(last.state_kib), 3),
            "target_kib_per_device": TARGET_KIB_PER_DEVICE,
            "readings_sent": sum(s.sent for s in measured),
            "readings_accepted": sum(s.readings for s in measured),
            "decisions": sum(s.decisions for s in measured),
            "problems": problems,
            "ok": not problems,
        },
    }


def rows_of(result: dict[str, Any]) -> list[Row]:
    s = result["summary"]
    return [
        Row(
            f"memory per device ({s['devices']:,} devices)",
            s["empty_process_kib"],
            s["kib_per_device"],
            "KiB/device",
            TARGET_KIB_PER_DEVICE,
            s["ok"],
            baseline_unit="KiB RSS empty",
            target_on="ours",
            lower_is_better=True,
        )
    ]


def summary(result: dict[str, Any]) -> str:
    lines = [
        "devices    RSS growth   KiB/device   registry   rule state (idle + live)   feed",
    ]
    for s in result["steps"]:
        lines.append(
            f"{s['devices']:>7,}  {s['growth_kib']:>9,} KiB  {s['kib_per_device']:>10.2f}  "
            f"{s['registry_kib_per_device']:>9.2f}  {s['state_kib_per_device']:>10.2f} "
            f"({s['idle_kib']:,} + {s['live_kib']:,} KiB)  {s['seconds']:.1f}s"
        )
    for sl in result["slopes"]:
        lines.append(
            f"slope {sl['from']:,} -> {sl['to']:,}: {sl['kib_per_device']:.2f} KiB/device "
            f"(registry {sl['registry_kib_per_device']:.2f}, "
            f"state {sl['state_kib_per_device']:.2f})"
        )
    traced = result["trace"]
    if traced:
        lines.append(
            f"tracemalloc, {traced['devices']:,} devices: registry "
            f"{traced['registry_bytes_per_device']:,.0f} B/device, rule state "
            f"{traced['state_bytes_per_device']:,.0f} B/device; biggest per device:"
        )
        for part in ("registry_top", "state_top"):
            for entry in traced[part][:8]:
                lines.append(
                    f"  {part[:-4]:<8} {entry['bytes_per_device']:>7,.0f} B "
                    f"{entry['blocks_per_device']:>5.2f} blocks  {entry['where']}"
                )
    return "\n".join(lines)


def outcome_of(result: dict[str, Any]) -> Outcome:
    return Outcome(rows_of(result), result, ok=result["summary"]["ok"], text=summary(result))


def suite_run(smoke: bool, progress: Progress | None = None) -> Outcome:
    """bench/run_all.py's entry."""
    result = run(
        SMOKE_STEPS if smoke else STEPS,
        trace_devices=SMOKE_TRACE_DEVICES if smoke else TRACE_DEVICES,
        progress=progress,
    )
    return outcome_of(result)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.memory", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--steps", default=None, help="comma-separated device counts")
    parser.add_argument("--readings", type=int, default=READINGS_PER_DEVICE)
    parser.add_argument("--trace-devices", type=int, default=None, help="0: no tracemalloc run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="steps 0, 200, 1000; no file")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child = trace if args.trace else measure
        print(json.dumps(child(args.child, args.readings, args.seed)))
        return 0
    steps = (
        [int(s) for s in args.steps.split(",")]
        if args.steps
        else SMOKE_STEPS
        if args.smoke
        else STEPS
    )
    trace_devices = args.trace_devices
    if trace_devices is None:
        trace_devices = SMOKE_TRACE_DEVICES if args.smoke else TRACE_DEVICES
    result = run(
        steps,
        readings=args.readings,
        trace_devices=trace_devices,
        seed=args.seed,
        progress=make_progress(),
    )
    return finish(
        "memory", outcome_of(result), output=args.output, smoke=args.smoke, no_write=args.no_write
    )


if __name__ == "__main__":
    sys.exit(main())
