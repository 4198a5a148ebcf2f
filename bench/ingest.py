"""Ingest throughput: Steward's full pipeline against the C ``mosquitto_sub`` on one stream.

    .venv/bin/python -m bench.ingest [--devices 10000] [--messages 200000] [--qos 0|1]
                                     [--rounds 3] [--baseline-repeats 3] [--smoke]

Protocol (docs/performance.md; the project's benchmark protocol):

1. A private Mosquitto on a free port; queues for offline sessions unlimited, QoS 0 queued.
2. Every consumer registers a persistent session (fixed client id, clean_session=False) and
   goes away: per round three ``mosquitto_sub`` (one per drain), one paho-mqtt floor client
   and one Steward.
3. A child process (bench/feed.py) generates the stream (simulated devices in a realistic mix
   plus a known number of malformed messages) and publishes it once; the broker queues it for
   every offline session.
4. Round by round, each consumer connects and is timed from connect until it has consumed
   all N: ``mosquitto_sub -C N`` three times, the median drain kept (baseline), paho with a
   no-op callback (floor, for context), then a real ``Steward`` (decode, validate, all rules,
   decision writer, SQLite ticket store; a fresh database each round) until its decoder has
   accepted or rejected N and its writer has committed what the rules decided. Steward runs
   on a ``ReplayClock`` (bench/consumers.py) so the rules see the backlog as if it were live.
5. Accounting, every round: published = accepted + rejected, by reason, exactly as planted.

The table shows the median of the rounds. Exit status 1 when the accounting fails or a
consumer does not finish; never because of a timing.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.broker import BenchBroker
from bench.consumers import (
    BASELINE_TOPIC,
    ConsumerResult,
    PahoFloor,
    StewardRun,
    consumer_dict,
    register_baseline,
    register_steward,
    run_baseline,
    run_steward,
    steward_settings,
)
from bench.machine import code_info as code_info  # noqa: PLC0414 (re-exported: others import it from here)
from bench.machine import machine_info
from bench.report import Row, append_result, make_progress, results_path, table
from bench.stream import MALFORMED_SHARE, StreamInfo, bench_site_config
from gateway.topics import SUBSCRIPTIONS
from steward.settings import Settings
from steward.site import StewardConfig

TARGET_RATIO = 0.30
SMOKE_DEVICES = 500
SMOKE_MESSAGES = 5_000
REPO = Path(__file__).resolve().parents[1]

Progress = Callable[[str], None]


@dataclass
class Params:
    devices: int = 10_000
    messages: int = 200_000
    qos: int = 0
    rounds: int = 3
    baseline_repeats: int = 3
    """mosquitto_sub drains per round; the round uses the median one."""
    malformed_share: float = MALFORMED_SHARE
    seed: int = 0
    smoke: bool = False
    floor: bool = True
    """Also time the paho-mqtt no-op floor (informational)."""
    clock: str = "replay"
    """Steward's clock: ``replay`` (follows the stream, as if live) or ``wall``."""
    timeout_s: float | None = None
    """Per phase; default scales with the stream (at least 60 s)."""

    def phase_timeout(self) -> float:
        return self.timeout_s if self.timeout_s is not None else max(60.0, self.messages / 500)


@dataclass
class Accounting:
    published: int
    valid: int
    accepted: int
    accepted_by_kind: dict[str, int]
    rejected: int
    rejected_by_reason: dict[str, int]
    expected_rejected_by_reason: dict[str, int]
    baseline_consumed: int

    @property
    def unaccounted(self) -> int:
        return self.published - self.accepted - self.rejected

    @property
    def problems(self) -> list[str]:
        out = []
        if self.unaccounted != 0:
            out.append(f"unaccounted = {self.unaccounted} (must be 0)")
        if self.accepted != self.valid:
            out.append(f"accepted {self.accepted} != valid messages published {self.valid}")
        if self.rejected_by_reason != self.expected_rejected_by_reason:
            out.append(
                f"rejected by reason {self.rejected_by_reason} != "
                f"expected {self.expected_rejected_by_reason}"
            )
        if self.baseline_consumed != self.published:
            out.append(f"mosquitto_sub consumed {self.baseline_consumed} of {self.published}")
        return out

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "unaccounted": self.unaccounted,
            "ok": self.ok,
            "problems": self.problems,
        }


@dataclass
class Round:
    baseline: ConsumerResult
    floor: ConsumerResult | None
    steward: StewardRun
    accounting: Accounting
    load_average_1m: float

    @property
    def ratio(self) -> float:
        base = self.baseline.rate
        return self.steward.result.rate / base if base > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "baseline": consumer_dict(self.baseline),
            "paho_floor": consumer_dict(self.floor) if self.floor else None,
            "steward": consumer_dict(self.steward.result),
            "ratio": round(self.ratio, 4),
            "accounting": self.accounting.as_dict(),
            "tickets": self.steward.tickets,
            "memory": self.steward.memory,
            "load_average_1m_at_start": round(self.load_average_1m, 2),
        }


@dataclass
class IngestResult:
    params: Params
    stream: StreamInfo
    publish: dict[str, Any]
    rounds: list[Round]
    started_at: str
    machine: dict[str, Any]
    code: dict[str, Any]
    process_peak_rss_kib: int
    broker_rss_kib: int | None

    @property
    def baseline_rate(self) -> float:
        return statistics.median(r.baseline.rate for r in self.rounds)

    @property
    def steward_rate(self) -> float:
        return statistics.median(r.steward.result.rate for r in self.rounds)

    @property
    def floor_rate(self) -> float | None:
        rates = [r.floor.rate for r in self.rounds if r.floor is not None]
        return statistics.median(rates) if rates else None

    @property
    def accounting_ok(self) -> bool:
        return all(r.accounting.ok for r in self.rounds)

    @property
    def finished(self) -> bool:
        return all(r.steward.result.finished and r.baseline.finished for r in self.rounds)

    def row(self) -> Row:
        return Row(
            benchmark=f"ingest QoS {self.params.qos}",
            baseline=self.baseline_rate,
            ours=self.steward_rate,
            unit="msg/s",
            target=TARGET_RATIO,
            accounting_ok=self.accounting_ok and self.finished,
        )

    def as_dict(self) -> dict[str, Any]:
        row = self.row()
        floor = self.floor_rate
        return {
            "benchmark": "ingest",
            "started_at": self.started_at,
            "machine": self.machine,
            "code": self.code,
            "parameters": asdict(self.params),
            "stream": {
                **self.stream.as_dict(),
                "elevator_payload_mean": round(self.stream.elevator_payload_mean, 1),
                "simulated_span_s": round(self.stream.simulated_span_s, 1),
                "generate_s": round(self.stream.generate_s, 2),
                "timeline_end_minus_now_s": round(self.stream.timeline_end_minus_now_s, 1),
                "steward_clock": self.params.clock,
            },
            "publish": self.publish,
            "summary": {
                "baseline_msg_per_s": round(self.baseline_rate),
                "steward_msg_per_s": round(row.ours),
                "paho_floor_msg_per_s": round(floor) if floor else None,
                "ratio": round(self.steward_rate / self.baseline_rate, 4),
                "target": row.target,
                "pass": row.passed,
                "accounting_ok": self.accounting_ok,
                "note": "medians over the rounds; ratio = median(steward) / median(baseline)",
            },
            "rounds": [r.as_dict() for r in self.rounds],
            "process_peak_rss_kib": self.process_peak_rss_kib,
            "broker_rss_with_stream_queued_kib": self.broker_rss_kib,
        }


# --- helpers ----------------------------------------------------------------------------------


def _quiet(_message: str) -> None:
    return None


def run_feed(port: int, params: Params, *, quiet: bool) -> dict[str, Any]:
    """Generate and publish the stream in a child process (bench/feed.py); its summary."""
    timeout = params.phase_timeout()
    command = [
        sys.executable,
        *("-m", "bench.feed", "--port", str(port), "--devices", str(params.devices)),
        *("--messages", str(params.messages), "--qos", str(params.qos)),
        *("--seed", str(params.seed), "--malformed-share", str(params.malformed_share)),
        *("--timeout", str(timeout)),
        *(("--quiet",) if quiet else ()),
    ]
    done = subprocess.run(  # kills the feeder if it overruns
        command, cwd=REPO, stdout=subprocess.PIPE, timeout=2 * timeout + 30, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"the feeder failed with exit status {done.returncode}")
    summary: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return summary


@dataclass
class _Sessions:
    sub_ids: list[str]
    floor: PahoFloor | None
    settings: Settings


# --- the run ----------------------------------------------------------------------------------


def run_ingest(
    params: Params, *, workdir: Path | None = None, progress: Progress | None = None
) -> IngestResult:
    """One complete run: register every session, publish the stream once, time the consumers
    round by round, account."""
    if params.rounds < 1 or params.baseline_repeats < 1:
        raise ValueError("at least one round and one baseline drain per round")
    note = progress or _quiet
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    machine, code = machine_info(), code_info()
    config = bench_site_config(params.devices, seed=params.seed)  # the feeder builds the same
    rounds: list[Round] = []
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        broker = stack.enter_context(BenchBroker(workdir / "mosquitto"))
        note(f"mosquitto on port {broker.port}")
        run_id = uuid.uuid4().hex[:8]
        sessions = [
            _Sessions(
                sub_ids=[f"bench-sub-{run_id}-{r}-{k}" for k in range(params.baseline_repeats)],
                floor=PahoFloor(broker.port, f"bench-paho-{run_id}-{r}") if params.floor else None,
                settings=steward_settings(
                    broker.url, workdir / f"steward-{r}.db", f"bench-steward-{run_id}-{r}"
                ),
            )
            for r in range(params.rounds)
        ]
        note(
            f"registering persistent sessions for {params.rounds} round(s): mosquitto_sub "
            f"({BASELINE_TOPIC}), paho floor and Steward ({', '.join(SUBSCRIPTIONS)})"
        )
        for session in sessions:
            for sub_id in session.sub_ids:
                register_baseline(broker.port, sub_id, params.qos)
            register_steward(session.settings, config)
            if session.floor is not None:
                session.floor.register()

        note(
            f"feeder: generating {params.messages:,} messages from {params.devices:,} devices "
            f"and publishing them at QoS {params.qos} while every consumer is offline"
        )
        fed = run_feed(broker.port, params, quiet=progress is None)
        stream = StreamInfo.from_dict(fed["stream"])
        publish = {**fed["publish"], "feeder_peak_rss_kib": fed["feeder_peak_rss_kib"]}
        broker_rss = broker.rss_kib()
        note(
            f"published {stream.total:,} ({stream.valid:,} valid, malformed "
            f"{stream.malformed_by_reason}) in {publish['seconds']:.1f}s; "
            f"broker RSS {broker_rss or 0:,} KiB"
        )
        gc.collect()
        for r, session in enumerate(sessions, start=1):
            rounds.append(_round(r, session, broker.port, stream, params, config, note))
    return IngestResult(
        params=params,
        stream=stream,
        publish=publish,
        rounds=rounds,
        started_at=started_at,
        machine=machine,
        code=code,
        process_peak_rss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        broker_rss_kib=broker_rss,
    )


def _round(
    r: int,
    session: _Sessions,
    port: int,
    stream: StreamInfo,
    params: Params,
    config: StewardConfig,
    note: Progress,
) -> Round:
    timeout = params.phase_timeout()

    def done(what: ConsumerResult) -> str:
        state = "done" if what.finished else "DID NOT FINISH"
        return f"{state} in {what.seconds:.2f}s, {what.rate:,.0f} msg/s"

    load = os.getloadavg()[0]
    note(f"round {r}: baseline mosquitto_sub -C {stream.total} -q {params.qos}")
    samples = []
    for sub_id in session.sub_ids:
        samples.append(run_baseline(port, sub_id, params.qos, stream.total, timeout))
        note(f"round {r}: baseline {done(samples[-1])}")
        time.sleep(0.5)  # let the broker settle between drains
    # the median drain (a drain takes ~1-2 s, so one sample is at the mercy of the neighbours)
    baseline = sorted(samples, key=lambda b: b.rate)[len(samples) // 2]
    if not all(b.finished for b in samples):
        baseline = next(b for b in samples if not b.finished)
    baseline.detail["samples_msg_per_s"] = [round(b.rate) for b in samples]
    floor = None
    if session.floor is not None:
        floor = session.floor.run(stream.total, timeout)
        note(f"round {r}: paho floor {done(floor)}")
        time.sleep(0.5)
    note(f"round {r}: steward, full pipeline")
    timeline = (stream.timeline_start, stream.timeline_end) if params.clock == "replay" else None
    steward = run_steward(session.settings, config, stream.total, timeout, note, timeline=timeline)
    note(f"round {r}: steward {done(steward.result)}")
    accounting = Accounting(
        published=stream.total,
        valid=stream.valid,
        accepted=sum(steward.accepted.values()),
        accepted_by_kind=steward.accepted,
        rejected=sum(steward.rejected.values()),
        rejected_by_reason=steward.rejected,
        expected_rejected_by_reason=stream.malformed_by_reason,
        baseline_consumed=baseline.consumed,
    )
    time.sleep(0.5)
    return Round(baseline, floor, steward, accounting, load)


def summary(result: IngestResult, *, with_table: bool = True) -> str:
    lines = [table([result.row()]), ""] if with_table else []
    stream = result.stream
    lines.append(
        f"stream: {stream.total:,} messages ({stream.valid:,} valid, {stream.malformed:,} "
        f"malformed) from {stream.devices:,} devices {stream.devices_by_kind}, "
        f"elevator payload {stream.elevator_payload_mean:.0f} B, QoS {result.params.qos}"
    )
    for n, rnd in enumerate(result.rounds, start=1):
        acc = rnd.accounting
        floor = f", paho floor {rnd.floor.rate:,.0f}" if rnd.floor else ""
        lines.append(
            f"round {n}: mosquitto_sub {rnd.baseline.rate:,.0f}{floor}, "
            f"steward {rnd.steward.result.rate:,.0f} msg/s (ratio {rnd.ratio:.3f}); "
            f"peak RSS {(rnd.steward.memory['peak_rss_kib'] or 0) / 1024:,.0f} MiB; "
            f"tickets active {rnd.steward.tickets['active']}"
        )
        lines.append(
            f"         accounting: published {acc.published:,} = accepted {acc.accepted:,} "
            f"+ rejected {acc.rejected:,} {acc.rejected_by_reason}; unaccounted "
            f"{acc.unaccounted} -> {'OK' if acc.ok else 'FAILED: ' + '; '.join(acc.problems)}"
        )
    floor_rate = result.floor_rate
    if floor_rate:
        lines.append(
            f"paho floor (median) {floor_rate:,.0f} msg/s = "
            f"{floor_rate / max(result.baseline_rate, 1):.2f} of the baseline; "
            f"Steward runs at {result.steward_rate / floor_rate:.2f} of the floor"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> tuple[Params, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest", description="Ingest throughput against mosquitto_sub."
    )
    parser.add_argument("--devices", type=int, default=None, help="default 10000 (smoke: 500)")
    parser.add_argument("--messages", type=int, default=None, help="default 200000 (smoke: 5000)")
    parser.add_argument("--qos", type=int, choices=(0, 1), default=0)
    parser.add_argument("--rounds", type=int, default=None, help="default 3 (smoke: 1)")
    parser.add_argument(
        "--baseline-repeats",
        type=int,
        default=None,
        help="mosquitto_sub drains per round, median used (default 3; smoke: 1)",
    )
    parser.add_argument("--smoke", action="store_true", help="small sizes; checks accounting")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--malformed-share", type=float, default=MALFORMED_SHARE)
    parser.add_argument("--no-floor", action="store_true", help="skip the paho-mqtt floor")
    parser.add_argument(
        "--clock",
        choices=("replay", "wall"),
        default="replay",
        help="Steward's clock: follow the stream's device time (default) or the wall clock",
    )
    parser.add_argument("--timeout", type=float, default=None, help="seconds per phase")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="results JSON to append to (default bench/results/<day>-ingest.json; smoke: none)",
    )
    parser.add_argument("--no-write", action="store_true", help="do not write a results file")
    args = parser.parse_args(argv)
    smoke = bool(args.smoke)
    params = Params(
        devices=args.devices or (SMOKE_DEVICES if smoke else 10_000),
        messages=args.messages or (SMOKE_MESSAGES if smoke else 200_000),
        qos=args.qos,
        rounds=args.rounds or (1 if smoke else 3),
        baseline_repeats=args.baseline_repeats or (1 if smoke else 3),
        malformed_share=args.malformed_share,
        seed=args.seed,
        smoke=smoke,
        floor=not args.no_floor,
        clock=args.clock,
        timeout_s=args.timeout,
    )
    return params, args


def main(argv: Sequence[str] | None = None) -> int:
    params, args = parse_args(argv)
    result = run_ingest(params, progress=make_progress())
    print(summary(result))
    output: Path | None = args.output
    if output is None and not params.smoke:
        output = results_path("ingest")
    if output is not None and not args.no_write:
        append_result(output, result.as_dict())
        print(f"results appended to {output}")
    return 0 if result.accounting_ok and result.finished else 1


if __name__ == "__main__":
    sys.exit(main())
