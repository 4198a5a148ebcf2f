"""Readings of every kind for telemetry tests, and a VictoriaMetrics of the test's own."""

from __future__ import annotations

import gzip
import json
import shutil
import signal
import subprocess
import threading
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from gateway.payloads import SCHEMAS
from gateway.reading import Reading
from gateway.topics import DeviceRef, Kind
from tests.mqtt_helpers import wait_for
from tests.services import free_port, require_service

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, FakeClock's default start

# Every field of every kind set (optional ones included), so a round trip checks them all.
FULL: dict[Kind, dict[str, Any]] = {
    Kind.ELEVATOR: {
        "floor": 7,
        "moving": True,
        "direction": "up",
        "door": "closed",
        "door_zone": False,
        "occupied": True,
        "alarm": False,
        "mode": "normal",
        "mains_power": True,
        "speed_mps": 1.75,
        "safety_circuit_ok": True,
        "door_lock_ok": False,
        "fault_codes": ["04", "E12"],
        "seq": 41,
        "battery_pct": 87.5,
    },
    Kind.WATER_PRESSURE: {"pressure_mpa": 0.315, "current_ma": 9.04, "seq": 3, "battery_pct": 55},
    Kind.EXTINGUISHER: {"pressure_mpa": 1.2, "on_bracket": True, "tilt_deg": 2.5, "seq": 9},
    Kind.PATROL: {"guard_id": 'g-07 "night"', "tag_id": "tag,1 =x", "seq": 1},
}
MINIMAL: dict[Kind, dict[str, Any]] = {
    Kind.ELEVATOR: {
        "floor": -2,
        "moving": False,
        "direction": "none",
        "door": "open",
        "door_zone": True,
        "occupied": None,
        "alarm": True,
        "mode": "fire",
    },
    Kind.WATER_PRESSURE: {"pressure_mpa": -0.05},
    Kind.EXTINGUISHER: {"pressure_mpa": 0.0},
    Kind.PATROL: {"guard_id": "g-1"},
}


def reading(
    ref: DeviceRef, at: float, fields: dict[str, Any] | None = None, **overrides: Any
) -> Reading:
    body = {**(FULL[ref.kind] if fields is None else fields), **overrides}
    telemetry = SCHEMAS[ref.kind].model_validate({"ts": round(at * 1000), **body})
    return Reading(ref, telemetry, received_at=at, observed_at=at)  # type: ignore[arg-type]


def elevator_series(ref: DeviceRef, n: int, start: float = T0, every: float = 1.0) -> list[Reading]:
    """``n`` readings, one per ``every`` seconds, floor i % 20, moving on odd i."""
    return [
        reading(ref, start + i * every, seq=i, floor=i % 20, moving=bool(i % 2)) for i in range(n)
    ]


def victoria_metrics_binary() -> str | None:
    return shutil.which("victoria-metrics") or (
        "/usr/bin/victoria-metrics" if Path("/usr/bin/victoria-metrics").exists() else None
    )


class PrivateVictoriaMetrics:
    """VictoriaMetrics (Debian package ``victoria-metrics``) on a free port, data in
    ``workdir``. It accepts influxdb-client's ``/api/v2/write``; ``export`` reads back through
    ``/api/v1/export``: a series ``<measurement>_<field>`` per field, booleans as 1/0,
    timestamps in milliseconds. ``stop`` is a clean shutdown (it saves what it holds)."""

    def __init__(self, workdir: Path) -> None:
        binary = victoria_metrics_binary()
        if binary is None:
            require_service(
                "VictoriaMetrics", "binary not found (apt-get install victoria-metrics)"
            )
        self.binary = str(binary)
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                f"-storageDataPath={self.workdir}",
                f"-httpListenAddr=127.0.0.1:{self.port}",
                "-retentionPeriod=100y",  # test data is stamped 2026-01-01 onwards
                "-loggerLevel=ERROR",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.healthy, timeout=20, what=f"VictoriaMetrics on {self.url}")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        self.process = None

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def export(self, match: str) -> list[dict[str, Any]]:
        """Every series matching the selector, e.g. ``{site="s1"}``, over all time."""
        self._post("/internal/force_flush", {})
        body = self._post("/api/v1/export", {"match[]": match, "start": "0"})
        return [json.loads(line) for line in body.splitlines() if line.strip()]

    def points(self, match: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], dict[int, float]]:
        """``{(name, sorted tags): {timestamp_ms: value}}``."""
        out: dict[tuple[str, tuple[tuple[str, str], ...]], dict[int, float]] = {}
        for series in self.export(match):
            labels = dict(series["metric"])
            name = labels.pop("__name__")
            key = (name, tuple(sorted(labels.items())))
            values = out.setdefault(key, {})
            for ts, value in zip(series["timestamps"], series["values"], strict=True):
                values[int(ts)] = float(value)
        return out

    def _post(self, path: str, form: dict[str, str]) -> str:
        data = urllib.parse.urlencode(form).encode()
        with urllib.request.urlopen(f"{self.url}{path}", data=data, timeout=30) as response:
            return str(response.read().decode())


class RecordingInflux:
    """A local HTTP server speaking just enough of ``/api/v2/write`` to watch the sink from
    the wire: what it sends (decompressed), with which headers and query, in which order.
    ``respond`` is the status to answer with (204 = accepted); ``retry_after`` adds that
    header. Faults and ordering are easier to stage here than on a real server."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], dict[str, list[str]], bytes]] = []
        self.respond = 204
        self.retry_after: str | None = None
        self.lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = (
                    gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
                )
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                with recorder.lock:
                    status = recorder.respond
                    if status == 204:
                        recorder.requests.append((dict(self.headers), query, body))
                self.send_response(status)
                if status != 204 and recorder.retry_after is not None:
                    self.send_header("Retry-After", recorder.retry_after)
                payload = b"" if status == 204 else b'{"code":"invalid","message":"staged"}'
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def lines(self) -> list[bytes]:
        with self.lock:
            return [line for _, _, body in self.requests for line in body.split(b"\n") if line]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
