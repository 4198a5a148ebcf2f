"""Delivery latency: ticket commit → webhook receipt, p50/p99, through the real pipeline
(TicketService commit, outbox, Dispatcher threads, httpx, a receiver on loopback).

    python -m bench.delivery_latency                       # SQLite in a temp dir
    python -m bench.delivery_latency --database-url postgresql://postgres@127.0.0.1/steward_bench
    python -m bench.delivery_latency --wake                # dispatcher woken on commit
    python -m bench.delivery_latency --smoke               # 20 tickets: accounting only

Without ``--wake`` the dispatcher finds new events by polling (``--poll-s``, the service's
default 0.2 s), which bounds the latency from below; ``--wake`` is what an in-process
``dispatcher.wake()`` after each commit gives.

Accounting: every event committed reaches the receiver, none of them twice, and nothing
arrives that was not committed; exit status 1 otherwise (never because of a timing).
``--smoke`` is a tiny run whose figures mean nothing (``tests/bench`` runs it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from delivery.config import WebhookConfig
from delivery.dispatcher import Dispatcher, Route
from delivery.webhook import WebhookConnector
from gateway.topics import DeviceRef, Kind
from rules.decision import Action, Category, Decision, Priority, dedup_key
from steward.clock import SystemClock
from tickets.db import make_engine, migrate, session_factory
from tickets.service import TicketService

DEFAULT_TICKETS, DEFAULT_RATE = 300, 20.0
SMOKE_TICKETS, SMOKE_RATE = 20, 50.0


class _Receipts:
    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        """``webhook-id`` → when it first arrived."""
        self.requests = 0
        self.lock = threading.Lock()

    def serve(self) -> ThreadingHTTPServer:
        receipts = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                now = time.perf_counter()
                self.rfile.read(int(self.headers.get("content-length", "0")))
                with receipts.lock:
                    receipts.requests += 1
                    receipts.at.setdefault(self.headers["webhook-id"], now)
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return None

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


def _decision(i: int, now: float) -> Decision:
    ref = DeviceRef("bench", Kind.ELEVATOR, f"lift-{i}")
    return Decision(
        action=Action.FIRE,
        rule="elevator.entrapment",
        ref=ref,
        at=now,
        priority=Priority.EMERGENCY,
        category=Category.FACILITY,
        title="bench",
        description="",
        dedup_key=dedup_key(ref, "entrapment"),
        evidence={},
    )


def run(
    database_url: str,
    *,
    tickets: int,
    rate: float,
    poll_s: float,
    wake: bool,
    wait_s: float = 60.0,
) -> dict[str, Any]:
    """``wait_s``: how long to wait, after the last commit, for the receiver to have it all."""
    engine = make_engine(database_url)
    migrate(engine)
    sessions = session_factory(engine)
    clock = SystemClock()
    service = TicketService(sessions, clock)
    receipts = _Receipts()
    server = receipts.serve()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    config = WebhookConfig(name="bench", url=url, secrets=["bench-secret"], timeout_s=5)
    route = Route("bench", config.target, config.filter, WebhookConnector(config))
    dispatcher = Dispatcher(sessions, clock, [route], poll_interval_s=poll_s)
    committed: dict[str, float] = {}
    position = service.last_outbox_pk()
    dispatcher.start()
    try:
        for i in range(tickets):
            service.apply(decisions=[_decision(i, clock.now())])
            at = time.perf_counter()
            if wake:
                dispatcher.wake()
            for event in service.outbox_after(event_pk=position):
                committed[event.event_id] = at
                position = event.pk
            time.sleep(1 / rate)
        deadline = time.monotonic() + wait_s
        while len(receipts.at) < len(committed) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        dispatcher.stop()
        server.shutdown()
        server.server_close()
        engine.dispose()
    latencies = sorted(
        (receipts.at[e] - t) * 1000 for e, t in committed.items() if e in receipts.at
    )
    accounting = _accounting(tickets, committed, receipts)
    return {
        "events": len(committed),
        "delivered": len(latencies),
        "requests": receipts.requests,
        "p50_ms": statistics.median(latencies) if latencies else None,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        if latencies
        else None,
        "max_ms": latencies[-1] if latencies else None,
        "accounting": accounting,
    }


def _accounting(tickets: int, committed: dict[str, float], receipts: _Receipts) -> dict[str, Any]:
    """One ``opened`` event a ticket, each received exactly once, nothing else received."""
    problems: list[str] = []
    missing = len(committed.keys() - receipts.at.keys())
    unexpected = len(receipts.at.keys() - committed.keys())
    duplicates = receipts.requests - len(receipts.at)
    if len(committed) != tickets:
        problems.append(f"{len(committed)} events committed for {tickets} tickets")
    if missing:
        problems.append(f"{missing} events never reached the receiver")
    if unexpected:
        problems.append(f"{unexpected} events received that were not committed")
    if duplicates:
        problems.append(f"{duplicates} events received more than once")
    return {
        "ok": not problems,
        "problems": problems,
        "missing": missing,
        "unexpected": unexpected,
        "duplicates": duplicates,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--tickets",
        type=int,
        default=None,
        help=f"default {DEFAULT_TICKETS} (smoke: {SMOKE_TICKETS})",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help=f"ticket commits per second, default {DEFAULT_RATE:g} (smoke: {SMOKE_RATE:g})",
    )
    parser.add_argument("--poll-s", type=float, default=0.2)
    parser.add_argument("--wake", action="store_true")
    parser.add_argument(
        "--smoke", action="store_true", help="a tiny run: completion and accounting only"
    )
    args = parser.parse_args(argv)
    tickets = args.tickets or (SMOKE_TICKETS if args.smoke else DEFAULT_TICKETS)
    rate = args.rate or (SMOKE_RATE if args.smoke else DEFAULT_RATE)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        result = run(
            url,
            tickets=tickets,
            rate=rate,
            poll_s=args.poll_s,
            wake=args.wake,
            wait_s=15.0 if args.smoke else 60.0,
        )
    backend = url.split(":", 1)[0]
    mode = "wake on commit" if args.wake else f"poll every {args.poll_s:g}s"
    smoke = ", smoke: the figures mean nothing" if args.smoke else ""
    print(
        f"delivery latency, commit → webhook receipt ({backend}, {mode}, "
        f"{tickets} tickets at {rate:g}/s{smoke})"
    )
    figures = (
        f"p50 {result['p50_ms']:.1f} ms   p99 {result['p99_ms']:.1f} ms   "
        f"max {result['max_ms']:.1f} ms"
        if result["delivered"]
        else "nothing delivered"
    )
    print(f"  delivered {result['delivered']}/{result['events']}   {figures}")
    accounting = result["accounting"]
    print(
        "  accounting: "
        + ("OK" if accounting["ok"] else "FAILED: " + "; ".join(accounting["problems"]))
    )
    return 0 if accounting["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
