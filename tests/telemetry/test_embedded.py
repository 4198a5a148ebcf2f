"""The embedded store: every field of every kind back as it went in, downsampling, retention
and compaction on the injected clock, restart, and the gateway's ``add`` never waiting."""

from __future__ import annotations

import logging
import sqlite3
import statistics
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from gateway.reading import Reading
from gateway.topics import DeviceRef, Kind
from steward.clock import FakeClock
from telemetry.daytables import partition_day, partition_name
from telemetry.embedded import EmbeddedStore
from telemetry.fields import FIELD_TYPES, FIELDS
from telemetry.metrics import TelemetryCollector
from telemetry.query import QueryError
from tests.telemetry.helpers import FULL, MINIMAL, T0, elevator_series, reading

DAY = 86400.0
CAR = DeviceRef("maple", Kind.ELEVATOR, "car-1")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[EmbeddedStore]:
    s = EmbeddedStore(
        tmp_path / "telemetry.db",
        clock=clock,
        building_of=lambda ref: "b1",
        flush_interval_s=0.05,
        batch_size=500,
    )
    s.start()
    try:
        yield s
    finally:
        s.stop()


def put(store: EmbeddedStore, readings: list[Reading]) -> None:
    for r in readings:
        store.add(r)
    assert store.flush(20)


def pragma(path: Path, name: str) -> int:
    with closing(sqlite3.connect(path)) as db:
        return int(db.execute(f"PRAGMA {name}").fetchall()[0][0])


def as_stored(value: Any) -> Any:
    return ",".join(value) if isinstance(value, list) else value


@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize("payload", ["full", "minimal"])
def test_every_field_comes_back_typed(store: EmbeddedStore, kind: Kind, payload: str) -> None:
    fields = (FULL if payload == "full" else MINIMAL)[kind]
    ref = DeviceRef("maple", kind, f"{kind.value}-1")
    sent = reading(ref, T0 + 0.123, fields)
    put(store, [sent])
    got = store.readings(site="maple", device=ref.device, start=T0, end=T0 + 1)
    assert got.kind == kind.value
    dumped = sent.telemetry.model_dump(mode="json", exclude={"ts"})  # defaults filled in
    present = {k: as_stored(v) for k, v in dumped.items() if v is not None and v != []}
    assert {name: [(p.t, p.value) for p in pts] for name, pts in got.fields.items() if pts} == {
        name: [(T0 + 0.123, value)] for name, value in present.items()
    }
    python_types = {"int": int, "float": float, "bool": bool, "str": str}
    for name, points in got.fields.items():  # booleans come back as booleans, not 0/1
        for point in points:
            assert type(point.value) is python_types[FIELD_TYPES[kind][name].value]


def test_raw_window_fields_and_limit(store: EmbeddedStore) -> None:
    put(store, elevator_series(CAR, 100))
    got = store.readings(
        site="maple", device="car-1", start=T0 + 10, end=T0 + 19, fields=["floor", "moving"]
    )
    assert list(got.fields) == ["floor", "moving"]
    assert [(p.t, p.value) for p in got.fields["floor"]] == [
        (T0 + i, i % 20) for i in range(10, 20)
    ]
    assert [p.value for p in got.fields["moving"]] == [bool(i % 2) for i in range(10, 20)]
    assert not got.truncated
    limited = store.readings(site="maple", device="car-1", start=T0, end=T0 + 99, limit=30)
    assert limited.truncated
    assert len(limited.fields["floor"]) == 30
    exact = store.readings(site="maple", device="car-1", start=T0, end=T0 + 29, limit=30)
    assert not exact.truncated


def test_downsampled_mean_min_max_count_and_last_string(store: EmbeddedStore) -> None:
    readings = elevator_series(CAR, 600)  # 10 minutes, 1 Hz
    readings[125] = reading(CAR, T0 + 125, door="open", floor=3, seq=125)
    put(store, readings)
    got = store.readings(
        site="maple",
        device="car-1",
        start=T0,
        end=T0 + 599,
        fields=["floor", "moving", "door"],
        step_s=60,
    )
    floors = [r.telemetry.floor for r in readings]  # type: ignore[union-attr]
    assert len(got.fields["floor"]) == 10
    for n, point in enumerate(got.fields["floor"]):
        bucket = floors[60 * n : 60 * n + 60]
        assert point.t == T0 + 60 * n
        assert point.value == pytest.approx(statistics.fmean(bucket))
        assert (point.min, point.max, point.count) == (min(bucket), max(bucket), 60)
    assert all(p.value == pytest.approx(0.5) for p in got.fields["moving"])
    # strings: the last value in each bucket
    assert [p.value for p in got.fields["door"]] == ["closed"] * 10
    only_open = store.readings(
        site="maple", device="car-1", start=T0 + 120, end=T0 + 125, fields=["door"], step_s=60
    )
    assert [p.value for p in only_open.fields["door"]] == ["open"]


def test_a_bucket_straddling_midnight_merges_two_day_tables(store: EmbeddedStore) -> None:
    midnight = T0 + DAY
    put(store, elevator_series(CAR, 120, start=midnight - 60))
    assert len(store.partitions()) == 2
    got = store.readings(
        site="maple",
        device="car-1",
        start=midnight - 3600,
        end=midnight + 3600,
        fields=["seq"],
        step_s=3600 * 2,  # one bucket, aligned to the epoch: [midnight - 0h, ...)
    )
    points = got.fields["seq"]
    assert sum(p.count or 0 for p in points) == 120
    assert min(p.min or 0 for p in points) == 0
    assert max(p.max or 0 for p in points) == 119


def test_unknown_device_and_unknown_field(store: EmbeddedStore) -> None:
    put(store, elevator_series(CAR, 3))
    nothing = store.readings(site="maple", device="nobody", start=T0, end=T0 + 10)
    assert (nothing.kind, nothing.fields) == (None, {})
    with pytest.raises(QueryError, match="elevator has no field pressure_mpa"):
        store.readings(site="maple", device="car-1", start=T0, end=T0 + 10, fields=["pressure_mpa"])


def test_retention_drops_whole_days_and_compacts(tmp_path: Path, clock: FakeClock) -> None:
    store = EmbeddedStore(tmp_path / "t.db", clock=clock)  # no thread: retention when told
    for day in range(40):  # 40 days, 200 readings a day
        clock.set(T0 + day * DAY + 200 * 60)
        store.insert(elevator_series(CAR, 200, start=T0 + day * DAY, every=60))
    assert len(store.partitions()) == 40
    pages_before = pragma(store.path, "page_count")

    clock.set(T0 + 40 * DAY)
    report = store.enforce_retention()
    # kept: every day with a reading younger than 30 days (days 10..39); days 0..9 dropped whole
    assert report.dropped == [partition_name(Kind.ELEVATOR, int(T0 // DAY) + d) for d in range(10)]
    assert report.freed_pages > 0
    assert pragma(store.path, "freelist_count") == 0
    assert pragma(store.path, "page_count") < pages_before
    gone = store.readings(site="maple", device="car-1", start=T0, end=T0 + 10 * DAY - 1)
    assert gone.fields["seq"] == []
    kept = store.readings(site="maple", device="car-1", start=T0 + 10 * DAY, end=T0 + 40 * DAY)
    assert len(kept.fields["seq"]) == 30 * 200
    store.stop()


def test_readings_older_than_the_retention_are_not_kept(
    store: EmbeddedStore, clock: FakeClock
) -> None:
    clock.set(T0 + 45 * DAY)
    put(store, [*elevator_series(CAR, 5, start=T0), *elevator_series(CAR, 5, start=T0 + 44 * DAY)])
    stats = store.stats
    assert (stats.received, stats.written, stats.expired) == (10, 5, 5)
    assert store.partitions() == [partition_name(Kind.ELEVATOR, int((T0 + 44 * DAY) // DAY))]


def test_the_writer_thread_applies_retention_as_the_clock_moves(
    tmp_path: Path, clock: FakeClock
) -> None:
    store = EmbeddedStore(
        tmp_path / "t.db", clock=clock, flush_interval_s=0.05, retention_s=2 * DAY
    )
    store.start()
    try:
        put(store, elevator_series(CAR, 10))
        clock.advance(4 * DAY)
        put(store, elevator_series(CAR, 10, start=clock.now()))  # the next pass sees the new time
        assert len(store.partitions()) == 1
    finally:
        store.stop()


def test_survives_a_restart_and_adds_new_contract_fields(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "t.db"
    first = EmbeddedStore(path, clock=clock, flush_interval_s=0.05)
    first.start()
    put(first, elevator_series(CAR, 10))
    first.stop()
    # a day table from an older version, without the battery column
    db = sqlite3.connect(path)
    old = partition_name(Kind.WATER_PRESSURE, int(T0 // DAY))
    db.execute(
        f'CREATE TABLE "{old}" (device_id INTEGER NOT NULL, ts INTEGER NOT NULL, seq INTEGER)'
    )
    db.commit()
    db.close()

    second = EmbeddedStore(path, clock=clock, flush_interval_s=0.05)
    second.start()
    try:
        put(second, elevator_series(CAR, 10, start=T0 + 10))
        put(second, [reading(DeviceRef("maple", Kind.WATER_PRESSURE, "w-1"), T0 + 5)])
        got = second.readings(site="maple", device="car-1", start=T0, end=T0 + 100)
        assert [p.value for p in got.fields["seq"]] == list(range(10)) * 2
        water = second.readings(site="maple", device="w-1", start=T0, end=T0 + 100)
        assert water.fields["battery_pct"][0].value == FULL[Kind.WATER_PRESSURE]["battery_pct"]
    finally:
        second.stop()
    columns = {r[1] for r in sqlite3.connect(path).execute(f'PRAGMA table_info("{old}")')}
    assert {spec.name for spec in FIELDS[Kind.WATER_PRESSURE]} <= columns


def test_building_is_kept_per_device(tmp_path: Path, clock: FakeClock) -> None:
    buildings = {"car-1": "b1"}
    store = EmbeddedStore(
        tmp_path / "t.db", clock=clock, building_of=lambda ref: buildings.get(ref.device)
    )
    store.insert(elevator_series(CAR, 2))
    store.insert(elevator_series(DeviceRef("maple", Kind.ELEVATOR, "car-x"), 2))
    buildings["car-1"] = "b2"  # moved in the site file
    store.insert(elevator_series(CAR, 2, start=T0 + 10))
    store.stop()
    rows = sqlite3.connect(store.path).execute("SELECT device, building FROM devices").fetchall()
    assert sorted(rows, key=str) == sorted([("car-1", "b2"), ("car-x", None)], key=str)


def test_add_never_waits_and_overflow_is_loud(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = EmbeddedStore(tmp_path / "t.db", clock=clock, buffer_readings=5000, batch_size=500)
    with caplog.at_level(logging.ERROR, logger="steward.telemetry"):
        for r in elevator_series(CAR, 6000):  # the writer is not even running
            store.add(r)
    assert (store.stats.received, store.stats.dropped, store.stats.buffered) == (6000, 1000, 5000)
    assert any("DROPPING TELEMETRY" in m for m in caplog.messages)
    store.start()
    try:
        assert store.flush(20)
        stats = store.stats
        assert stats.received == stats.written + stats.buffered + stats.dropped == 6000
    finally:
        store.stop()


def test_partition_names_round_trip() -> None:
    day = int(T0 // DAY)
    assert partition_name(Kind.WATER_PRESSURE, day) == "water_pressure_20260101"
    assert partition_day("water_pressure_20260101") == (Kind.WATER_PRESSURE, day)
    assert partition_day("devices") is None
    assert partition_day("elevator_2026010") is None


def test_prometheus_metrics(store: EmbeddedStore, clock: FakeClock) -> None:
    clock.set(T0 + 40 * DAY)
    put(store, [*elevator_series(CAR, 3, start=T0), *elevator_series(CAR, 4, start=T0 + 39 * DAY)])
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TelemetryCollector(store))
    text = generate_latest(registry).decode()
    assert 'steward_telemetry_readings_total{outcome="written"} 4.0' in text
    assert 'steward_telemetry_readings_total{outcome="expired"} 3.0' in text
    assert 'steward_telemetry_readings_total{outcome="dropped"} 0.0' in text
    assert "steward_telemetry_buffered 0.0" in text
    assert "steward_telemetry_healthy 1.0" in text
