"""Alarm latency under load: from the deciding event to the committed ticket, the SSE event
and the webhook, while 10,000 msg/s of telemetry go through Steward.

    .venv/bin/python -m bench.alarm_latency [--rate 10000] [--devices 10000] [--duration 75]
                                            [--alarms 100] [--entrapments 40]
                                            [--database-url postgresql://...]
    .venv/bin/python -m bench.alarm_latency --smoke     # 300 msg/s, 6 alarms, 2 entrapments

Processes, all on the wall clock of this machine:

1. a private Mosquitto (bench/broker.py);
2. the Steward under test (bench/api_server.py ``--gateway``): gateway, rules, decision
   writer, ticket store (SQLite in a temp dir, or ``--database-url``), telemetry sink,
   delivery to ``STEWARD_WEBHOOK_URL`` and the HTTP API under uvicorn. It logs when each
   decision reached the writer and when its ticket committed (the writer's commit hook);
3. the feed (bench/alarm_feed.py): background elevator telemetry at ``--rate`` and, on
   schedule, alarm-button presses (decided on the message) and entrapments (a 30 s dwell
   decided when it expires);
4. this process: a webhook receiver on 127.0.0.1, an SSE client on
   ``GET /api/v1/alerts/stream``, and a poller of ``/metrics`` (messages Steward processed).

The deciding event is the alarm message's publish time, or the entrapment dwell's computed
expiry (the stop message's ``ts`` + ``entrapment_s``). Per alarm we take the first ticket
commit, SSE ``steward.ticket.opened`` and webhook ``steward.ticket.opened`` of its device.
Accounting: every alarm opened exactly one ticket, and each ticket reached SSE and the webhook
exactly once. Exit status 1 when it did not; never because of a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.alarm_feed import ENTRAPMENT_S, fleet_config
from bench.broker import BenchBroker, free_port
from bench.machine import code_info, machine_info
from bench.report import Outcome, Progress, Row, make_progress, override, table, write_result

COMMIT_TARGET_MS = 50.0
WEBHOOK_TARGET_MS = 100.0
OPENED = "steward.ticket.opened"
ALARM_RULES = {"alarm": "elevator.alarm_button", "entrapment": "elevator.entrapment"}


@dataclass
class Params:
    rate: float = 10_000.0
    devices: int = 10_000
    duration_s: float = 75.0
    warmup_s: float = 15.0
    alarms: int = 100
    entrapments: int = 40
    qos: int = 0
    database_url: str | None = None
    entrapment_s: float = ENTRAPMENT_S
    """The entrapment dwell (``rules.elevator.entrapment_s`` in the site file)."""
    tick_interval_s: float | None = None
    """``STEWARD_TICK_INTERVAL_S`` for the Steward under test (its default: 1 s)."""
    settle_s: float = 60.0
    """After the feed, wait this long at most for every alarm to reach both receivers."""
    seed: int = 0
    smoke: bool = False


def smoke_params() -> Params:
    """Small and short: a 5 s entrapment dwell instead of 30 s."""
    return Params(
        rate=300.0,
        devices=300,
        duration_s=14.0,
        warmup_s=2.0,
        alarms=6,
        entrapments=2,
        entrapment_s=5.0,
        settle_s=10.0,
        smoke=True,
    )


# -- receivers -----------------------------------------------------------------------------------


class Receipts:
    """First receipt time (``time.time()``) of each (site/device, event type); every receipt
    counted. (Device ids repeat from site to site.)"""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.first: dict[tuple[str, str], float] = {}
        self.count: dict[tuple[str, str], int] = {}
        self.ids: set[str] = set()
        self.duplicates = 0

    def add(self, body: bytes, at: float, event_id: str | None = None) -> None:
        event = orjson.loads(body)
        ticket = event.get("data") or {}
        key = (f"{ticket.get('site')}/{ticket.get('device')}", str(event.get("type")))
        with self.lock:
            if event_id is not None:
                if event_id in self.ids:
                    self.duplicates += 1  # a retried delivery, deduplicable by webhook-id
                    return
                self.ids.add(event_id)
            self.first.setdefault(key, at)
            self.count[key] = self.count.get(key, 0) + 1


class WebhookReceiver:
    def __init__(self) -> None:
        self.receipts = Receipts()
        receipts = self.receipts

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receipts.add(body, time.time(), self.headers.get("webhook-id"))
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class SseClient:
    """``GET /api/v1/alerts/stream`` in a thread of its own (an asyncio loop), until closed."""

    def __init__(self, base: str, api_key: str) -> None:
        self.receipts = Receipts()
        self.ready = threading.Event()
        self.error: str | None = None
        self.loop = asyncio.new_event_loop()
        self.task: asyncio.Task[None] | None = None
        self.thread = threading.Thread(target=self._run, args=(base, api_key), daemon=True)
        self.thread.start()

    def _run(self, base: str, api_key: str) -> None:
        asyncio.set_event_loop(self.loop)
        self.task = self.loop.create_task(self._stream(base, api_key))
        with contextlib.suppress(asyncio.CancelledError):
            self.loop.run_until_complete(self.task)
        self.loop.close()

    async def _stream(self, base: str, api_key: str) -> None:
        headers = {"Authorization": f"Bearer {api_key}", "Accept": "text/event-stream"}
        timeout = httpx.Timeout(10.0, read=None)  # a quiet stream is not an error
        try:
            async with (
                httpx.AsyncClient(base_url=base, headers=headers, timeout=timeout) as client,
                client.stream("GET", "/api/v1/alerts/stream") as response,
            ):
                response.raise_for_status()
                async for line in response.aiter_lines():
                    if line.startswith(":"):
                        self.ready.set()  # the opening comment: subscribed
                    elif line.startswith("data:"):
                        self.receipts.add(line[5:].strip().encode(), time.time())
        except httpx.HTTPError as exc:
            self.error = repr(exc)
            self.ready.set()

    def close(self) -> None:
        if self.task is not None:
            self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(10)


_METRIC = re.compile(r'^steward_mqtt_messages_total\{outcome="(\w+)"\} ([0-9.e+]+)$', re.M)


def processed(base: str, api_key: str) -> int | None:
    """Messages Steward has decoded (accepted + rejected), from /metrics."""
    try:
        text = httpx.get(
            f"{base}/metrics", headers={"Authorization": f"Bearer {api_key}"}, timeout=5.0
        ).text
    except httpx.HTTPError:
        return None
    return int(sum(float(v) for _, v in _METRIC.findall(text)))


# -- the run -------------------------------------------------------------------------------------


def stats(values: Sequence[float]) -> dict[str, Any]:
    s = sorted(values)
    if not s:
        return {"n": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    p99 = s[max(0, min(len(s) - 1, round(0.99 * len(s) + 0.5) - 1))]
    return {
        "n": len(s),
        "p50_ms": round(statistics.median(s), 1),
        "p99_ms": round(p99, 1),
        "max_ms": round(s[-1], 1),
        "min_ms": round(s[0], 1),
    }


def _start_server(
    params: Params, workdir: Path, broker: BenchBroker, hook: str, api_key: str
) -> tuple[subprocess.Popen[bytes], str, Path]:
    site_file = workdir / "site.yaml"  # JSON is YAML
    config = fleet_config(params.devices, seed=params.seed).model_dump(
        mode="json", exclude_defaults=True
    )
    if params.entrapment_s != ENTRAPMENT_S:
        config["rules"] = {"elevator": {"entrapment_s": params.entrapment_s}}
    site_file.write_text(json.dumps(config))
    port = free_port()
    commit_log = workdir / "commits.json"
    env = {
        **os.environ,
        "STEWARD_DATABASE_URL": params.database_url or f"sqlite:///{workdir / 'steward.db'}",
        "STEWARD_MQTT_URL": broker.url,
        "STEWARD_MQTT_CLIENT_ID": f"bench-alarm-{secrets.token_hex(4)}",
        "STEWARD_SITE_CONFIG": str(site_file),
        "STEWARD_TELEMETRY_PATH": str(workdir / "telemetry.db"),
        "STEWARD_WEBHOOK_URL": hook,
        "STEWARD_WEBHOOK_SECRET": "bench-secret",
        "STEWARD_ADMIN_API_KEY": api_key,
    }
    if params.tick_interval_s is not None:
        env["STEWARD_TICK_INTERVAL_S"] = str(params.tick_interval_s)
    for name in ("STEWARD_INFLUX_URL", "STEWARD_INTEGRATIONS_CONFIG"):
        env.pop(name, None)
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "bench.api_server", "--gateway"),
            *("--port", str(port), "--commit-log", str(commit_log)),
        ],
        env=env,
        stdout=subprocess.PIPE,
    )
    return process, f"http://127.0.0.1:{port}", commit_log


def _wait_ready(process: subprocess.Popen[bytes], base: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Steward exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/readyz", timeout=1.0).status_code == 200:
                return
        time.sleep(0.2)
    raise TimeoutError(f"Steward was not ready within {timeout}s")


def _stop(process: subprocess.Popen[bytes]) -> dict[str, Any]:
    if process.poll() is None:
        process.terminate()
    try:
        out, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate(timeout=10)
    lines = out.decode().strip().splitlines()
    return dict(json.loads(lines[-1])) if lines else {}


def _feed_command(params: Params, port: int) -> list[str]:
    return [
        *(sys.executable, "-m", "bench.alarm_feed", "--port", str(port)),
        *("--rate", str(params.rate), "--duration", str(params.duration_s)),
        *("--devices", str(params.devices), "--alarms", str(params.alarms)),
        *("--entrapments", str(params.entrapments), "--warmup", str(params.warmup_s)),
        *("--qos", str(params.qos), "--seed", str(params.seed)),
        *("--entrapment-s", str(params.entrapment_s)),
    ]


def run_alarm_latency(params: Params, progress: Progress | None = None) -> dict[str, Any]:
    note = progress or (lambda _m: None)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    machine, code = machine_info(), code_info()
    api_key = os.environ.get("STEWARD_ADMIN_API_KEY") or f"bench-{secrets.token_urlsafe(24)}"
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-alarm-")))
        broker = stack.enter_context(BenchBroker(workdir / "mosquitto"))
        webhook = WebhookReceiver()
        stack.callback(webhook.close)
        process, base, commit_log = _start_server(params, workdir, broker, webhook.url, api_key)
        try:
            note(f"Steward (gateway + API) starting; broker port {broker.port}, API {base}")
            _wait_ready(process, base)
            sse = SseClient(base, api_key)
            try:
                if not sse.ready.wait(30) or sse.error:
                    raise RuntimeError(f"SSE stream did not open: {sse.error}")
                feed, samples = _run_feed(params, broker.port, base, api_key, note)
                _settle(params, feed, webhook.receipts, sse.receipts, note)
                samples.append((time.time(), processed(base, api_key)))
            finally:
                sse.close()
        finally:
            server = _stop(process)
        commits = json.loads(commit_log.read_text()) if commit_log.exists() else []
    result = _result(params, feed, commits, webhook.receipts, sse.receipts, samples, server)
    return {
        "benchmark": "alarm_latency",
        "started_at": started_at,
        "machine": machine,
        "code": code,
        "parameters": asdict(params),
        **result,
        "load_average_end": list(os.getloadavg()),
    }


def _run_feed(
    params: Params, port: int, base: str, api_key: str, note: Progress
) -> tuple[dict[str, Any], list[tuple[float, int | None]]]:
    note(
        f"feed: {params.rate:,.0f} msg/s from {params.devices:,} elevators for "
        f"{params.duration_s:.0f}s; {params.alarms} alarm presses and {params.entrapments} "
        f"entrapments after {params.warmup_s:.0f}s"
    )
    samples: list[tuple[float, int | None]] = [(time.time(), processed(base, api_key))]
    feeder = subprocess.Popen(
        _feed_command(params, port), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert feeder.stderr is not None
    last_note = 0.0
    for raw in feeder.stderr:
        line = raw.decode().strip()
        if not line.startswith("progress "):
            note(f"feed: {line}")
            continue
        _, elapsed, sent = line.split()
        now = time.time()
        samples.append((now, processed(base, api_key)))
        if now - last_note >= 10:
            last_note = now
            done = samples[-1][1]
            lag = int(sent) - done if done is not None else None
            note(f"feed {float(elapsed):5.1f}s: published {int(sent):,}; Steward behind by {lag}")
    out, _ = feeder.communicate(timeout=60)
    if feeder.returncode != 0:
        raise RuntimeError(f"the feed failed with exit status {feeder.returncode}")
    feed: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    rate = f"{feed['rate']:,.0f} msg/s"
    note(f"feed: published {feed['published']:,} in {feed['seconds']:.1f}s ({rate})")
    return feed, samples


def _settle(
    params: Params, feed: dict[str, Any], webhook: Receipts, sse: Receipts, note: Progress
) -> None:
    """Wait until every alarm reached both receivers (or ``settle_s`` passed)."""
    devices = {f"{e['site']}/{e['device']}" for e in feed["events"]}
    deadline = time.monotonic() + params.settle_s
    while time.monotonic() < deadline:
        with webhook.lock, sse.lock:
            hooks = sum((d, OPENED) in webhook.first for d in devices)
            streamed = sum((d, OPENED) in sse.first for d in devices)
        if hooks == streamed == len(devices):
            break
        time.sleep(0.2)
    note(f"received {hooks}/{len(devices)} webhooks and {streamed}/{len(devices)} SSE events")


def _result(
    params: Params,
    feed: dict[str, Any],
    commits: list[dict[str, Any]],
    webhook: Receipts,
    sse: Receipts,
    samples: list[tuple[float, int | None]],
    server: dict[str, Any],
) -> dict[str, Any]:
    opened: dict[str, list[dict[str, Any]]] = {}
    for c in commits:
        if c["status"] == "open" and c["occurrences"] == 1:
            opened.setdefault(f"{c['site']}/{c['device']}", []).append(c)
    measured = [(t, n) for t, n in samples if n is not None]
    behind_end = feed["published"] - measured[-1][1] if measured else None
    problems: list[str] = []
    alarms = [
        _alarm(event, params.entrapment_s, opened, webhook, sse, problems)
        for event in feed["events"]
    ]
    if problems and behind_end is not None and behind_end > 0:
        problems.insert(
            0,
            f"Steward was still {behind_end:,} messages behind the feed when the run stopped: "
            "alarms among them never reached the rules (a backlog, not a lost message)",
        )
    alarm_devices = {f"{e['site']}/{e['device']}" for e in feed["events"]}
    latency: dict[str, Any] = {}
    for kind in ("alarm", "entrapment", "all"):
        chosen = [a for a in alarms if kind in ("all", a["kind"])]
        latency[kind] = {
            stage: stats([a[f"{stage}_ms"] for a in chosen if a[f"{stage}_ms"] is not None])
            for stage in ("decided", "committed", "sse", "webhook")
        }
    return {
        "feed": {k: v for k, v in feed.items() if k != "events"},
        "background": _background(feed, measured, behind_end, server),
        "latency": latency,
        "alarms": alarms,
        "other_tickets_opened": sum(len(v) for d, v in opened.items() if d not in alarm_devices),
        "webhook_duplicates": webhook.duplicates,
        "server": server,
        "accounting": {"ok": not problems, "problems": problems[:50]},
    }


def _alarm(
    event: dict[str, Any],
    dwell_s: float,
    opened: dict[str, list[dict[str, Any]]],
    webhook: Receipts,
    sse: Receipts,
    problems: list[str],
) -> dict[str, Any]:
    """One alarm's timings from its deciding event; what does not add up goes to
    ``problems``."""
    device = f"{event['site']}/{event['device']}"
    deciding = (
        event["published_wall"] if event["kind"] == "alarm" else event["ts_ms"] / 1000 + dwell_s
    )
    tickets = {c["number"]: c for c in opened.get(device, [])}
    if len(tickets) != 1:
        problems.append(f"{device} ({event['kind']}): {len(tickets)} tickets opened, not 1")
    first = min(tickets.values(), key=lambda c: c["committed_wall"], default=None)
    if first is not None and first["rule"] != ALARM_RULES[event["kind"]]:
        problems.append(f"{device}: opened by {first['rule']}")
    for name, receipts in (("webhook", webhook), ("sse", sse)):
        count = receipts.count.get((device, OPENED), 0)
        if count != 1:
            problems.append(f"{device}: {count} {name} 'opened' events, not 1")
    return {
        **event,
        "rule": None if first is None else first["rule"],
        "deciding_wall": deciding,
        "decided_ms": _since(deciding, None if first is None else first["decided_wall"]),
        "committed_ms": _since(deciding, None if first is None else first["committed_wall"]),
        "sse_ms": _since(deciding, sse.first.get((device, OPENED))),
        "webhook_ms": _since(deciding, webhook.first.get((device, OPENED))),
    }


def _background(
    feed: dict[str, Any],
    measured: list[tuple[float, int]],
    behind_end: int | None,
    server: dict[str, Any],
) -> dict[str, Any]:
    """The rate offered and the rate Steward processed (from the /metrics samples)."""
    span = measured[-1][0] - measured[0][0] if len(measured) > 1 else 0.0
    steward_rate = (measured[-1][1] - measured[0][1]) / span if span > 0 else 0.0
    behind = [
        int(feed["published"] * min(1.0, (t - measured[0][0]) / feed["seconds"])) - n
        for t, n in measured
    ]
    return {
        "published_msg_per_s": round(feed["rate"]),
        "steward_processed_msg_per_s": round(steward_rate),
        "steward_processed": server.get("messages_in"),
        "steward_accepted": server.get("accepted"),
        "steward_rejected": server.get("rejected"),
        "steward_behind_max_msgs": max(behind, default=0),
        "steward_behind_at_end_msgs": behind_end,
        "disconnects": server.get("disconnects"),
        "samples": [(round(t - measured[0][0], 2), n) for t, n in measured],
    }


def _since(deciding: float, at: float | None) -> float | None:
    return None if at is None else round((at - deciding) * 1000, 2)


def rows_of(result: dict[str, Any]) -> list[Row]:
    ok = result["accounting"]["ok"]
    rate = result["background"]["published_msg_per_s"]
    latency = result["latency"]
    return [
        Row(
            f"alarm -> {label} p99 ({kind}, {rate:,} msg/s)",
            None,
            latency[kind][stage]["p99_ms"] or 0.0,
            "ms",
            target,
            ok,
            target_on="ours",
            lower_is_better=True,
        )
        for stage, label, target in (
            ("committed", "committed ticket", COMMIT_TARGET_MS),
            ("webhook", "webhook", WEBHOOK_TARGET_MS),
        )
        for kind in ("alarm", "entrapment")
        if latency[kind][stage]["n"]
    ]


def summary(result: dict[str, Any]) -> str:
    bg = result["background"]
    lines = [
        f"background: published {bg['published_msg_per_s']:,} msg/s; Steward processed "
        f"{bg['steward_processed_msg_per_s']:,} msg/s while it ran (most behind: "
        f"{bg['steward_behind_max_msgs']:,} messages; disconnects {bg['disconnects']}); "
        f"other tickets opened: {result['other_tickets_opened']}",
        f"{'event':<11} {'stage':<10} {'n':>4} {'p50':>9} {'p99':>9} {'max':>9}"
        "  (ms after the deciding event)",
    ]
    for kind in ("alarm", "entrapment"):
        for stage, s in result["latency"][kind].items():
            lines.append(
                f"{kind:<11} {stage:<10} {s['n']:>4} {s['p50_ms']!s:>9} {s['p99_ms']!s:>9} "
                f"{s['max_ms']!s:>9}"
            )
    acc = result["accounting"]
    lines.append(
        "accounting: every alarm opened exactly one ticket, delivered once by SSE and webhook"
        if acc["ok"]
        else "accounting FAILED: " + "; ".join(acc["problems"][:10])
    )
    return "\n".join(lines)


def suite_run(smoke: bool = False, progress: Progress | None = None) -> Outcome:
    """bench/run_all.py's entry: the default run, or the smoke sizes."""
    result = run_alarm_latency(smoke_params() if smoke else Params(), progress)
    return Outcome(rows_of(result), result, ok=result["accounting"]["ok"], text=summary(result))


run = suite_run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.alarm_latency", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--rate", type=float, default=None, help="background msg/s (10000)")
    parser.add_argument("--devices", type=int, default=None, help="elevators (10000)")
    parser.add_argument("--duration", type=float, default=None, help="feed seconds (75)")
    parser.add_argument("--warmup", type=float, default=None)
    parser.add_argument("--alarms", type=int, default=None)
    parser.add_argument("--entrapments", type=int, default=None)
    parser.add_argument("--qos", type=int, choices=(0, 1), default=None)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument("--tick-interval", type=float, default=None, help="STEWARD_TICK_INTERVAL_S")
    parser.add_argument("--settle", type=float, default=None, help="max wait after the feed (60)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    params = smoke_params() if args.smoke else Params()
    override(
        params,
        args,
        {
            "rate": "rate",
            "devices": "devices",
            "duration": "duration_s",
            "warmup": "warmup_s",
            "alarms": "alarms",
            "entrapments": "entrapments",
            "qos": "qos",
            "database_url": "database_url",
            "tick_interval": "tick_interval_s",
            "settle": "settle_s",
        },
    )
    params.seed = args.seed
    result = run_alarm_latency(params, make_progress())
    rows = rows_of(result)
    print(table(rows))
    print()
    print(summary(result))
    written = write_result(
        "alarm_latency",
        result,
        rows,
        output=args.output,
        smoke=params.smoke,
        no_write=args.no_write,
    )
    if written is not None:
        print(f"results appended to {written}")
    return 0 if result["accounting"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
