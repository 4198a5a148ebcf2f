"""API under data: the real HTTP API over 1,000,000 tickets, on PostgreSQL and on SQLite.

    .venv/bin/python -m bench.api_load [--tickets 1000000] [--requests 1000] [--concurrency 16]
                                       [--backend sqlite --backend postgresql] [--reload]
    .venv/bin/python -m bench.api_load --smoke      # 2,000 tickets, 40 requests an endpoint

1. The tickets (bench/ticket_data.py: realistic spread over sites, devices, rules, priorities,
   statuses and four months, with their history) are bulk-loaded once and cached by schema
   revision, size and seed (``--reload`` rebuilds; the output says which).
2. Per database, the real app (``api.app.create_app``) runs under uvicorn in a process of its
   own (bench/api_server.py; the gateway is not started), with a bootstrap admin key
   (``STEWARD_ADMIN_API_KEY``, taken from the environment or generated) sent as a Bearer token.
3. An ``httpx.AsyncClient`` here drives one endpoint at a time with ``--concurrency`` requests
   in flight, a fixed number of requests each, after a short warm-up: the newest page, a site's
   tickets by status, by priority, a site's device, deep cursor pages, a ticket by id and the
   monthly report (JSON). Then each once more at concurrency 1 (``--serial-requests``): that
   is the service time, and the gap to the concurrent figures is queueing.
4. p50/p99/max per endpoint and database, and the query plans (EXPLAIN ANALYZE on
   PostgreSQL, EXPLAIN QUERY PLAN on SQLite) of the queries behind the list and get routes.

Targets: p99 ≤ 50 ms for list and get, monthly report ≤ 1 s (at the same concurrency).
Exit status 1 when a request was not answered 2xx; never because of a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy.dialects import postgresql, sqlite

from bench.broker import free_port
from bench.machine import code_info, machine_info
from bench.report import Outcome, Progress, Row, make_progress, override, table, write_result
from bench.ticket_data import (
    DataInfo,
    Loaded,
    default_cache_dir,
    drop_postgres,
    fleet,
    load,
    month_of,
)
from rules.decision import Priority
from tickets.lifecycle import Status
from tickets.listing import TicketFilter, encode_cursor, page_statement
from tickets.render import DOC_BY_NUMBER, HISTORY_OF, LINKED_TO

LIST_GET_TARGET_MS = 50.0
REPORT_TARGET_MS = 1000.0
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
SMOKE_TICKETS = 2_000
ACTIVE = ("open", "acknowledged", "in_progress")


@dataclass
class Params:
    tickets: int = 1_000_000
    requests: int = 1_000
    """Per endpoint, at ``concurrency``."""
    report_requests: int = 200
    serial_requests: int = 100
    """Per endpoint, at concurrency 1 (service time)."""
    warmup: int = 20
    concurrency: int = 16
    backends: tuple[str, ...] = ("postgresql", "sqlite")
    postgres_url: str = DEFAULT_POSTGRES
    cache_dir: str = field(default_factory=lambda: str(default_cache_dir()))
    seed: int = 0
    reload: bool = False
    smoke: bool = False


@dataclass
class Endpoint:
    name: str
    kind: str
    """``list``, ``get`` or ``report``: which target applies."""
    requests: list[tuple[str, dict[str, Any] | list[tuple[str, str]]]]


@dataclass
class Timing:
    latencies_ms: list[float]
    statuses: dict[int, int]
    errors: list[str]
    seconds: float
    server_cpu_s: float | None

    @property
    def ok(self) -> bool:
        return not self.errors and all(200 <= s < 300 for s in self.statuses)

    def as_dict(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        n = len(lat)
        return {
            "requests": n,
            "p50_ms": round(statistics.median(lat), 2) if lat else None,
            "p99_ms": round(percentile(lat, 0.99), 2) if lat else None,
            "max_ms": round(lat[-1], 2) if lat else None,
            "mean_ms": round(statistics.fmean(lat), 2) if lat else None,
            "req_per_s": round(n / self.seconds, 1) if self.seconds > 0 else None,
            "server_cpu_ms_per_request": (
                round(self.server_cpu_s * 1000 / n, 2) if self.server_cpu_s and n else None
            ),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": self.errors[:5],
            "ok": self.ok,
        }


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest rank."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), round(q * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


# -- the request plan ----------------------------------------------------------------------------


def endpoints(info: DataInfo, params: Params, seed: int) -> list[Endpoint]:
    """Every endpoint's requests, drawn once (the same for both databases)."""
    rng = random.Random(seed)
    sites, devices = fleet(random.Random(params.seed))  # as the loader drew them
    n = info.tickets
    months = sorted({month_of(info.start + i * (info.end - info.start) / 8) for i in range(9)})
    total = params.warmup + params.requests

    def site() -> str:
        return rng.choice(sites)

    def statuses() -> list[tuple[str, str]]:
        if rng.random() < 0.5:
            return [("status", s) for s in ACTIVE]  # the site's active tickets
        return [("status", rng.choice(("resolved", "closed")))]

    def device() -> dict[str, Any]:
        d = rng.choice(devices)
        return {"site": d.site, "device": d.device}

    reports = params.warmup + params.report_requests
    return [
        Endpoint("list newest", "list", [("/api/v1/tickets", {}) for _ in range(total)]),
        Endpoint(
            "list site+status",
            "list",
            [("/api/v1/tickets", [("site", site()), *statuses()]) for _ in range(total)],
        ),
        Endpoint(
            "list priority",
            "list",
            [
                ("/api/v1/tickets", {"priority": rng.choice(("emergency", "important", "general"))})
                for _ in range(total)
            ],
        ),
        Endpoint("list site+device", "list", [("/api/v1/tickets", device()) for _ in range(total)]),
        Endpoint(
            "list deep cursor",
            "list",
            [
                ("/api/v1/tickets", {"cursor": encode_cursor(rng.randint(2, n))})
                for _ in range(total)
            ],
        ),
        Endpoint(
            "get by id",
            "get",
            [(f"/api/v1/tickets/ST-{rng.randint(1, n):06d}", {}) for _ in range(total)],
        ),
        Endpoint(
            "monthly report",
            "report",
            [
                ("/api/v1/reports/monthly", {"site": site(), "month": rng.choice(months)})
                for _ in range(reports)
            ],
        ),
    ]


# -- the server ------------------------------------------------------------------------------------


class Server:
    """bench/api_server.py in a child process, on a free port."""

    def __init__(self, database_url: str, workdir: Path, api_key: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "STEWARD_DATABASE_URL": database_url,
            "STEWARD_MQTT_URL": "mqtt://127.0.0.1:1",  # the gateway is not started
            "STEWARD_TELEMETRY_PATH": str(workdir / "telemetry.db"),
            "STEWARD_ADMIN_API_KEY": api_key,
        }
        env.pop("STEWARD_SITE_CONFIG", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.api_server", "--port", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
        )

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the API server exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"the API server did not answer /healthz within {timeout}s")

    def cpu_seconds(self) -> float | None:
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


async def drive(
    server: Server,
    requests: Sequence[tuple[str, Any]],
    *,
    concurrency: int,
    warmup: int,
    api_key: str,
) -> Timing:
    """``requests`` with ``concurrency`` in flight; the first ``warmup`` are not timed."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {api_key}"}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    async with httpx.AsyncClient(
        base_url=server.base, limits=limits, headers=headers, timeout=60.0
    ) as client:

        async def run(batch: Sequence[tuple[str, Any]], record: bool) -> None:
            queue = list(reversed(batch))

            async def worker() -> None:
                while queue:
                    path, query = queue.pop()
                    started = time.perf_counter()
                    try:
                        response = await client.get(path, params=query)
                        await response.aread()
                    except httpx.HTTPError as exc:
                        errors.append(f"{path}: {exc!r}")
                        continue
                    elapsed = (time.perf_counter() - started) * 1000
                    if not record:
                        continue
                    latencies.append(elapsed)
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    if not 200 <= response.status_code < 300 and len(errors) < 20:
                        errors.append(
                            f"{path} {query}: {response.status_code} {response.text[:200]}"
                        )

            await asyncio.gather(*(worker() for _ in range(concurrency)))

        await run(requests[:warmup], record=False)
        cpu0 = server.cpu_seconds()
        started = time.perf_counter()
        await run(requests[warmup:], record=True)
        seconds = time.perf_counter() - started
        cpu1 = server.cpu_seconds()
    cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    return Timing(latencies, statuses, errors, seconds, cpu)


# -- query plans -----------------------------------------------------------------------------------


def plan_queries(info: DataInfo, params: Params) -> dict[str, Any]:
    """The statements behind the list and get routes (``tickets.listing.page_statement``,
    ``tickets.render``), each with its parameters."""
    sites, devices = fleet(random.Random(params.seed))
    site, device = sites[0], devices[0]
    deep = encode_cursor(max(2, info.tickets // 3))
    active = tuple(Status(s) for s in ACTIVE)
    page = {
        "list newest": (TicketFilter(), None),
        "list site+active": (TicketFilter(site=site, status=active), None),
        "list site+closed": (TicketFilter(site=site, status=(Status.CLOSED,)), None),
        "list priority emergency": (TicketFilter(priority=Priority.EMERGENCY), None),
        "list site+device": (TicketFilter(site=device.site, device=device.device), None),
        "list deep cursor": (TicketFilter(), deep),
    }
    queries: dict[str, Any] = {
        name: page_statement(where, limit=50, cursor=cursor)
        for name, (where, cursor) in page.items()
    }
    queries["get by id"] = (DOC_BY_NUMBER, {"number": "ST-000001"})
    newest = list(range(info.tickets, max(0, info.tickets - 50), -1))
    queries["page history"] = (HISTORY_OF, {"ids": newest})
    queries["page linked conditions"] = (LINKED_TO, {"ids": newest})
    return queries


def _literal_sql(query: Any, values: dict[str, Any], dialect: Any) -> str:
    """``query`` with ``values`` written in (the row ids as the literal the parameter is)."""
    ids = values.get("ids")
    if ids is None:
        bound = query.params(values)
        return str(bound.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    sql = str(query.compile(dialect=dialect))
    if dialect.name == "postgresql":
        return sql.replace("%(ids)s", "'{" + ",".join(map(str, ids)) + "}'")
    return sql.replace("?", "'[" + ",".join(map(str, ids)) + "]'")


def explain(loaded: Loaded, params: Params) -> dict[str, list[str]]:
    queries = plan_queries(loaded.info, params)
    plans: dict[str, list[str]] = {}
    if loaded.backend == "sqlite":
        path = loaded.url.removeprefix("sqlite:///")
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            for name, (query, values) in queries.items():
                sql = _literal_sql(query, values, sqlite.dialect())
                rows = db.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
                plans[name] = [str(row[-1]) for row in rows]
        finally:
            db.close()
        return plans
    conninfo = loaded.url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as conn:
        for name, (query, values) in queries.items():
            dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
            sql = _literal_sql(query, values, dialect)
            rows = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) {sql}").fetchall()
            plans[name] = [str(row[0]) for row in rows]
    return plans


# -- the run --------------------------------------------------------------------------------


def measure_backend(
    loaded: Loaded, params: Params, workdir: Path, note: Progress
) -> dict[str, Any]:
    api_key = os.environ.get("STEWARD_ADMIN_API_KEY") or f"bench-{secrets.token_urlsafe(24)}"
    plan = endpoints(loaded.info, params, seed=params.seed + 1)
    server = Server(loaded.url, workdir / loaded.backend, api_key)
    note(f"{loaded.backend}: starting the API (uvicorn, one process) on port {server.port}")
    out: dict[str, Any] = {"backend": loaded.backend, "endpoints": {}}
    try:
        started = time.perf_counter()
        server.wait_ready()
        out["startup_s"] = round(time.perf_counter() - started, 2)
        for endpoint in plan:
            concurrent = asyncio.run(
                drive(
                    server,
                    endpoint.requests,
                    concurrency=params.concurrency,
                    warmup=params.warmup,
                    api_key=api_key,
                )
            )
            serial = asyncio.run(
                drive(
                    server,
                    endpoint.requests[: params.serial_requests],
                    concurrency=1,
                    warmup=0,
                    api_key=api_key,
                )
            )
            c, s = concurrent.as_dict(), serial.as_dict()
            out["endpoints"][endpoint.name] = {
                "kind": endpoint.kind,
                "concurrent": c,
                "serial": s,
                "load_average_1m": round(os.getloadavg()[0], 2),
            }
            note(
                f"{loaded.backend}: {endpoint.name:<17} c={params.concurrency}: p50 "
                f"{c['p50_ms']} ms, p99 {c['p99_ms']} ms, max {c['max_ms']} ms, "
                f"{c['req_per_s']} req/s, server CPU {c['server_cpu_ms_per_request']} ms/req; "
                f"c=1: p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms"
                + ("" if concurrent.ok and serial.ok else f"  NOT ALL 2xx: {c['statuses']}")
            )
    finally:
        server.stop()
    note(f"{loaded.backend}: query plans")
    out["plans"] = explain(loaded, params)
    return out


def run_api_load(params: Params, progress: Progress | None = None) -> dict[str, Any]:
    note = progress or (lambda _m: None)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    machine, code = machine_info(), code_info()
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        workdir = Path(tmp)
        cache = workdir / "cache" if params.smoke else Path(params.cache_dir)
        loaded = load(
            tickets=params.tickets,
            seed=params.seed,
            sqlite_dir=cache if "sqlite" in params.backends else None,
            postgres_url=params.postgres_url if "postgresql" in params.backends else None,
            reload=params.reload or params.smoke,
            progress=note,
        )
        try:
            backends = [measure_backend(one, params, workdir, note) for one in loaded]
        finally:
            if params.smoke and "postgresql" in params.backends:
                drop_postgres(params.postgres_url, params.tickets, params.seed)
    data = loaded[0].info
    return {
        "benchmark": "api_load",
        "started_at": started_at,
        "machine": machine,
        "code": code,
        "parameters": asdict(params),
        "data": {
            **asdict(data),
            "sites": len(data.sites),
            "reused": {one.backend: one.reused for one in loaded},
        },
        "backends": backends,
        "load_average_end": list(os.getloadavg()),
    }


def answered_ok(result: dict[str, Any]) -> bool:
    return all(
        e["concurrent"]["ok"] and e["serial"]["ok"]
        for b in result["backends"]
        for e in b["endpoints"].values()
    )


def rows_of(result: dict[str, Any]) -> list[Row]:
    ok = answered_ok(result)
    c = result["parameters"]["concurrency"]
    n = result["data"]["tickets"]
    rows = []
    for b in result["backends"]:
        name = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}[b["backend"]]
        eps = b["endpoints"].values()
        worst = max(e["concurrent"]["p99_ms"] or 0.0 for e in eps if e["kind"] != "report")
        report = max(e["concurrent"]["p99_ms"] or 0.0 for e in eps if e["kind"] == "report")
        for label, value, target in (
            ("worst list/get p99", worst, LIST_GET_TARGET_MS),
            ("monthly report p99", report, REPORT_TARGET_MS),
        ):
            rows.append(
                Row(
                    f"API {label}, {name}, {n:,} tickets, c={c}",
                    None,
                    value,
                    "ms",
                    target,
                    ok,
                    target_on="ours",
                    lower_is_better=True,
                )
            )
    return rows


def summary(result: dict[str, Any]) -> str:
    data = result["data"]
    lines = [
        f"data: {data['tickets']:,} tickets, {data['events']:,} history rows, {data['sites']} "
        f"sites, {data['devices']:,} devices, statuses {data['by_status']}; cached: "
        f"{data['reused']} (load took {data['load_s']:.0f}s)",
        f"{'database':<11} {'endpoint':<17} {'p50':>8} {'p99':>8} {'max':>8} {'req/s':>7} "
        f"{'cpu/req':>8} {'c=1 p50':>8} {'c=1 p99':>8}",
    ]
    for b in result["backends"]:
        for name, e in b["endpoints"].items():
            c, s = e["concurrent"], e["serial"]
            lines.append(
                f"{b['backend']:<11} {name:<17} {c['p50_ms']:>8} {c['p99_ms']:>8} "
                f"{c['max_ms']:>8} {c['req_per_s']:>7} {c['server_cpu_ms_per_request'] or '-':>8} "
                f"{s['p50_ms']:>8} {s['p99_ms']:>8}"
            )
    lines.append("(milliseconds; c=1 is the same requests one at a time: the service time)")
    for b in result["backends"]:
        for name, plan in b["plans"].items():
            head = "; ".join(line.strip() for line in plan[:3])
            lines.append(f"plan {b['backend']} {name}: {head[:160]}")
    return "\n".join(lines)


SUITE_REPORT_REQUESTS = 32


def suite_run(smoke: bool = False, progress: Progress | None = None) -> Outcome:
    """bench/run_all.py's entry: the default run, or the smoke sizes."""
    # In the suite, 32 monthly reports per database (the standalone default, 200, takes
    # most of the run: the report is ~1 s each); p99 of 32 is their maximum.
    params = smoke_params() if smoke else Params(report_requests=SUITE_REPORT_REQUESTS)
    result = run_api_load(params, progress)
    return Outcome(rows_of(result), result, ok=answered_ok(result), text=summary(result))


def smoke_params() -> Params:
    return Params(
        tickets=SMOKE_TICKETS,
        requests=40,
        report_requests=10,
        serial_requests=5,
        warmup=2,
        concurrency=16,
        smoke=True,
    )


run = suite_run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.api_load", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--tickets", type=int, default=None)
    parser.add_argument("--requests", type=int, default=None, help="per list/get endpoint")
    parser.add_argument("--report-requests", type=int, default=None)
    parser.add_argument("--serial-requests", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--backend", action="append", choices=("postgresql", "sqlite"))
    parser.add_argument(
        "--postgres-url", default=DEFAULT_POSTGRES, help="server to create the database on"
    )
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reload", action="store_true", help="rebuild the cached databases")
    parser.add_argument(
        "--drop", action="store_true", help="drop the cached PostgreSQL database and exit"
    )
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    params = smoke_params() if args.smoke else Params()
    names = (
        "tickets",
        "requests",
        "report_requests",
        "serial_requests",
        "concurrency",
        "cache_dir",
    )
    override(params, args, {name: name for name in names})
    params.backends = tuple(args.backend or params.backends)
    params.postgres_url, params.seed = args.postgres_url, args.seed
    params.reload = params.reload or args.reload
    if args.drop:
        print(f"dropped {drop_postgres(params.postgres_url, params.tickets, params.seed)}")
        return 0
    result = run_api_load(params, make_progress())
    rows = rows_of(result)
    print(table(rows))
    print()
    print(summary(result))
    written = write_result(
        "api_load", result, rows, output=args.output, smoke=params.smoke, no_write=args.no_write
    )
    if written is not None:
        print(f"results appended to {written}")
    return 0 if answered_ok(result) else 1


if __name__ == "__main__":
    sys.exit(main())
