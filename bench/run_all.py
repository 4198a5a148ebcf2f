"""Every benchmark, one table: ``python -m bench.run_all [--smoke] [--only NAME] [--no-write]``.

The suite is a list of entries (``SUITE``), run one after the other in this order, each in its
own error boundary: one that fails or is missing a tool is reported and the others still run.
A benchmark module plugs in by defining

    def suite_run(smoke: bool, progress: Progress | None = None) -> Outcome

(``bench.report``: ``Outcome(rows, result, ok, text)``: the table rows, the JSON-able result,
whether it completed and accounted for everything, and a short summary). ``smoke`` means tiny
sizes; ``ok`` must never depend on a timing. Entries whose module is not there yet
(``api_load``, ``alarm_latency``) are listed as absent; the older benchmarks are wrapped here.

On the shared 2-core machine the first five entries took 11-13 minutes and ``api_load`` 13
more (docs/performance.md, "The whole suite"); ``EXPECTED_S`` holds those durations for the
plan printed at the start. ``--smoke`` takes about a minute. Results: one file for the run,
``bench/results/<date>.json`` (``{"runs": [...]}``, each run with the machine, the commit, the
table and every benchmark's full result). Exit status 1 when a benchmark errors, is skipped
or fails its accounting; never because a target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import delivery_latency, ingest, telemetry_sink
from bench.broker import find_binary
from bench.machine import code_info, machine_info
from bench.report import (
    Outcome,
    Progress,
    Row,
    append_result,
    make_progress,
    results_path,
    table,
)

DELIVERY_TARGET_P99_MS = 100.0
"""The protocol's alarm-latency budget to the webhook; delivery is that path's last leg."""


@dataclass
class Context:
    smoke: bool
    progress: Progress
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    """Earlier entries of this run (the telemetry sink compares with this run's ingest)."""


@dataclass(frozen=True)
class Entry:
    name: str
    run: Callable[[Context], Outcome]
    needs: tuple[str, ...] = ()
    """Binaries on PATH (or /usr/sbin) without which the entry is skipped."""
    expected_s: float = 60.0
    """Full-size duration on the 2-core machine, for the plan printed at the start."""


# --- the older benchmarks, wrapped -----------------------------------------------------------


def _ingest(ctx: Context) -> Outcome:
    params, _ = ingest.parse_args(["--smoke"] if ctx.smoke else [])
    result = ingest.run_ingest(params, progress=ctx.progress)
    ok = result.accounting_ok and result.finished
    return Outcome([result.row()], result.as_dict(), ok, ingest.summary(result, with_table=False))


def _telemetry_sink(ctx: Context) -> Outcome:
    readings, batch, rounds = (5_000, 1_000, 1) if ctx.smoke else (200_000, 5_000, 3)
    try:
        result = telemetry_sink.run(readings, batch, rounds)
    except SystemExit as exc:  # it exits when VictoriaMetrics is missing or does not start
        raise RuntimeError(str(exc)) from None
    ingested = ctx.outcomes.get("ingest")
    if ingested is not None:  # the ingest rate of this run, not the newest file's
        rate = ingested.result["summary"]["steward_msg_per_s"]
        result["ingest_baseline"] = {"steward_msg_per_s": rate, "from": "this run"}
    m = result["medians_readings_per_s"]
    text = "readings/s (median): " + ", ".join(f"{k} {v:,.0f}" for k, v in m.items())
    return Outcome(telemetry_sink.rows_of(result), result, result["accounting_ok"], text)


def _delivery_latency(ctx: Context) -> Outcome:
    """As the service runs it: SQLite, the dispatcher woken on every commit."""
    tickets, rate = (20, 50.0) if ctx.smoke else (300, 20.0)
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        ctx.progress(f"delivery latency: {tickets} tickets at {rate:g}/s, wake on commit")
        result = delivery_latency.run(url, tickets=tickets, rate=rate, poll_s=0.2, wake=True)
    result = {"benchmark": "delivery_latency", "tickets": tickets, "rate": rate, **result}
    ok = result["accounting"]["ok"]  # every event received, exactly once
    row = Row(
        "delivery commit -> webhook p99",
        None,
        result["p99_ms"],
        "ms",
        DELIVERY_TARGET_P99_MS,
        ok,
        target_on="ours",
        lower_is_better=True,
    )
    text = (
        f"delivered {result['delivered']}/{result['events']}, p50 {result['p50_ms']:.1f} ms, "
        f"p99 {result['p99_ms']:.1f} ms, max {result['max_ms']:.1f} ms (SQLite, wake on commit)"
    )
    return Outcome([row], result, ok, text)


class NotPluggableError(Exception):
    """The module is there but has no ``suite_run`` (yet)."""


def _plugged(module: str) -> Callable[[Context], Outcome]:
    def run(ctx: Context) -> Outcome:
        entry = getattr(importlib.import_module(f"bench.{module}"), "suite_run", None)
        if entry is None:
            raise NotPluggableError(f"bench/{module}.py has no suite_run(smoke, progress) yet")
        outcome: Outcome = entry(ctx.smoke, ctx.progress)
        return outcome

    return run


SUITE: tuple[Entry, ...] = (
    Entry("ingest", _ingest, ("mosquitto", "mosquitto_sub"), expected_s=240),
    Entry("scaling", _plugged("scaling"), ("mosquitto", "mosquitto_sub"), expected_s=150),
    Entry("telemetry_sink", _telemetry_sink, ("victoria-metrics",), expected_s=90),
    Entry("delivery_latency", _delivery_latency, expected_s=25),
    Entry("memory", _plugged("memory"), expected_s=110),
    Entry("api_load", _plugged("api_load"), expected_s=500),
    Entry("alarm_latency", _plugged("alarm_latency"), ("mosquitto",), expected_s=140),
)
EXPECTED_S = sum(e.expected_s for e in SUITE)


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Done:
    entry: Entry
    status: str
    """completed, failed (accounting or completion), error, skipped, absent"""
    seconds: float
    outcome: Outcome | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("completed", "absent")

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "seconds": round(self.seconds, 1),
            "error": self.error,
            "rows": [r.as_dict() for r in self.outcome.rows] if self.outcome else [],
            "result": self.outcome.result if self.outcome else None,
        }


def present(entry: Entry) -> bool:
    return importlib.util.find_spec(f"bench.{entry.name}") is not None


def run_entry(entry: Entry, ctx: Context) -> Done:
    if not present(entry):
        return Done(entry, "absent", 0.0, error=f"bench/{entry.name}.py does not exist yet")
    missing = [b for b in entry.needs if find_binary(b) is None]
    if missing:
        return Done(entry, "skipped", 0.0, error=f"not installed: {', '.join(missing)}")
    size = "smoke" if ctx.smoke else f"about {entry.expected_s:.0f}s"
    ctx.progress(f"== {entry.name} ({size})")
    started = time.monotonic()
    try:
        outcome = entry.run(ctx)
    except NotPluggableError as exc:
        return Done(entry, "absent", 0.0, error=str(exc))
    except Exception as exc:  # one benchmark's failure must not stop the others
        ctx.progress(f"== {entry.name}: ERROR {exc!r}")
        detail = "".join(traceback.format_exception(exc)[-3:])
        return Done(entry, "error", time.monotonic() - started, error=detail.strip())
    seconds = time.monotonic() - started
    ctx.outcomes[entry.name] = outcome
    status = "completed" if outcome.ok else "failed"
    ctx.progress(f"== {entry.name}: {status} in {seconds:.0f}s")
    return Done(entry, status, seconds, outcome)


def run_suite(entries: Sequence[Entry], *, smoke: bool, progress: Progress) -> list[Done]:
    ctx = Context(smoke=smoke, progress=progress)
    return [run_entry(entry, ctx) for entry in entries]


def report(done: Sequence[Done], *, smoke: bool) -> str:
    lines = []
    for d in done:
        if d.outcome is not None and d.outcome.text:
            lines += [f"-- {d.entry.name}", d.outcome.text, ""]
    rows = [row for d in done if d.outcome is not None for row in d.outcome.rows]
    lines.append(table(rows, timings=not smoke))
    for d in done:
        if d.status not in ("completed",):
            lines.append(f"{d.entry.name}: {d.status.upper()}: {d.error or 'see above'}")
    total = sum(d.seconds for d in done)
    lines.append(
        "time: "
        + ", ".join(f"{d.entry.name} {d.seconds:.0f}s" for d in done if d.seconds)
        + f"; total {total / 60:.1f} min"
    )
    if smoke:
        lines.append("smoke run: completion and accounting only; the figures mean nothing")
    return "\n".join(lines)


def suite_result(done: Sequence[Done], *, smoke: bool, started_at: str) -> dict[str, Any]:
    rows = [row for d in done if d.outcome is not None for row in d.outcome.rows]
    return {
        "benchmark": "suite",
        "started_at": started_at,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(sum(d.seconds for d in done), 1),
        "smoke": smoke,
        "machine": machine_info(),
        "code": code_info(),
        "table": [r.as_dict() for r in rows],
        "benchmarks": {d.entry.name: d.as_dict() for d in done},
        "ok": all(d.ok for d in done),
    }


def main(argv: Sequence[str] | None = None) -> int:
    names = [e.name for e in SUITE]
    parser = argparse.ArgumentParser(prog="python -m bench.run_all", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, accounting only")
    parser.add_argument(
        "--only", action="append", choices=names, metavar="NAME", help=", ".join(names)
    )
    parser.add_argument("--output", type=Path, help="default bench/results/<date>.json")
    parser.add_argument("--no-write", action="store_true", help="do not write a results file")
    args = parser.parse_args(argv)
    entries = [e for e in SUITE if not args.only or e.name in args.only]
    progress = make_progress()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    if not args.smoke:
        plan = sum(e.expected_s for e in entries if present(e))
        progress(f"running {', '.join(e.name for e in entries)}: about {plan / 60:.0f} min")
    done = run_suite(entries, smoke=args.smoke, progress=progress)
    print(report(done, smoke=args.smoke), flush=True)
    result = suite_result(done, smoke=args.smoke, started_at=started_at)
    output = args.output or (None if args.smoke else results_path(""))
    if output is not None and not args.no_write:
        append_result(output, result)
        print(f"results appended to {output}")
    with contextlib.suppress(BrokenPipeError):
        sys.stdout.flush()
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
