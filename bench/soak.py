"""Soak: a long run at a steady live rate; memory and file descriptors must stay flat and
nothing may be lost.

    .venv/bin/python -m bench.soak [--minutes 30] [--rate 5000] [--devices 10000]
    .venv/bin/python -m bench.soak --smoke        # ~20 s at 300 msg/s: completion, accounting

In this process: a private Mosquitto (bench/broker.py), a webhook receiver on 127.0.0.1 and a
real ``Steward`` (steward/runtime.py) on the wall clock: default rules, the benchmark site file
(bench/stream.py), an SQLite ticket database and the embedded telemetry store in a temp dir,
delivery to the receiver (``STEWARD_WEBHOOK_URL``) and ticket events on the broker. In a
process of its own, bench/soak_feed.py publishes a realistic device mix at ``--rate`` for the
whole run (QoS 0 mostly, 2 % QoS 1, 0.1 % malformed, and controller-fault incidents that open
a ticket and auto-resolve it).

Every ``--sample`` seconds we record this process's RSS (``VmRSS``), open fds, threads, what
was published and processed, the gateway's, writer's, telemetry sink's and dwell saver's
counters and the database files' sizes; a progress line every 30 s.

Criteria (``Row``s): accounting (published = accepted + rejected, rejections as planted, every
incident a ticket opened and resolved, every outbox event delivered to the webhook once); fds
end ≤ start + ``FD_SLACK`` (start: the first sample after the warm-up, the first
``--warmup-share`` of the run); RSS slope after the warm-up (least squares) ≤
``RSS_SLOPE_LIMIT_KIB_PER_MIN``; processed rate ≥ ``RATE_TARGET`` of ``--rate``. Exit status 1
when the accounting fails or the run does not finish, never because a figure is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import func, select

from bench.alarm_latency import WebhookReceiver
from bench.broker import BenchBroker
from bench.consumers import proc_status_kib, register_steward
from bench.machine import code_info, machine_info
from bench.report import (
    Outcome,
    Progress,
    Row,
    append_result,
    make_progress,
    override,
    results_path,
    table,
)
from bench.stream import bench_site_config
from delivery.models import Delivery
from steward.runtime import Steward
from steward.settings import Settings
from tickets.models import OutboxEvent, Ticket

RSS_SLOPE_LIMIT_KIB_PER_MIN = 1024.0
"""After the warm-up. A leak of 4 bytes a message at 5,000 msg/s is 1.1 MiB/min; what grows
legitimately is bounded and done by then: SQLite's page caches (64 MiB for the telemetry
store's writer, 2 MiB a ticket-database connection) fill while the files grow (the store keeps
30 days, so it grows all run long, on disk), and the rule state of the fleet is made on its
first reports."""
TELEMETRY_CACHE_KIB = 65_536
"""The embedded telemetry store's page cache (``PRAGMA cache_size=-65536`` in
telemetry/embedded.py): until its file is this big, the cache grows with it."""
FD_SLACK = 4
"""A webhook keep-alive connection or a SQLite WAL being reopened may come and go."""
RATE_TARGET = 0.98
"""Processed msg/s against ``--rate``: the feed keeps its pace, Steward keeps up."""
REPO = Path(__file__).resolve().parents[1]
CONTROLLER_FAULT = "elevator.controller_fault"
PROGRESS_EVERY_S = 30.0


@dataclass
class Params:
    minutes: float = 30.0
    rate: float = 5_000.0
    devices: int = 10_000
    sample_s: float = 5.0
    warmup_share: float = 0.10
    incidents_per_min: float = 3.0
    incident_s: float = 10.0
    qos1_share: float = 0.02
    malformed_share: float = 0.001
    settle_s: float = 120.0
    """After the feed: how long Steward may take to catch up and deliver."""
    seed: int = 0
    smoke: bool = False

    @property
    def duration_s(self) -> float:
        return self.minutes * 60.0

    @property
    def incidents(self) -> int:
        return max(1, round(self.incidents_per_min * self.minutes))


def smoke_params() -> Params:
    return Params(
        minutes=20 / 60,
        rate=300.0,
        devices=500,
        sample_s=1.0,
        incidents_per_min=9.0,
        incident_s=3.0,
        malformed_share=0.01,
        settle_s=30.0,
        smoke=True,
    )


# -- samples -------------------------------------------------------------------------------------


@dataclass
class Sample:
    t_s: float
    """Seconds since the feed started."""
    rss_kib: int
    fds: int
    threads: int
    published: int
    processed: int
    accepted: int
    rejected: int
    messages_in: int
    gateway_connected: bool
    gateway_disconnects: int
    writer_pending: int
    writer_decisions: int
    telemetry: dict[str, int]
    dwells: dict[str, int]
    tickets_db_kib: int
    telemetry_db_kib: int
    load1: float


def _total(counter: Any) -> int:
    while True:  # the gateway thread may add a key while we sum
        with contextlib.suppress(RuntimeError):
            return int(sum(counter.values()))


def _counts(counter: Any) -> dict[str, int]:
    while True:
        with contextlib.suppress(RuntimeError):
            return {str(k): int(v) for k, v in dict(counter).items()}


def _kib(*paths: Path) -> int:
    size = 0
    for path in paths:
        with contextlib.suppress(OSError):
            size += path.stat().st_size
    return size // 1024


def _files(path: Path) -> list[Path]:
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def take_sample(steward: Steward, published: int, t_s: float, workdir: Path) -> Sample:
    accepted, rejected = _total(steward.decoder.accepted), _total(steward.decoder.rejected)
    sink, dwells, gateway = steward.telemetry.stats, steward.dwells.stats, steward.gateway.stats
    return Sample(
        t_s=round(t_s, 2),
        rss_kib=proc_status_kib("VmRSS") or 0,
        fds=sum(1 for _ in Path("/proc/self/fd").iterdir()),
        threads=proc_status_kib("Threads") or threading.active_count(),
        published=published,
        processed=accepted + rejected,
        accepted=accepted,
        rejected=rejected,
        messages_in=gateway.messages_in,
        gateway_connected=gateway.connected,
        gateway_disconnects=gateway.disconnects,
        writer_pending=steward.writer.pending(),
        writer_decisions=steward.writer.stats.decisions,
        telemetry={
            k: getattr(sink, k)
            for k in ("received", "written", "buffered", "dropped", "expired", "rejected")
        },
        dwells={
            "saves": dwells.saves,
            "written": dwells.rows_written,
            "deleted": dwells.rows_deleted,
        },
        tickets_db_kib=_kib(*_files(workdir / "steward.db")),
        telemetry_db_kib=_kib(*_files(workdir / "telemetry.db")),
        load1=round(os.getloadavg()[0], 2),
    )


def slope_per_min(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) points, per minute."""
    n = len(points)
    if n < 2:
        return None
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return 60.0 * cov / var


# -- the feed ------------------------------------------------------------------------------------


class FeedProcess:
    """bench/soak_feed.py in a child process; its progress lines read by a thread."""

    def __init__(self, params: Params, port: int, note: Progress) -> None:
        command = [
            *(sys.executable, "-m", "bench.soak_feed", "--port", str(port)),
            *("--rate", str(params.rate), "--duration", str(params.duration_s)),
            *("--devices", str(params.devices), "--incidents", str(params.incidents)),
            *("--incident-s", str(params.incident_s), "--qos1-share", str(params.qos1_share)),
            *("--malformed-share", str(params.malformed_share), "--seed", str(params.seed)),
        ]
        self.note = note
        self.published = 0
        self.ready = threading.Event()
        self.process = subprocess.Popen(
            command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self._reader = threading.Thread(target=self._read, name="bench-soak-feed", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            line = raw.decode(errors="replace").strip()
            if line.startswith("progress "):
                self.published = int(line.split()[2])
            elif line == "ready":
                self.ready.set()
            elif line:
                self.note(f"feed: {line}")
        self.ready.set()  # it exited: nobody waits for ever

    def running(self) -> bool:
        return self.process.poll() is None

    def finish(self, timeout_s: float) -> dict[str, Any]:
        """Its JSON summary, once it has exited."""
        try:
            out, _ = self.process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate(timeout=10)
            raise
        finally:
            self._reader.join(10)
        if self.process.returncode != 0:
            raise RuntimeError(f"the soak feed failed with exit status {self.process.returncode}")
        summary: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
        self.published = int(summary["published"])
        return summary

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.communicate(timeout=10)


# -- the run -------------------------------------------------------------------------------------


@dataclass
class Observed:
    samples: list[Sample] = field(default_factory=list)
    feed: dict[str, Any] = field(default_factory=dict)
    settled: Sample | None = None
    caught_up_s: float | None = None
    """Seconds after the feed until Steward had processed everything."""
    tickets: dict[str, Any] = field(default_factory=dict)
    webhook: dict[str, int] = field(default_factory=dict)
    gateway: dict[str, Any] = field(default_factory=dict)
    writer: dict[str, Any] = field(default_factory=dict)
    accepted_by_kind: dict[str, int] = field(default_factory=dict)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    finished: bool = False


def _settings(broker: BenchBroker, workdir: Path, hook: str) -> Settings:
    return Settings(
        mqtt_url=broker.url,
        database_url=f"sqlite:///{workdir / 'steward.db'}",
        mqtt_client_id=f"bench-soak-{uuid.uuid4().hex[:8]}",
        telemetry_path=workdir / "telemetry.db",
        webhook_url=hook,
        webhook_secret=SecretStr("bench-soak-secret"),
        site_config=None,
        influx_url=None,
        integrations_config=None,
    )


def run_soak(params: Params, progress: Progress | None = None) -> dict[str, Any]:
    note = progress or (lambda _m: None)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    machine, code = machine_info(), code_info()
    observed = Observed()
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-soak-")))
        broker = stack.enter_context(BenchBroker(workdir / "mosquitto"))
        webhook = WebhookReceiver()
        stack.callback(webhook.close)
        settings = _settings(broker, workdir, webhook.url)
        config = bench_site_config(params.devices, seed=params.seed)
        register_steward(settings, config)  # its session queues whatever comes before start
        steward = Steward(settings, config=config)
        stack.callback(steward.stop)
        steward.start()
        note(
            f"Steward started (broker port {broker.port}, {len(steward.registry):,} devices); "
            f"feed: {params.rate:,.0f} msg/s for {params.minutes:g} min, "
            f"{params.incidents} incidents"
        )
        _observe(params, steward, broker.port, workdir, observed, note)
        _settle(params, steward, webhook, workdir, observed, note)
        observed.tickets = _tickets(steward)
        observed.webhook = {
            "events": len(webhook.receipts.ids),
            "receipts": sum(webhook.receipts.count.values()),
            "duplicates": webhook.receipts.duplicates,
        }
        observed.gateway = asdict(steward.gateway.stats)
        observed.accepted_by_kind = _counts(steward.decoder.accepted)
        observed.rejected_by_reason = _counts(steward.decoder.rejected)
        observed.writer = asdict(steward.writer.stats)
    result = _result(params, observed)
    return {
        "benchmark": "soak",
        "started_at": started_at,
        "machine": machine,
        "code": code,
        "parameters": {**asdict(params), "incidents": params.incidents},
        **result,
        "load_average_end": list(os.getloadavg()),
        "samples": [asdict(s) for s in observed.samples],
    }


def _observe(
    params: Params, steward: Steward, port: int, workdir: Path, observed: Observed, note: Progress
) -> None:
    deadline = time.monotonic() + 60
    while not steward.gateway.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    feed = FeedProcess(params, port, note)
    try:
        if not feed.ready.wait(120) or not feed.running():
            raise RuntimeError("the soak feed did not start")
        t0 = time.monotonic()
        next_sample, next_note = t0, t0 + PROGRESS_EVERY_S
        while feed.running():
            now = time.monotonic()
            if now >= next_sample:
                next_sample += params.sample_s
                sample = take_sample(steward, feed.published, now - t0, workdir)
                observed.samples.append(sample)
                if now >= next_note:
                    next_note += PROGRESS_EVERY_S
                    note(_progress_line(sample))
            time.sleep(min(0.2, max(0.0, next_sample - time.monotonic())))
        observed.feed = feed.finish(60)
    finally:
        feed.kill()


def _progress_line(s: Sample) -> str:
    return (
        f"t={s.t_s:5.0f}s published {s.published:,} processed {s.processed:,} "
        f"(behind ~{max(0, s.published - s.processed):,}); RSS {s.rss_kib / 1024:,.1f} MiB, "
        f"fds {s.fds}, threads {s.threads}; writer queue {s.writer_pending}, telemetry buffered "
        f"{s.telemetry['buffered']:,}; db {s.tickets_db_kib / 1024:,.1f} MiB, telemetry "
        f"{s.telemetry_db_kib / 1024:,.0f} MiB; load {s.load1}"
    )


def _settle(
    params: Params,
    steward: Steward,
    webhook: WebhookReceiver,
    workdir: Path,
    observed: Observed,
    note: Progress,
) -> None:
    """Wait (at most ``settle_s``) until Steward has processed what was published, committed
    its decisions, stored its readings and delivered every outbox event to the webhook."""
    published = int(observed.feed["published"])
    started = time.monotonic()
    deadline = started + params.settle_s
    while steward.gateway.stats.messages_in < published and time.monotonic() < deadline:
        time.sleep(0.05)
    caught_up = steward.gateway.stats.messages_in >= published
    if caught_up:
        observed.caught_up_s = round(time.monotonic() - started, 2)
    remaining = max(1.0, deadline - time.monotonic())
    flushed = steward.writer.flush(remaining) and steward.telemetry.flush(remaining)
    steward.dwells.save()
    delivered = False
    while time.monotonic() < deadline:
        with steward.sessions() as session:
            events = session.scalar(select(func.count()).select_from(OutboxEvent)) or 0
        if len(webhook.receipts.ids) >= events:
            delivered = True
            break
        time.sleep(0.2)
    observed.settled = take_sample(steward, published, time.monotonic() - started, workdir)
    observed.finished = caught_up and flushed and delivered
    note(
        f"settled in {time.monotonic() - started:.1f}s: caught up {caught_up}, flushed "
        f"{flushed}, webhook delivered {delivered}"
    )


def _tickets(steward: Steward) -> dict[str, Any]:
    with steward.sessions() as session:
        by_rule_status = session.execute(
            select(Ticket.rule, Ticket.status, func.count()).group_by(Ticket.rule, Ticket.status)
        ).all()
        faults = session.execute(
            select(Ticket.site, Ticket.device, Ticket.status).where(Ticket.rule == CONTROLLER_FAULT)
        ).all()
        outbox = session.execute(
            select(OutboxEvent.type, func.count()).group_by(OutboxEvent.type)
        ).all()
        deliveries = session.execute(
            select(Delivery.endpoint, Delivery.status, func.count()).group_by(
                Delivery.endpoint, Delivery.status
            )
        ).all()
    return {
        "by_rule_status": {f"{r}/{s}": int(n) for r, s, n in by_rule_status},
        "controller_faults": [f"{site}/{device}/{status}" for site, device, status in faults],
        "outbox_by_type": {str(t): int(n) for t, n in outbox},
        "deliveries": {f"{e}/{s}": int(n) for e, s, n in deliveries},
    }


# -- the result ----------------------------------------------------------------------------------


def _accounting(params: Params, observed: Observed) -> dict[str, Any]:
    feed, end = observed.feed, observed.settled
    problems: list[str] = []
    if end is None or not feed:
        return {"ok": False, "problems": ["the run did not complete"]}
    published = int(feed["published"])
    unaccounted = published - end.processed
    if unaccounted:
        problems.append(
            f"unaccounted {unaccounted:,} (published {published:,}, processed {end.processed:,})"
        )
    qos0_lost = published - end.messages_in
    rejected = {k: v for k, v in observed.rejected_by_reason.items() if v}
    planted = {k: v for k, v in feed["malformed_by_reason"].items() if v}
    if rejected != planted:
        problems.append(f"rejected {rejected} != planted {planted}")
    accepted = {k: v for k, v in observed.accepted_by_kind.items() if v}
    if accepted != feed["valid_by_kind"]:
        problems.append(f"accepted {accepted} != valid published {feed['valid_by_kind']}")
    if end.telemetry["dropped"] or end.telemetry["buffered"]:
        problems.append(f"telemetry not all stored: {end.telemetry}")
    started = [i for i in feed["incidents"] if i["started_wall"] is not None]
    faults = observed.tickets.get("controller_faults", [])
    if len(faults) != len(started):
        problems.append(f"{len(started)} incidents, {len(faults)} controller-fault tickets")
    cleared = sum(i["cleared_wall"] is not None for i in started)
    resolved = sum(f.endswith("/resolved") for f in faults)
    if resolved != cleared:
        problems.append(f"{cleared} incidents cleared, {resolved} tickets resolved")
    events = sum(observed.tickets.get("outbox_by_type", {}).values())
    if observed.webhook.get("events") != events:
        problems.append(f"{events} outbox events, {observed.webhook.get('events')} at the webhook")
    return {
        "ok": not problems,
        "problems": problems,
        "published": published,
        "processed": end.processed,
        "accepted": end.accepted,
        "rejected": end.rejected,
        "unaccounted": unaccounted,
        "qos0_lost_per_gateway": qos0_lost,
        "gateway_messages_in": end.messages_in,
        "accepted_by_kind": accepted,
        "rejected_by_reason": rejected,
        "planted_by_reason": planted,
        "incidents_started": len(started),
        "incidents_cleared": cleared,
        "controller_fault_tickets": len(faults),
        "resolved": resolved,
        "outbox_events": events,
    }


def _warmup_s(params: Params, samples: Sequence[Sample]) -> tuple[float, float | None]:
    """The warm-up: the first ``warmup_share`` of the run, and at least until the telemetry
    store's file has outgrown its page cache (the cache's growth is bounded, not a leak)."""
    cache_full = next((s.t_s for s in samples if s.telemetry_db_kib >= TELEMETRY_CACHE_KIB), None)
    return max(params.warmup_share * params.duration_s, cache_full or 0.0), cache_full


def _result(params: Params, observed: Observed) -> dict[str, Any]:
    accounting = _accounting(params, observed)
    during = observed.samples
    warmup_s, cache_full_s = _warmup_s(params, during)
    after = [s for s in during if s.t_s >= warmup_s] or during[-1:]
    memory: dict[str, Any] = {
        "warmup_s": warmup_s,
        "telemetry_cache_full_at_s": cache_full_s,
        "limit_kib_per_min": RSS_SLOPE_LIMIT_KIB_PER_MIN,
    }
    fds: dict[str, Any] = {"slack": FD_SLACK}
    rate: dict[str, Any] = {"target": params.rate}
    if after:
        slope = slope_per_min([(s.t_s, float(s.rss_kib)) for s in after])
        whole = slope_per_min([(s.t_s, float(s.rss_kib)) for s in during])
        memory |= {
            "slope_whole_run_kib_per_min": None if whole is None else round(whole, 1),
            "rss_first_kib": during[0].rss_kib,
            "rss_start_kib": after[0].rss_kib,
            "rss_end_kib": after[-1].rss_kib,
            "rss_max_kib": max(s.rss_kib for s in during),
            "slope_kib_per_min": None if slope is None else round(slope, 1),
            "samples_in_slope": len(after),
            "start_at_s": after[0].t_s,
        }
        fds |= {
            "first": during[0].fds,
            "start": after[0].fds,
            "end": after[-1].fds,
            "max": max(s.fds for s in during),
            "growth": after[-1].fds - after[0].fds,
        }
        memory["threads"] = {"start": after[0].threads, "end": after[-1].threads}
        span = during[-1].t_s - during[0].t_s
        rate |= {
            "published_per_s": round(float(observed.feed.get("rate", 0.0)), 1),
            "processed_per_s": round((during[-1].processed - during[0].processed) / span, 1)
            if span > 0
            else None,
            "feed_behind_max": observed.feed.get("behind_max"),
            # approximate: the feed reports what it published once a second
            "max_lag": max(max(0, s.published - s.processed) for s in during),
            "caught_up_s_after_feed": observed.caught_up_s,
        }
    criteria = {
        "completed": observed.finished,
        "accounting": accounting["ok"],
        "fds_flat": fds.get("growth") is not None and fds["growth"] <= FD_SLACK,
        "rss_flat": memory.get("slope_kib_per_min") is not None
        and memory["slope_kib_per_min"] <= RSS_SLOPE_LIMIT_KIB_PER_MIN,
        "rate": (rate.get("processed_per_s") or 0.0) >= RATE_TARGET * params.rate,
    }
    if params.smoke:  # 20 s say nothing of a slope, a leak or a sustained rate
        criteria = {k: criteria[k] for k in ("completed", "accounting")}
    return {
        "accounting": accounting,
        "memory": memory,
        "fds": fds,
        "rate": rate,
        "criteria": criteria,
        "pass": all(criteria.values()),
        "feed": observed.feed,
        "settled": asdict(observed.settled) if observed.settled else None,
        "tickets": observed.tickets,
        "webhook": observed.webhook,
        "gateway": observed.gateway,
        "writer": observed.writer,
    }


def ok_of(result: dict[str, Any]) -> bool:
    """Completed, everything accounted for: never a figure."""
    return bool(result["criteria"]["completed"] and result["accounting"]["ok"])


def rows_of(result: dict[str, Any]) -> list[Row]:
    ok = ok_of(result)
    memory, fds, rate = result["memory"], result["fds"], result["rate"]
    return [
        Row(
            "soak RSS slope after warm-up",
            None,
            float(memory.get("slope_kib_per_min") or 0.0),
            "KiB/min",
            RSS_SLOPE_LIMIT_KIB_PER_MIN,
            ok,
            target_on="ours",
            lower_is_better=True,
        ),
        Row(
            "soak fds end - start",
            None,
            float(fds.get("growth") or 0),
            "fds",
            float(FD_SLACK),
            ok,
            target_on="ours",
            lower_is_better=True,
        ),
        Row(
            "soak processed rate vs target",
            float(rate["target"]),
            float(rate.get("processed_per_s") or 0.0),
            "msg/s",
            RATE_TARGET,
            ok,
        ),
    ]


def summary(result: dict[str, Any]) -> str:
    acc, memory, fds, rate = (result[k] for k in ("accounting", "memory", "fds", "rate"))
    mib = {k: memory.get(f"rss_{k}_kib", 0) / 1024 for k in ("first", "start", "end", "max")}
    lines = [
        f"published {acc.get('published', 0):,} in {result['feed'].get('seconds', 0):,.0f}s "
        f"({rate.get('published_per_s', 0):,.0f} msg/s; QoS {result['feed'].get('by_qos')}); "
        f"processed {acc.get('processed', 0):,} = accepted {acc.get('accepted', 0):,} + "
        f"rejected {acc.get('rejected', 0):,}; unaccounted {acc.get('unaccounted')}, lost at "
        f"QoS 0 (gateway's count) {acc.get('qos0_lost_per_gateway')}",
        f"RSS (MiB): first {mib['first']:,.1f}, after the warm-up ({memory['warmup_s']:.0f}s) "
        f"{mib['start']:,.1f}, end {mib['end']:,.1f}, max {mib['max']:,.1f}; slope "
        f"{memory.get('slope_kib_per_min')} KiB/min (limit {RSS_SLOPE_LIMIT_KIB_PER_MIN:,.0f})",
        f"fds: first {fds.get('first')}, start {fds.get('start')}, end {fds.get('end')}, "
        f"max {fds.get('max')}; threads {memory.get('threads')}",
        f"rate: processed {rate.get('processed_per_s')} msg/s of {rate['target']:,.0f}; feed "
        f"behind at most {rate.get('feed_behind_max')}, Steward behind at most "
        f"{rate.get('max_lag')}, caught up {rate.get('caught_up_s_after_feed')}s after the feed",
        f"tickets: {result['tickets'].get('by_rule_status')}; outbox "
        f"{result['tickets'].get('outbox_by_type')}; webhook {result['webhook']}",
        f"accounting {'OK' if acc['ok'] else 'FAILED: ' + '; '.join(acc['problems'])}; "
        f"criteria {result['criteria']} -> {'PASS' if result['pass'] else 'FAIL'}",
    ]
    return "\n".join(lines)


def suite_run(smoke: bool, progress: Progress | None = None) -> Outcome:
    """For bench/run_all.py: the full 30-minute soak, or the smoke run."""
    result = run_soak(smoke_params() if smoke else Params(), progress)
    return Outcome(rows_of(result), result, ok_of(result), summary(result))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=None, help="default 30")
    parser.add_argument("--rate", type=float, default=None, help="msg/s, default 5000")
    parser.add_argument("--devices", type=int, default=None, help="default 10000")
    parser.add_argument("--sample", type=float, default=None, help="seconds, default 5")
    parser.add_argument("--warmup-share", type=float, default=None, help="default 0.10")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="~20 s at 300 msg/s")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    params = smoke_params() if args.smoke else Params()
    override(
        params,
        args,
        {
            "minutes": "minutes",
            "rate": "rate",
            "devices": "devices",
            "sample": "sample_s",
            "warmup_share": "warmup_share",
        },
    )
    params.seed = args.seed
    result = run_soak(params, make_progress())
    rows = rows_of(result)
    print(table(rows, timings=not params.smoke))
    print()
    print(summary(result))
    output: Path | None = args.output
    if output is None and not params.smoke:
        output = results_path("soak")
    if output is not None and not args.no_write:
        result["rows"] = [row.as_dict() for row in rows]
        append_result(output, result)
        print(f"results appended to {output}")
    return 0 if ok_of(result) else 1


if __name__ == "__main__":
    sys.exit(main())
