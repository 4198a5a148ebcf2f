"""Telemetry sinks: influxdb-client against a raw HTTP POST of the same line protocol, and the
embedded store's insert rate.

    .venv/bin/python -m bench.telemetry_sink [--readings 200000] [--batch 5000] [--rounds 3]
    .venv/bin/python -m bench.telemetry_sink --smoke        # 5,000 readings, 1 round

Protocol (/work/shared/docs/benchmarks.md: a ratio against a baseline in the same run):

1. A private VictoriaMetrics (Debian ``victoria-metrics``) on a free port: it takes
   influxdb-client's ``/api/v2/write``, as InfluxDB 2 does.
2. N readings are generated up front (70 % elevators, 15 % extinguishers, 10 % water
   pressure, 5 % patrol, 10,000 devices, every optional field set) and encoded once into
   batches of line protocol, so both writers send the very same bytes.
3. Per round, in turn:
   - **raw**: ``http.client`` on one keep-alive connection POSTs each batch, gzip'd as the
     client does it (``gzip.compress``, default level), to ``/api/v2/write?precision=ms``;
   - **client**: ``influxdb-client`` (synchronous write API, ``enable_gzip=True``) writes
     each batch: what ``InfluxSink``'s sender does;
   - **encode+raw**: the raw POST again, encoding each batch just before sending it;
   - **sink**: the whole ``InfluxSink``: ``add`` every reading, encoding in its batcher,
     writing in its sender, timed until ``written == N``;
   - **embedded**: ``EmbeddedStore`` on a fresh file: ``add`` every reading, timed until
     flushed.
4. Accounting: for every pass to the server, VictoriaMetrics' ``vm_rows_inserted_total`` must grow
   by exactly the number of fields sent; the sink must count every reading written; the
   embedded store must hold N rows.
5. Medians over the rounds. Targets: the client against raw (>= 0.8, benchmarks.md), and the
   whole sink against encode+raw (>= 0.8: its threads, buffers and spool logic cost little).
   The embedded store's rate is set against the ingest benchmark's Steward rate (its latest
   result file, so not the same run): the store must not be the bottleneck (>= 1.0).

Results are appended to ``bench/results/<date>-telemetry_sink.json``. Exit status 1 when the
accounting fails, never on timings.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.broker import find_binary, free_port
from bench.machine import machine_info
from bench.report import RESULTS_DIR, Row, append_result, results_path, table
from gateway.payloads import SCHEMAS
from gateway.reading import Reading
from gateway.topics import DeviceRef, Kind
from steward.clock import SystemClock
from telemetry.embedded import EmbeddedStore
from telemetry.influx import InfluxSink
from telemetry.influx_client import ClientWriter, InfluxTarget
from telemetry.lineproto import LineEncoder

TARGET_CLIENT_RATIO = 0.8
TARGET_STORE_VS_INGEST = 1.0
MIX = ((Kind.ELEVATOR, 0.70), (Kind.EXTINGUISHER, 0.15), (Kind.WATER_PRESSURE, 0.10))
ORG, BUCKET, TOKEN = "steward", "telemetry", "bench-token"


# -- the readings ---------------------------------------------------------------------------------
def payload(kind: Kind, i: int, rng: random.Random) -> dict[str, Any]:
    common = {"seq": i, "battery_pct": round(rng.uniform(20, 100), 1)}
    if kind is Kind.ELEVATOR:
        moving = rng.random() < 0.4
        return {
            **common,
            "floor": rng.randint(-2, 30),
            "moving": moving,
            "direction": rng.choice(["up", "down"]) if moving else "none",
            "door": "closed" if moving else rng.choice(["open", "closed", "opening", "closing"]),
            "door_zone": not moving,
            "occupied": rng.random() < 0.5,
            "alarm": False,
            "mode": "normal",
            "mains_power": True,
            "speed_mps": round(rng.uniform(0, 1.75), 2) if moving else 0.0,
            "safety_circuit_ok": True,
            "door_lock_ok": True,
        }
    if kind is Kind.EXTINGUISHER:
        return {**common, "pressure_mpa": round(rng.uniform(1.0, 1.4), 3), "on_bracket": True}
    if kind is Kind.WATER_PRESSURE:
        pressure = rng.uniform(0.2, 0.5)
        return {
            **common,
            "pressure_mpa": round(pressure, 3),
            "current_ma": round(4 + pressure * 8, 2),
        }
    return {**common, "guard_id": f"guard-{rng.randint(1, 40)}", "tag_id": f"tag-{i % 997}"}


def make_readings(n: int, devices: int, start: float, seed: int = 7) -> list[Reading]:
    rng = random.Random(seed)
    kinds = []
    for kind, share in MIX:
        kinds += [kind] * round(devices * share)
    kinds += [Kind.PATROL] * (devices - len(kinds))
    refs = [DeviceRef(f"site-{d // 200:03d}", kind, f"dev-{d:05d}") for d, kind in enumerate(kinds)]
    out = []
    for i in range(n):
        ref = refs[i % devices]
        at = start + i * 0.001
        body = {"ts": round(at * 1000), **payload(ref.kind, i, rng)}
        telemetry = SCHEMAS[ref.kind].model_validate(body)
        out.append(Reading(ref, telemetry, at, at))  # type: ignore[arg-type]
    return out


def buildings(ref: DeviceRef) -> str:
    return f"b{int(ref.device[4:]) % 7}"


# -- the server -----------------------------------------------------------------------------------
@dataclass
class VictoriaMetrics:
    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = find_binary("victoria-metrics")
        if binary is None:
            raise SystemExit(
                "victoria-metrics not found (Debian: apt-get install victoria-metrics)"
            )
        self.process = subprocess.Popen(
            [
                binary,
                f"-storageDataPath={self.workdir}",
                f"-httpListenAddr=127.0.0.1:{self.port}",
                "-retentionPeriod=100y",
                "-loggerLevel=ERROR",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("victoria-metrics did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(30)

    def rows_inserted(self) -> int:
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as response:
            for line in response.read().decode().splitlines():
                if line.startswith('vm_rows_inserted_total{type="influx"}'):
                    return int(float(line.split()[-1]))
        return 0

    def grown(self, before: int, expected: int, timeout: float = 60.0) -> int:
        """How far ``vm_rows_inserted_total`` grew since ``before``: it counts a request's
        rows shortly after answering it, so wait (untimed) for it to settle."""
        deadline = time.monotonic() + timeout
        while True:
            grown = self.rows_inserted() - before
            if grown >= expected or time.monotonic() > deadline:
                return grown
            time.sleep(0.05)

    @staticmethod
    def version() -> str:
        """The Debian build reports no version of its own: ask the package manager."""
        query = ["dpkg-query", "-W", "-f", "${Version}", "victoria-metrics"]
        try:
            done = subprocess.run(query, capture_output=True, text=True, check=False, timeout=10)
        except OSError:
            return "unknown"
        return done.stdout.strip() or "unknown"


# -- the writers ----------------------------------------------------------------------------------
@dataclass
class Pass:
    seconds: float
    readings: int
    ok: bool
    detail: str = ""

    @property
    def rate(self) -> float:
        return self.readings / self.seconds if self.seconds > 0 else 0.0


def raw_post(server: VictoriaMetrics, batches: Iterable[bytes]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    path = f"/api/v2/write?org={ORG}&bucket={BUCKET}&precision=ms"
    headers = {
        "Authorization": f"Token {TOKEN}",
        "Content-Type": "text/plain; charset=utf-8",
        "Content-Encoding": "gzip",
    }
    try:
        for body in batches:
            connection.request("POST", path, gzip.compress(body), headers)
            response = connection.getresponse()
            response.read()
            if response.status != 204:
                raise RuntimeError(f"raw POST answered {response.status}")
    finally:
        connection.close()


def encoded(readings: list[Reading], batch: int) -> Iterator[bytes]:
    """Line protocol made as it is sent (the baseline for the whole sink, which encodes too)."""
    encoder = LineEncoder(buildings)
    for i in range(0, len(readings), batch):
        yield encoder.lines(readings[i : i + batch])


def client_write(server: VictoriaMetrics, batches: list[bytes]) -> None:
    writer = ClientWriter(InfluxTarget(server.url, TOKEN, ORG, BUCKET, timeout_s=30))
    try:
        for body in batches:
            writer.write(body)
    finally:
        writer.close()


def counted(server: VictoriaMetrics, rows: int, n: int, write: Callable[[], None]) -> Pass:
    before = server.rows_inserted()
    started = time.perf_counter()
    write()
    seconds = time.perf_counter() - started
    grown = server.grown(before, rows)
    return Pass(seconds, n, grown == rows, f"{grown} of {rows} fields stored")


def sink_pass(server: VictoriaMetrics, readings: list[Reading], rows: int, batch: int) -> Pass:
    with tempfile.TemporaryDirectory() as spool:
        sink = InfluxSink(
            InfluxTarget(server.url, TOKEN, ORG, BUCKET, timeout_s=30),
            clock=SystemClock(),
            spool_dir=Path(spool),
            building_of=buildings,
            batch_size=batch,
            buffer_readings=len(readings) + batch,
            memory_readings=len(readings) + batch,
        )
        sink.start()
        before = server.rows_inserted()
        started = time.perf_counter()
        for reading in readings:
            sink.add(reading)
        sink.flush(600)
        seconds = time.perf_counter() - started
        stats = sink.stats
        sink.stop()
    grown = server.grown(before, rows)
    ok = stats.written == len(readings) and stats.dropped == stats.spooled == 0 and grown == rows
    return Pass(seconds, len(readings), ok, f"written {stats.written}, {grown} of {rows} fields")


def embedded_pass(readings: list[Reading], batch: int) -> Pass:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "telemetry.db"
        store = EmbeddedStore(
            path,
            clock=SystemClock(),
            building_of=buildings,
            batch_size=batch,
            buffer_readings=len(readings) + batch,
            retention_s=100 * 365 * 86400,
        )
        store.start()
        started = time.perf_counter()
        for reading in readings:
            store.add(reading)
        store.flush(600)
        seconds = time.perf_counter() - started
        store.stop()
        db = sqlite3.connect(path)
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = sum(
            db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
            for t in tables
            if t != "devices"
        )
        db.close()
    return Pass(seconds, len(readings), rows == len(readings), f"{rows} rows stored")


# -- the run --------------------------------------------------------------------------------------
def latest_ingest_rate(directory: Path = RESULTS_DIR) -> tuple[float, str] | None:
    """Steward's message rate from the newest ingest result (bench/ingest.py), if any."""
    for path in sorted(directory.glob("*-ingest.json"), reverse=True):
        try:
            runs = json.loads(path.read_text())["runs"]
        except (OSError, ValueError, KeyError):
            continue
        for run in reversed(runs):
            rate = run.get("summary", {}).get("steward_msg_per_s")
            if rate:
                return float(rate), f"{path.name} ({run.get('started_at', '?')})"
    return None


@contextmanager
def victoria_metrics() -> Iterator[VictoriaMetrics]:
    with tempfile.TemporaryDirectory() as directory:
        server = VictoriaMetrics(Path(directory))
        server.start()
        try:
            yield server
        finally:
            server.stop()


def run(readings_n: int, batch: int, rounds: int) -> dict[str, Any]:
    print(f"generating {readings_n:,} readings ...", file=sys.stderr)
    readings = make_readings(readings_n, devices=10_000, start=time.time() - 3600)
    batches = list(encoded(readings, batch))
    rows = sum(
        line.count(b",", line.index(b" ")) + 1 for body in batches for line in body.split(b"\n")
    )
    passes: dict[str, list[Pass]] = {
        name: [] for name in ("raw", "encode+raw", "client", "sink", "embedded")
    }
    with victoria_metrics() as server:
        version = server.version()
        print("warm-up (the server registers every series once) ...", file=sys.stderr)
        warm_up = counted(server, rows, readings_n, lambda: raw_post(server, batches))
        writers: dict[str, Callable[[], None]] = {
            "raw": lambda: raw_post(server, batches),
            "encode+raw": lambda: raw_post(server, encoded(readings, batch)),
            "client": lambda: client_write(server, batches),
        }
        for n in range(rounds):
            print(f"round {n + 1}/{rounds} ...", file=sys.stderr)
            order = [*writers, "sink"]
            if n % 2:  # alternate who goes first
                order.reverse()
            for name in order:
                if name == "sink":
                    passes[name].append(sink_pass(server, readings, rows, batch))
                else:
                    passes[name].append(counted(server, rows, readings_n, writers[name]))
            passes["embedded"].append(embedded_pass(readings, batch))
    medians = {name: statistics.median(p.rate for p in ps) for name, ps in passes.items()}
    ingest = latest_ingest_rate()
    return {
        "benchmark": "telemetry_sink",
        "started_at": datetime.now(UTC).isoformat(),
        "machine": {**machine_info(), "victoria_metrics": version},
        "parameters": {"readings": readings_n, "batch": batch, "rounds": rounds, "fields": rows},
        "rounds": {name: [asdict(p) | {"rate": p.rate} for p in ps] for name, ps in passes.items()},
        "medians_readings_per_s": medians,
        "ingest_baseline": {"steward_msg_per_s": ingest[0], "from": ingest[1]} if ingest else None,
        "warm_up": asdict(warm_up),
        "accounting_ok": warm_up.ok and all(p.ok for ps in passes.values() for p in ps),
    }


def rows_of(result: dict[str, Any]) -> list[Row]:
    m, ok = result["medians_readings_per_s"], result["accounting_ok"]
    out = [
        Row(
            "influxdb-client vs raw POST",
            m["raw"],
            m["client"],
            "readings/s",
            TARGET_CLIENT_RATIO,
            ok,
        ),
        Row(
            "InfluxSink vs encode + raw POST",
            m["encode+raw"],
            m["sink"],
            "readings/s",
            TARGET_CLIENT_RATIO,
            ok,
        ),
    ]
    ingest = result["ingest_baseline"]
    if ingest:
        out.append(
            Row(
                "embedded store vs ingest rate",
                ingest["steward_msg_per_s"],
                m["embedded"],
                "readings/s",
                TARGET_STORE_VS_INGEST,
                ok,
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="5,000 readings, 1 round, no file")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    if args.smoke:
        args.readings, args.rounds, args.batch = 5000, 1, 1000
    result = run(args.readings, args.batch, args.rounds)
    print(table(rows_of(result)))
    m = result["medians_readings_per_s"]
    print(
        "\nreadings/s (median): "
        + ", ".join(f"{name} {rate:,.0f}" for name, rate in m.items())
        + f"; {result['parameters']['fields'] / args.readings:.1f} fields a reading"
    )
    if result["ingest_baseline"] is None:
        print("(no ingest result in bench/results: run `python -m bench.ingest` for that ratio)")
    if not result["accounting_ok"]:
        for name, passes in result["rounds"].items():
            for p in passes:
                if not p["ok"]:
                    print(f"ACCOUNTING FAILED: {name}: {p['detail']}", file=sys.stderr)
    output = args.output or (None if args.smoke else results_path("telemetry_sink"))
    if output is not None and not args.no_write:
        append_result(output, result)
        print(f"results appended to {output}")
    return 0 if result["accounting_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
