"""The InfluxDB sink against a real server: VictoriaMetrics (Debian ``victoria-metrics``)
accepts influxdb-client's ``/api/v2/write``. Every tag, field and timestamp is read back
through ``/api/v1/export``; the server is stopped mid-stream and nothing is lost; the spool
survives a restart of Steward itself."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.reading import Reading
from gateway.topics import DeviceRef, Kind
from steward.clock import FakeClock
from telemetry.influx import InfluxSink
from telemetry.influx_client import ClientWriter, InfluxTarget
from telemetry.lineproto import LineEncoder
from tests.mqtt_helpers import wait_for
from tests.services import free_port
from tests.telemetry.helpers import (
    FULL,
    MINIMAL,
    T0,
    PrivateVictoriaMetrics,
    elevator_series,
    reading,
)

Key = tuple[str, tuple[tuple[str, str], ...]]


def make_sink(url: str, spool: Path, **options: Any) -> InfluxSink:
    settings: dict[str, Any] = {"batch_size": 50, "flush_interval_s": 0.05, "retry_max_s": 0.3}
    settings.update(options)
    return InfluxSink(
        InfluxTarget(url, token="test-token", org="steward", bucket="telemetry", timeout_s=3),
        clock=FakeClock(),
        spool_dir=spool,
        **settings,
    )


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    return tmp_path / "spool"


def expected_points(
    readings: list[Reading], buildings: dict[str, str]
) -> dict[Key, dict[int, float]]:
    """What VictoriaMetrics must hold, worked out from the payloads (not from our encoder):
    a series ``<kind>_<field>`` per field present, tagged site/kind/device (+ building when
    registered), at ``observed_at`` in ms; booleans 1/0; strings 0 (VictoriaMetrics keeps
    only numbers; the text itself is checked on the wire in test_lineproto.py)."""
    out: dict[Key, dict[int, float]] = {}
    for r in readings:
        tags = {"site": r.ref.site, "kind": r.ref.kind.value, "device": r.ref.device}
        if r.ref.device in buildings:
            tags["building"] = buildings[r.ref.device]
        payload = r.telemetry.model_dump(exclude={"ts"})
        for field, value in payload.items():
            if value is None or value == []:
                continue
            number = float(value) if isinstance(value, int | float) else 0.0
            key = (f"{r.ref.kind.value}_{field}", tuple(sorted(tags.items())))
            out.setdefault(key, {})[round(r.observed_at * 1000)] = number
    return out


def test_every_tag_field_and_timestamp_reads_back(
    victoria: PrivateVictoriaMetrics, spool: Path
) -> None:
    buildings = {f"reg-{k.value}": f"b-{i}" for i, k in enumerate(Kind)}
    readings: list[Reading] = []
    for i, kind in enumerate(Kind):
        registered = DeviceRef("roundtrip", kind, f"reg-{kind.value}")
        unregistered = DeviceRef("roundtrip", kind, f"new-{kind.value}")
        readings.append(reading(registered, T0 + i + 0.123))
        readings.append(reading(unregistered, T0 + 10 + i, MINIMAL[kind]))
    # device time not trusted (clock_skew): the point is stamped with observed_at, not ts
    skewed = reading(DeviceRef("roundtrip", Kind.WATER_PRESSURE, "reg-water_pressure"), T0 + 30)
    readings.append(
        Reading(skewed.ref, skewed.telemetry, T0 + 31.5, T0 + 31.5, frozenset({"clock_skew"}))
    )

    sink = make_sink(
        victoria.url, spool, batch_size=3, building_of=lambda ref: buildings.get(ref.device)
    )
    sink.start()
    try:
        for r in readings:
            sink.add(r)
        assert sink.flush(20)
        stats = sink.stats
        assert (stats.received, stats.written, stats.dropped, stats.spooled) == (9, 9, 0, 0)
    finally:
        sink.stop()
    got = victoria.points('{site="roundtrip"}')
    assert got == expected_points(readings, buildings)
    # spot checks, spelled out
    full_elevator = (
        "elevator_speed_mps",
        (
            ("building", "b-0"),
            ("device", "reg-elevator"),
            ("kind", "elevator"),
            ("site", "roundtrip"),
        ),
    )
    assert got[full_elevator] == {round((T0 + 0.123) * 1000): FULL[Kind.ELEVATOR]["speed_mps"]}
    assert (
        "elevator_speed_mps",
        (("device", "new-elevator"), ("kind", "elevator"), ("site", "roundtrip")),
    ) not in got


def test_outage_mid_stream_loses_nothing(victoria: PrivateVictoriaMetrics, spool: Path) -> None:
    ref = DeviceRef("outage", Kind.ELEVATOR, "car-1")
    readings = elevator_series(ref, 1500)
    sink = make_sink(victoria.url, spool)
    sink.start()
    try:
        for r in readings[:500]:
            sink.add(r)
        wait_for(lambda: sink.stats.written == 500, what="the first 500 written")

        victoria.stop()  # the server goes away mid-stream ...
        for r in readings[500:1000]:
            sink.add(r)
        wait_for(lambda: sink.stats.spooled == 500, what="the next 500 spooled")
        assert not sink.healthy
        assert list(spool.glob("*.lp.gz")), "the outage is ridden out on disk"
        for r in readings[1000:]:  # ... and readings keep coming while it is away
            sink.add(r)
        wait_for(lambda: sink.stats.spooled == 1000, what="all 1000 spooled")

        victoria.start()  # same port, same data
        # replayed is counted just after written: wait for both, or the check below races
        wait_for(
            lambda: (sink.stats.written, sink.stats.replayed) == (1500, 1000),
            timeout=30,
            what="the spool replayed",
        )
        stats = sink.stats
        assert (stats.spooled, stats.buffered, stats.dropped, stats.rejected) == (0, 0, 0, 0)
        assert stats.replayed == 1000
        assert stats.failures > 0
        assert sink.healthy
        assert not list(spool.glob("*.lp.gz"))
    finally:
        sink.stop()
    floors = victoria.points('{site="outage", __name__="elevator_floor"}')
    [(_, series)] = floors.items()
    assert series == {round(r.observed_at * 1000): float(i % 20) for i, r in enumerate(readings)}


class OrderedWriter:
    """The real ``influxdb-client`` writer, noting each batch the server took, in order."""

    def __init__(self, target: InfluxTarget) -> None:
        self.inner = ClientWriter(target)
        self.bodies: list[bytes] = []

    def write(self, body: bytes) -> None:
        self.inner.write(body)
        self.bodies.append(body)

    def close(self) -> None:
        self.inner.close()


def test_buffer_overflow_during_an_outage_arrives_in_order(
    victoria: PrivateVictoriaMetrics, spool: Path
) -> None:
    """The batcher stalls (here: in the device registry) while the server is down; the
    gateway keeps adding until the buffer overflows to disk. Nothing is dropped, and once
    the server is back every reading arrives, in the order it was added."""
    ref = DeviceRef("overflow", Kind.ELEVATOR, "car-1")
    readings = elevator_series(ref, 3000)
    hold, held, release = threading.Event(), threading.Event(), threading.Event()

    def building_of(_: DeviceRef) -> str:
        if hold.is_set() and threading.current_thread().name == "steward-influx-batcher":
            held.set()
            release.wait(30)
        return "b1"

    target = InfluxTarget(
        victoria.url, token="test-token", org="steward", bucket="telemetry", timeout_s=3
    )
    writer = OrderedWriter(target)
    sink = make_sink(
        victoria.url,
        spool,
        building_of=building_of,
        writer=writer,
        buffer_readings=200,
        memory_readings=200,
    )
    sink.start()
    try:
        for r in readings[:500]:
            sink.add(r)
        wait_for(lambda: sink.stats.written == 500, what="the first 500 written")

        victoria.stop()
        hold.set()
        for r in readings[500:550]:
            sink.add(r)
        assert held.wait(10), "the batcher stalls on the next batch"
        for r in readings[550:2500]:  # 200 fill the buffer, the rest overflows
            sink.add(r)
        stats = sink.stats
        assert stats.overflowed >= 2500 - 550 - 200
        assert stats.dropped == 0
        assert list((spool / "overflow").glob("*.lp.gz")), "the overflow is on disk"
        assert stats.received == stats.written + stats.buffered + stats.spooled == 2500

        hold.clear()  # the batcher catches up: the buffer, then the overflow
        release.set()
        for r in readings[2500:]:
            sink.add(r)
        assert sink.flush(20)
        stats = sink.stats
        assert (stats.written, stats.spooled, stats.dropped) == (500, 2500, 0)
        assert not sink.healthy

        victoria.start()
        wait_for(lambda: sink.stats.written == 3000, timeout=30, what="the spool replayed")
    finally:
        hold.clear()
        release.set()
        sink.stop()
    stats = sink.stats  # final once the threads are stopped
    assert (stats.spooled, stats.buffered, stats.dropped, stats.rejected) == (0, 0, 0, 0)
    assert stats.replayed == stats.spooled_total >= 2500
    encoder = LineEncoder(lambda _: "b1")
    sent = [line for body in writer.bodies for line in body.split(b"\n")]
    assert sent == [encoder.line(r).encode() for r in readings]  # in order
    [(_, series)] = victoria.points('{site="overflow", __name__="elevator_seq"}').items()
    assert series == {round(r.observed_at * 1000): float(i) for i, r in enumerate(readings)}


def test_spool_outlives_a_restart_of_steward(tmp_path: Path, spool: Path) -> None:
    """Readings spooled while the server was away are replayed by the next process."""
    server = PrivateVictoriaMetrics(tmp_path / "vm")
    ref = DeviceRef("restart", Kind.ELEVATOR, "car-1")
    readings = elevator_series(ref, 300)
    first = make_sink(server.url, spool)  # nothing listens yet
    first.start()
    for r in readings:
        first.add(r)
    assert first.flush(20)
    first.stop(timeout=1)
    assert first.stats.spooled == 300

    server.start()
    try:
        second = make_sink(server.url, spool)
        second.start()
        try:
            wait_for(
                lambda: (second.stats.written, second.stats.replayed) == (300, 300),
                timeout=30,
                what="replay after restart",
            )
            assert second.stats.replayed == 300
            assert second.stats.spooled == 0
        finally:
            second.stop()
        [(_, series)] = server.points('{site="restart", __name__="elevator_seq"}').items()
        assert series == {round(r.observed_at * 1000): float(i) for i, r in enumerate(readings)}
    finally:
        server.kill()


def test_full_spool_drops_and_says_so_loudly(spool: Path, caplog: pytest.LogCaptureFixture) -> None:
    ref = DeviceRef("full", Kind.ELEVATOR, "car-1")
    sink = make_sink(f"http://127.0.0.1:{free_port()}", spool, spool_max_bytes=3000)
    sink.start()
    try:
        with caplog.at_level(logging.ERROR, logger="steward.telemetry"):
            for r in elevator_series(ref, 2000):
                sink.add(r)
            assert sink.flush(20)
            wait_for(lambda: sink.stats.dropped > 0, what="drops once the spool is full")
        stats = sink.stats
        assert stats.spooled > 0
        assert sum(p.stat().st_size for p in spool.glob("*.lp.gz")) <= 3000
        assert stats.received == stats.written + stats.buffered + stats.spooled + stats.dropped
        assert any("DROPPING TELEMETRY" in m and "spool full" in m for m in caplog.messages)
    finally:
        sink.stop(timeout=1)


@pytest.fixture
def sink_on_victoria(victoria: PrivateVictoriaMetrics, spool: Path) -> Iterator[InfluxSink]:
    sink = make_sink(victoria.url, spool, batch_size=100)
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


def test_batches_by_size_through_the_real_client(
    sink_on_victoria: InfluxSink, victoria: PrivateVictoriaMetrics
) -> None:
    ref = DeviceRef("batches", Kind.WATER_PRESSURE, "w-1")
    for i in range(1000):
        sink_on_victoria.add(reading(ref, T0 + i, pressure_mpa=round(0.3 + i / 10000, 4), seq=i))
    assert sink_on_victoria.flush(20)
    assert sink_on_victoria.stats.written == 1000
    [(_, series)] = victoria.points(
        '{site="batches", __name__="water_pressure_pressure_mpa"}'
    ).items()
    assert len(series) == 1000
    assert series[round((T0 + 999) * 1000)] == pytest.approx(0.3999)
