"""The Flux query text and the parsing of its tables (the Flux path itself needs a real
InfluxDB 2, as in the compose stack, which has not been run on our build machines), and
``make_sink``'s choice from the settings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from influxdb_client.client.flux_table import FluxRecord
from pydantic import SecretStr

from gateway.topics import Kind
from steward.clock import FakeClock
from steward.settings import Settings
from telemetry import EmbeddedStore, InfluxSink, TelemetryConfigError, make_sink
from telemetry.factory import data_dir, spool_dir, store_path
from telemetry.flux import flux_duration, flux_query, flux_string, series_from_records
from telemetry.query import QueryError, check_window, parse_step, resolve_fields
from tests.telemetry.helpers import T0


def test_raw_flux() -> None:
    text = flux_query(
        bucket="tele",
        site="maple",
        device="car-1",
        start=T0,
        end=T0 + 60,
        fields=["floor", "door"],
        step_s=None,
        limit=500,
    )
    assert text == (
        'from(bucket: "tele")\n'
        "  |> range(start: 2026-01-01T00:00:00Z, stop: 2026-01-01T00:01:00.001000Z)\n"
        '  |> filter(fn: (r) => r.site == "maple" and r.device == "car-1")\n'
        '  |> filter(fn: (r) => r._field == "floor" or r._field == "door")\n'
        "  |> limit(n: 500)"
    )


def test_downsampled_flux_means_numbers_and_keeps_the_last_string() -> None:
    text = flux_query(
        bucket="tele",
        site="maple",
        device="car-1",
        start=T0,
        end=T0 + 3600,
        fields=None,
        step_s=60,
        limit=500,
    )
    assert text.startswith('data = from(bucket: "tele")')
    assert "r._field ==" not in text  # every field
    assert (
        "  |> toFloat()\n"
        '  |> aggregateWindow(every: 60000ms, createEmpty: false, timeSrc: "_start", fn: mean)'
    ) in text
    assert 'timeSrc: "_start", fn: last)' in text
    assert '"direction", "door", "fault_codes", "guard_id", "mode", "tag_id"' in text
    assert text.endswith("union(tables: [numbers, strings])")


def test_flux_strings_are_escaped() -> None:
    assert flux_string('a"b\\c') == '"a\\"b\\\\c"'
    assert flux_duration(0.0001) == "1ms"


def test_records_become_series() -> None:
    def record(field: str, seconds: float, value: object) -> FluxRecord:
        when = datetime.fromtimestamp(T0 + seconds, tz=UTC)
        return FluxRecord(
            0, {"_field": field, "_time": when, "_value": value, "_measurement": "elevator"}
        )

    records = [record("floor", 2, 4), record("floor", 1, 3), record("door", 1, "open")]
    series = series_from_records(
        records, site="s", device="d", start=T0, end=T0 + 9, step_s=None, limit=2
    )
    assert series.kind == "elevator"
    assert [(p.t, p.value) for p in series.fields["floor"]] == [(T0 + 1, 3), (T0 + 2, 4)]
    assert [(p.t, p.value) for p in series.fields["door"]] == [(T0 + 1, "open")]
    assert series.truncated  # floor reached the limit


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("60", 60),
        ("2.5", 2.5),
        ("500ms", 0.5),
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("1d", 86400),
    ],
)
def test_steps(text: str, seconds: float) -> None:
    assert parse_step(text) == seconds


@pytest.mark.parametrize("text", ["", "1w", "-5s", "5 m", "0", "0.0001s"])
def test_bad_steps(text: str) -> None:
    with pytest.raises(QueryError):
        parse_step(text)


def test_fields_and_windows() -> None:
    assert resolve_fields(Kind.PATROL, None) == ["guard_id", "tag_id", "seq", "battery_pct"]
    assert resolve_fields(Kind.PATROL, ["seq", "guard_id", "seq"]) == ["seq", "guard_id"]
    with pytest.raises(QueryError, match="patrol has no field floor"):
        resolve_fields(Kind.PATROL, ["floor"])
    with pytest.raises(QueryError, match="after"):
        check_window(T0 + 1, T0, None, 10)
    with pytest.raises(QueryError, match="buckets"):
        check_window(T0, T0 + 3600, 1, 1000)


def test_embedded_store_without_influx(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/steward.db")
    sink = make_sink(settings, clock=FakeClock())
    assert isinstance(sink, EmbeddedStore)
    assert sink.path == tmp_path / "telemetry.db"
    assert sink.retention_s == 30 * 86400
    sink.stop()


def test_store_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STEWARD_TELEMETRY_PATH")  # the suite's per-test default, not ours
    postgres = Settings(database_url="postgresql://u@h/db")
    assert data_dir(postgres) == Path("var")
    assert store_path(postgres) == Path("var/telemetry.db")
    assert spool_dir(postgres) == Path("var/telemetry-spool")
    chosen = Settings(telemetry_path=Path("/data/t.db"), telemetry_spool_dir=Path("/data/spool"))
    assert (store_path(chosen), spool_dir(chosen)) == (Path("/data/t.db"), Path("/data/spool"))
    assert data_dir(Settings(database_url="sqlite://")) == Path("var")


def test_influx_when_configured(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/steward.db",
        influx_url="http://influxdb:8086",
        influx_token=SecretStr("tok"),
        influx_org="steward",
        influx_bucket="telemetry",
        telemetry_spool_max_mb=5,
        telemetry_retention_days=7,
    )
    sink = make_sink(settings, clock=FakeClock())
    assert isinstance(sink, InfluxSink)
    assert sink.target.token == "tok"
    assert sink.spool.directory == tmp_path / "telemetry-spool"
    assert sink.spool.max_bytes == 5 * 1024 * 1024


def test_influx_half_configured_is_an_error() -> None:
    with pytest.raises(TelemetryConfigError, match="STEWARD_INFLUX_TOKEN, STEWARD_INFLUX_BUCKET"):
        make_sink(Settings(influx_url="http://influxdb:8086", influx_org="o"), clock=FakeClock())
