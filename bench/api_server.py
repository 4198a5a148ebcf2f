"""The Steward under test for the API and alarm-latency benchmarks, in a process of its own.

    python -m bench.api_server --port PORT [--gateway] [--commit-log PATH]

Settings come from the environment as in production (``STEWARD_DATABASE_URL``,
``STEWARD_MQTT_URL``, ``STEWARD_WEBHOOK_URL``, ``STEWARD_ADMIN_API_KEY``, ...). The real app
(``api.app.create_app``) is served by uvicorn on 127.0.0.1. Without ``--gateway`` nothing but
the API runs (as in tests/api: the gateway, writer and dispatcher stay stopped); with it the
whole Steward runs on the wall clock.

``--commit-log`` records, for every ticket the decision writer commits, when its decision was
handed to the writer and when the transaction committed (``time.time()``), so the measuring
process can time ticket commits without sharing our GIL. The log and a JSON summary (gateway
and decoder counts) are written when the server stops (SIGTERM or SIGINT): the summary is the
last line on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn

from api.app import create_app
from gateway.mqtt import Ack
from rules.decision import Decision
from steward.runtime import Steward, settle_heap
from steward.settings import Settings
from tickets.schemas import TicketView


class CommitLog:
    """Hooks on the decision path: decided (handed to the writer) and committed."""

    def __init__(self, steward: Steward) -> None:
        self.lock = threading.Lock()
        self.decided: dict[str, float] = {}
        """dedup_key → when the gateway handed the first decision about it to the writer."""
        self.committed: list[dict[str, Any]] = []
        gateway, writer = steward.gateway, steward.writer
        submit = gateway.on_decisions
        # The writer keeps its hook private (Steward leaves it unset: the ticket service
        # wakes the dispatcher); chain ours after any hook rather than changing the runtime.
        on_committed = writer._on_committed

        def decided(decisions: list[Decision], ack: Ack | None) -> None:
            now = time.time()
            with self.lock:
                for d in decisions:
                    self.decided.setdefault(d.dedup_key, now)
            submit(decisions, ack)

        def committed(decisions: list[Decision], views: list[TicketView]) -> None:
            now = time.time()
            if on_committed is not None:
                on_committed(decisions, views)
            at = {d.dedup_key: d.at for d in decisions}
            with self.lock:
                for view in views:
                    self.committed.append(
                        {
                            "number": view.id,
                            "site": view.site,
                            "device": view.device,
                            "rule": view.rule,
                            "status": view.status.value,
                            "occurrences": view.occurrences,
                            "decision_at": at.get(view.dedup_key),
                            "decided_wall": self.decided.get(view.dedup_key),
                            "committed_wall": now,
                        }
                    )

        gateway.on_decisions = decided
        writer._on_committed = committed

    def write(self, path: Path) -> None:
        with self.lock:
            path.write_text(json.dumps(self.committed))


def serve(port: int, *, gateway: bool, commit_log: Path | None) -> dict[str, Any]:
    switch = os.environ.get("BENCH_SWITCH_INTERVAL_S")
    if switch:  # diagnostic: how long a thread waits for the GIL (CPython default 5 ms)
        sys.setswitchinterval(float(switch))
    steward = Steward(Settings())
    settle_heap()  # as ``steward run`` does
    log = CommitLog(steward) if commit_log is not None else None
    config = uvicorn.Config(
        create_app(steward),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    # uvicorn re-raises the signal that stopped it once it has restored the previous
    # handlers: make those no-ops, so Steward still stops cleanly and the log gets written.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _sig, _frame: None)
    try:
        if gateway:
            steward.start()
        uvicorn.Server(config).run()
    finally:
        steward.stop()
    if log is not None and commit_log is not None:
        log.write(commit_log)
    return {
        "messages_in": steward.gateway.stats.messages_in,
        "disconnects": steward.gateway.stats.disconnects,
        "accepted": {str(k): v for k, v in steward.decoder.accepted.items()},
        "rejected": {str(k): v for k, v in steward.decoder.rejected.items()},
        "writer_batches": steward.writer.stats.batches,
        "writer_decisions": steward.writer.stats.decisions,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api_server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--gateway", action="store_true", help="run the whole Steward")
    parser.add_argument("--commit-log", type=Path, default=None)
    args = parser.parse_args(argv)
    summary = serve(args.port, gateway=args.gateway, commit_log=args.commit_log)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
