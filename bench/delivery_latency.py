"""Delivery latency: ticket commit → webhook receipt, p50/p99, through the real pipeline
(TicketService commit, outbox, Dispatcher threads, httpx, a receiver on loopback).

    python -m bench.delivery_latency                       # SQLite in a temp dir
    python -m bench.delivery_latency --database-url postgresql://postgres@127.0.0.1/steward_bench
    python -m bench.delivery_latency --wake                # dispatcher woken on commit

Without ``--wake`` the dispatcher finds new events by polling (``--poll-s``, the service's
default 0.2 s), which bounds the latency from below; ``--wake`` is what an in-process
``dispatcher.wake()`` after each commit gives.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
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


class _Receipts:
    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.lock = threading.Lock()

    def serve(self) -> ThreadingHTTPServer:
        receipts = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                now = time.perf_counter()
                self.rfile.read(int(self.headers.get("content-length", "0")))
                with receipts.lock:
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
    database_url: str, *, tickets: int, rate: float, poll_s: float, wake: bool
) -> dict[str, Any]:
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
        deadline = time.monotonic() + 60
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
    return {
        "events": len(committed),
        "delivered": len(latencies),
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "max_ms": latencies[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--tickets", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20.0, help="ticket commits per second")
    parser.add_argument("--poll-s", type=float, default=0.2)
    parser.add_argument("--wake", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        result = run(url, tickets=args.tickets, rate=args.rate, poll_s=args.poll_s, wake=args.wake)
    backend = url.split(":", 1)[0]
    mode = "wake on commit" if args.wake else f"poll every {args.poll_s:g}s"
    print(
        f"delivery latency, commit → webhook receipt ({backend}, {mode}, "
        f"{args.tickets} tickets at {args.rate:g}/s)"
    )
    print(
        f"  delivered {result['delivered']}/{result['events']}   "
        f"p50 {result['p50_ms']:.1f} ms   p99 {result['p99_ms']:.1f} ms   "
        f"max {result['max_ms']:.1f} ms"
    )


if __name__ == "__main__":
    main()
