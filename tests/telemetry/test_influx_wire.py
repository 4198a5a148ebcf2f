"""The InfluxDB sink seen from the wire (a local HTTP server records every request): gzip,
precision, batches by size and by age, order kept through an outage, what is retried and
what is rejected; and the gateway's ``add`` never waits, whatever the server does."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from gateway.topics import DeviceRef, Kind
from steward.clock import FakeClock
from telemetry.influx import InfluxSink
from telemetry.influx_client import InfluxTarget, Outcome, classify
from telemetry.lineproto import LineEncoder
from tests.mqtt_helpers import wait_for
from tests.telemetry.helpers import T0, RecordingInflux, elevator_series

REF = DeviceRef("wire", Kind.ELEVATOR, "car-1")


@pytest.fixture
def server() -> Iterator[RecordingInflux]:
    recorder = RecordingInflux()
    try:
        yield recorder
    finally:
        recorder.close()


def sink_for(url: str, spool: Path, **options: Any) -> InfluxSink:
    settings: dict[str, Any] = {"batch_size": 100, "flush_interval_s": 0.05, "retry_max_s": 0.2}
    settings.update(options)
    return InfluxSink(
        InfluxTarget(url, token="secret-token", org="acme", bucket="telemetry", timeout_s=3),
        clock=FakeClock(),
        spool_dir=spool,
        **settings,
    )


def test_gzip_ms_precision_bucket_org_token(server: RecordingInflux, tmp_path: Path) -> None:
    sink = sink_for(server.url, tmp_path / "spool")
    sink.start()
    try:
        for r in elevator_series(REF, 10):
            sink.add(r)
        assert sink.flush(10)
    finally:
        sink.stop()
    [(headers, query, body)] = server.requests
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Authorization"] == "Token secret-token"
    assert query == {"org": ["acme"], "bucket": ["telemetry"], "precision": ["ms"]}
    assert body.split(b"\n") == [LineEncoder().line(r).encode() for r in elevator_series(REF, 10)]


def test_batches_by_size_then_by_age(server: RecordingInflux, tmp_path: Path) -> None:
    sink = sink_for(server.url, tmp_path / "spool", batch_size=100, flush_interval_s=0.3)
    sink.start()
    try:
        for r in elevator_series(REF, 250):
            sink.add(r)
        wait_for(lambda: len(server.requests) == 3, what="two full batches and the rest by age")
    finally:
        sink.stop()
    sizes = [body.count(b"\n") + 1 for _, _, body in server.requests]
    assert sizes == [100, 100, 50]


def test_order_is_kept_through_an_outage(server: RecordingInflux, tmp_path: Path) -> None:
    readings = elevator_series(REF, 1000)
    spool = tmp_path / "spool"
    sink = sink_for(server.url, spool)
    sink.start()
    try:
        for r in readings[:300]:
            sink.add(r)
        wait_for(lambda: sink.stats.written == 300, what="written before the outage")
        server.respond = 503
        for r in readings[300:700]:
            sink.add(r)
        wait_for(lambda: sink.stats.spooled == 400, what="spooled during the outage")
        assert not sink.healthy
        assert "503" in sink.stats.last_error
        server.respond = 204
        for r in readings[700:]:
            sink.add(r)
        wait_for(lambda: sink.stats.written == 1000, what="everything written")
    finally:
        sink.stop()
    encoder = LineEncoder()
    assert server.lines() == [encoder.line(r).encode() for r in readings]


def test_invalid_batches_are_rejected_not_retried(server: RecordingInflux, tmp_path: Path) -> None:
    sink = sink_for(server.url, tmp_path / "spool")
    sink.start()
    try:
        server.respond = 400
        for r in elevator_series(REF, 100):
            sink.add(r)
        wait_for(lambda: sink.stats.rejected == 100, what="the batch rejected")
        server.respond = 204
        for r in elevator_series(REF, 100, start=T0 + 1000):
            sink.add(r)
        assert sink.flush(10)
        stats = sink.stats
    finally:
        sink.stop()
    assert (stats.written, stats.rejected, stats.spooled, stats.dropped) == (100, 100, 0, 0)
    assert len(server.requests) == 1


def test_wrong_token_is_retried_until_fixed(server: RecordingInflux, tmp_path: Path) -> None:
    """401/403/404 are an operator's to fix; the readings wait in the spool meanwhile."""
    sink = sink_for(server.url, tmp_path / "spool")
    sink.start()
    try:
        server.respond = 401
        for r in elevator_series(REF, 200):
            sink.add(r)
        wait_for(lambda: sink.stats.spooled == 200, what="spooled while unauthorised")
        server.respond = 204
        wait_for(lambda: sink.stats.written == 200, what="written once authorised")
    finally:
        sink.stop()
    assert sink.stats.rejected == 0


class BlockedWriter:
    """A server that hangs: every write waits until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.bodies: list[bytes] = []

    def write(self, body: bytes) -> None:
        self.release.wait(30)
        self.bodies.append(body)

    def close(self) -> None:
        self.release.set()


def test_add_never_waits_for_the_server(tmp_path: Path) -> None:
    """With the sender stuck in a write, 20,000 adds still return (else this test hangs),
    the overflow goes to the spool, and everything is written once the server answers."""
    writer = BlockedWriter()
    sink = sink_for(
        "http://unused",
        tmp_path / "spool",
        writer=writer,
        buffer_readings=20_000,
        memory_readings=1000,
    )
    sink.start()
    try:
        readings = elevator_series(REF, 20_000)
        for r in readings:
            sink.add(r)
        wait_for(lambda: len(sink.buffer) == 0, what="everything encoded")
        stats = sink.stats  # the batch being written and the memory queue, the rest on disk
        assert stats.buffered <= 1000
        assert stats.spooled + stats.buffered == 20_000
        assert stats.dropped == 0
        writer.release.set()
        wait_for(lambda: sink.stats.written == 20_000, what="all written once released")
    finally:
        sink.stop()
    lines = [line for body in writer.bodies for line in body.split(b"\n")]
    encoder = LineEncoder()
    assert lines == [encoder.line(r).encode() for r in readings]


def test_buffer_overflow_is_counted_and_loud(
    server: RecordingInflux, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The batcher is not running yet (the worst case of falling a whole buffer behind): the
    overflow goes to the disk spool from ``add``, a batch at a time, counted and logged at
    WARNING, nothing dropped; once the batcher runs, the buffer is written first, then the
    overflow, then what came after, in order."""
    spool = tmp_path / "spool"
    sink = sink_for(server.url, spool, buffer_readings=100, memory_readings=100)
    readings = elevator_series(REF, 500)
    with caplog.at_level("WARNING", logger="steward.telemetry"):
        for r in readings[:350]:
            sink.add(r)
    stats = sink.stats
    # 100 in the buffer; 250 overflowed: two batches of 100 on disk, 50 gathering in memory
    assert (stats.received, stats.overflowed, stats.dropped) == (350, 250, 0)
    assert (stats.buffered, stats.spooled, stats.spooled_total) == (150, 200, 200)
    assert stats.received == stats.written + stats.buffered + stats.spooled + stats.dropped
    assert len(list((spool / "overflow").glob("*.lp.gz"))) == 2
    assert not list(spool.glob("*.lp.gz"))  # not in the queue before the buffer's readings
    assert any("in-memory buffer full" in m for m in caplog.messages)
    assert not any("DROPPING TELEMETRY" in m for m in caplog.messages)

    sink.start()
    try:
        for r in readings[350:]:
            sink.add(r)
        assert sink.flush(10)
        wait_for(lambda: sink.stats.written == 500, what="everything written")
    finally:
        sink.stop()
    stats = sink.stats  # final once the threads are stopped
    assert (stats.dropped, stats.spooled, stats.buffered) == (0, 0, 0)
    assert stats.replayed == stats.spooled_total >= 250  # the overflow, through the spool
    encoder = LineEncoder()
    assert server.lines() == [encoder.line(r).encode() for r in readings]
    assert not list(spool.rglob("*.lp.gz"))


def test_buffer_overflow_drops_only_at_the_spool_limit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Overflow that does not fit in the spool is the one loss: counted and logged at ERROR."""
    body = LineEncoder().lines(elevator_series(REF, 100))
    room = 2 * len(gzip.compress(body, compresslevel=1)) + 50  # two overflow batches, not three
    sink = sink_for("http://unused", tmp_path / "spool", buffer_readings=100, spool_max_bytes=room)
    with caplog.at_level("ERROR", logger="steward.telemetry"):
        for r in elevator_series(REF, 450):
            sink.add(r)
    stats = sink.stats
    assert (stats.received, stats.overflowed) == (450, 350)
    assert (stats.buffered, stats.spooled, stats.dropped) == (150, 200, 100)
    assert stats.received == stats.written + stats.buffered + stats.spooled + stats.dropped
    assert any("DROPPING TELEMETRY" in m and "spool full" in m for m in caplog.messages)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(400, Outcome.REJECTED), (413, Outcome.REJECTED), (422, Outcome.REJECTED)]
    + [(s, Outcome.RETRY) for s in (401, 403, 404, 429, 500, 502, 503, 504)],
)
def test_retryability_by_status(status: int, outcome: Outcome) -> None:
    assert classify(SimpleNamespace(status=status, headers={})) == (outcome, None)  # type: ignore[arg-type]


def test_retry_after_and_connection_errors() -> None:
    busy = SimpleNamespace(status=429, headers={"Retry-After": "7"})
    assert classify(busy) == (Outcome.RETRY, 7.0)  # type: ignore[arg-type]
    assert classify(ConnectionRefusedError()) == (Outcome.RETRY, None)
    assert classify(TimeoutError()) == (Outcome.RETRY, None)
