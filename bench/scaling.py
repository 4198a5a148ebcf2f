"""Scaling curve: the ingest benchmark at 1,000, 10,000 and 100,000 devices, the same number
of messages at every point.

    .venv/bin/python -m bench.scaling [--points 1000,10000,100000] [--messages 100000]
    .venv/bin/python -m bench.scaling --smoke       # 100 and 1,000 devices, 2,000 messages

Each point is one run of bench/ingest.py (``Params``/``run_ingest``: its broker, feeder,
baseline, Steward and accounting) in a fresh child process, smallest first, so no point
inherits another's heap or garbage-collector load: 1 round, ``--baseline-repeats`` drains of
``mosquitto_sub`` (median kept), no paho floor. Every point sends the same number of
messages, so a per-message cost that grows with the fleet shows as a falling rate; the ratio
to ``mosquitto_sub`` at each point removes most of the machine's drift between points.

Only the mix of messages differs by design: with 100,000 messages and 100,000 devices every
device reports about once (first reports: every view is created), with 1,000 devices each
elevator reports ~140 times. The per-point stream is recorded in the JSON.

Results are appended to ``bench/results/<date>-scaling.json``. Exit status 1 when a point
fails its accounting or does not finish, never because of a timing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.ingest import TARGET_RATIO, Params, run_ingest
from bench.machine import code_info, machine_info
from bench.report import Outcome, Progress, Row, finish, make_progress

POINTS = (1_000, 10_000, 100_000)
MESSAGES = 100_000
BASELINE_REPEATS = 3
SMOKE_POINTS = (100, 1_000)
SMOKE_MESSAGES = 2_000
REPO = Path(__file__).resolve().parents[1]


def point_params(devices: int, messages: int, baseline_repeats: int, smoke: bool) -> Params:
    return Params(
        devices=devices,
        messages=messages,
        rounds=1,
        baseline_repeats=baseline_repeats,
        smoke=smoke,
        floor=False,
    )


def measure_point(params: Params) -> dict[str, Any]:
    """One point, in this process (the child): the ingest run, summarised."""
    result = run_ingest(params, progress=make_progress())
    (only,) = result.rounds
    steward = only.steward
    return {
        "devices": params.devices,
        "messages": result.stream.total,
        "valid_by_kind": result.stream.valid_by_kind,
        "devices_by_kind": result.stream.devices_by_kind,
        "baseline_msg_per_s": round(result.baseline_rate),
        "baseline_samples_msg_per_s": only.baseline.detail.get("samples_msg_per_s"),
        "steward_msg_per_s": round(result.steward_rate),
        "ratio": round(only.ratio, 4),
        "accounting": only.accounting.as_dict(),
        "finished": result.finished,
        "ok": result.accounting_ok and result.finished,
        "steward_seconds": round(steward.result.seconds, 3),
        "gc_share": steward.result.detail.get("gc_share"),
        "gc_tracked_objects_after": steward.result.detail.get("gc_tracked_objects_after"),
        "memory": steward.memory,
        "tickets_active": steward.tickets.get("active"),
        "load_average_1m_at_start": round(only.load_average_1m, 2),
        "process_peak_rss_kib": result.process_peak_rss_kib,
    }


def run_point(params: Params) -> dict[str, Any]:
    """``measure_point`` in a fresh child process (progress passes through on stderr)."""
    command = [
        sys.executable,
        *("-m", "bench.scaling", "--point", str(params.devices)),
        *("--messages", str(params.messages)),
        *("--baseline-repeats", str(params.baseline_repeats)),
        *(["--smoke"] if params.smoke else []),
    ]
    done = subprocess.run(
        command,
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        timeout=4 * params.phase_timeout() + 300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"scaling point {params.devices} failed ({done.returncode})")
    point: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return point


def run(
    points: Sequence[int],
    *,
    messages: int = MESSAGES,
    baseline_repeats: int = BASELINE_REPEATS,
    smoke: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    note = progress or (lambda _m: None)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    machine, code = machine_info(), code_info()
    measured = []
    for devices in sorted(points):
        params = point_params(devices, messages, baseline_repeats, smoke)
        note(f"scaling: {devices:,} devices, {messages:,} messages (fresh process)")
        point = run_point(params)
        measured.append(point)
        note(
            f"scaling: {devices:,} devices: steward {point['steward_msg_per_s']:,} msg/s, "
            f"mosquitto_sub {point['baseline_msg_per_s']:,} msg/s, ratio {point['ratio']:.3f}"
        )
    first, last = measured[0], measured[-1]
    return {
        "benchmark": "scaling",
        "started_at": started_at,
        "machine": machine,
        "code": code,
        "parameters": {
            **asdict(point_params(0, messages, baseline_repeats, smoke)),
            "devices": sorted(points),
        },
        "points": measured,
        "summary": {
            "smallest": first["devices"],
            "largest": last["devices"],
            "rate_largest_over_smallest": _over(
                last["steward_msg_per_s"], first["steward_msg_per_s"]
            ),
            "ratio_largest_over_smallest": _over(last["ratio"], first["ratio"]),
            "ok": all(p["ok"] for p in measured),
            "note": "ratio = steward / mosquitto_sub at the same point; the *_over_smallest "
            "figures compare the largest fleet with the smallest",
        },
    }


def _over(a: float, b: float) -> float:
    return round(a / b, 4) if b else 0.0


def rows_of(result: dict[str, Any]) -> list[Row]:
    rows = [
        Row(
            f"ingest at {p['devices']:,} devices",
            p["baseline_msg_per_s"],
            p["steward_msg_per_s"],
            "msg/s",
            TARGET_RATIO,
            p["ok"],
        )
        for p in result["points"]
    ]
    points = result["points"]
    if len(points) > 1:
        rows.append(
            Row(
                f"scaling {points[-1]['devices']:,} / {points[0]['devices']:,} devices",
                points[0]["steward_msg_per_s"],
                points[-1]["steward_msg_per_s"],
                "msg/s",
                None,
                result["summary"]["ok"],
            )
        )
    return rows


def summary(result: dict[str, Any]) -> str:
    lines = ["devices   mosquitto_sub   steward      ratio   valid messages by kind"]
    for p in result["points"]:
        lines.append(
            f"{p['devices']:>7,}  {p['baseline_msg_per_s']:>9,} msg/s  "
            f"{p['steward_msg_per_s']:>7,} msg/s  {p['ratio']:.3f}   {p['valid_by_kind']}"
        )
    s = result["summary"]
    lines.append(
        f"{s['largest']:,} vs {s['smallest']:,} devices: Steward's rate x"
        f"{s['rate_largest_over_smallest']:.2f}, its ratio to mosquitto_sub x"
        f"{s['ratio_largest_over_smallest']:.2f}"
    )
    return "\n".join(lines)


def outcome_of(result: dict[str, Any]) -> Outcome:
    return Outcome(rows_of(result), result, ok=result["summary"]["ok"], text=summary(result))


def suite_run(smoke: bool, progress: Progress | None = None) -> Outcome:
    """bench/run_all.py's entry."""
    result = run(
        SMOKE_POINTS if smoke else POINTS,
        messages=SMOKE_MESSAGES if smoke else MESSAGES,
        baseline_repeats=1 if smoke else BASELINE_REPEATS,
        smoke=smoke,
        progress=progress,
    )
    return outcome_of(result)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scaling", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--points", default=None, help="comma-separated device counts")
    parser.add_argument("--messages", type=int, default=None, help="per point (default 100000)")
    parser.add_argument("--baseline-repeats", type=int, default=None, help="default 3 (smoke 1)")
    parser.add_argument("--smoke", action="store_true", help="100 and 1,000 devices; no file")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--point", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    smoke = bool(args.smoke)
    messages = args.messages or (SMOKE_MESSAGES if smoke else MESSAGES)
    repeats = args.baseline_repeats or (1 if smoke else BASELINE_REPEATS)
    if args.point is not None:  # the child
        print(json.dumps(measure_point(point_params(args.point, messages, repeats, smoke))))
        return 0
    points = [int(p) for p in args.points.split(",")] if args.points else None
    result = run(
        points or (SMOKE_POINTS if smoke else POINTS),
        messages=messages,
        baseline_repeats=repeats,
        smoke=smoke,
        progress=make_progress(),
    )
    return finish(
        "scaling", outcome_of(result), output=args.output, smoke=smoke, no_write=args.no_write
    )


if __name__ == "__main__":
    sys.exit(main())
