"""The decode/validate path: every kind accepted, every bad input rejected with its reason."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.decode import Decoder, Reason, Rejection
from gateway.reading import Reading, StatusChange
from gateway.topics import Kind
from steward.site import DeviceRegistry, StewardConfig, example_site_path, load_site_config

NOW = 1_767_225_600.0
VALID: dict[str, dict[str, Any]] = {
    "elevator": {
        "floor": 3,
        "moving": False,
        "direction": "none",
        "door": "closed",
        "door_zone": True,
        "occupied": False,
        "alarm": False,
        "mode": "normal",
    },
    "water_pressure": {"pressure_mpa": 0.32, "current_ma": 7.2},
    "extinguisher": {"pressure_mpa": 1.2, "on_bracket": True, "tilt_deg": 2.0},
    "patrol": {"guard_id": "g-07", "tag_id": "tag-ramp"},
}


def decoder(**kwargs: object) -> Decoder:
    return Decoder(DeviceRegistry(StewardConfig()), **kwargs)  # type: ignore[arg-type]


def payload(kind: str, **extra: object) -> bytes:
    return orjson.dumps({"ts": int(NOW * 1000), **VALID[kind], **extra})


@pytest.mark.parametrize("kind", list(VALID))
def test_each_kind_becomes_a_reading(kind: str) -> None:
    result = decoder().decode(f"estate/site-a/{kind}/dev-1/telemetry", payload(kind), NOW)
    assert isinstance(result, Reading)
    assert result.ref.kind is Kind(kind)
    assert result.observed_at == NOW
    assert result.registered is False


@pytest.mark.parametrize(
    ("topic", "body", "reason"),
    [
        ("estate/site-a/elevator/dev-1/telemetry", b"{not json", Reason.NOT_JSON),
        ("estate/site-a/elevator/dev-1/telemetry", b"\xff\xfe\x00", Reason.NOT_JSON),
        ("estate/site-a/elevator/dev-1/telemetry", b"[1, 2]", Reason.SCHEMA),
        ("estate/site-a/elevator/dev-1/telemetry", b'{"ts": 1}', Reason.SCHEMA),
        ("estate/site-a/toaster/dev-1/telemetry", b"{}", Reason.UNKNOWN_KIND),
        ("estate/Site A/elevator/dev-1/telemetry", b"{}", Reason.BAD_ID),
        ("estate/site-a/elevator/-dev/telemetry", b"{}", Reason.BAD_ID),
        ("estate/site-a/elevator/dev-1", b"{}", Reason.BAD_TOPIC),
        ("estate/site-a/elevator/dev-1/telemetry/extra", b"{}", Reason.BAD_TOPIC),
        ("estate/site-a/elevator/dev-1/status", b"maybe", Reason.BAD_STATUS),
    ],
)
def test_bad_input_is_rejected_with_its_reason(topic: str, body: bytes, reason: Reason) -> None:
    d = decoder()
    result = d.decode(topic, body, NOW)
    assert isinstance(result, Rejection)
    assert result.reason is reason
    assert result.detail
    assert d.rejected[reason] == 1


def test_schema_errors_say_which_field_is_wrong() -> None:
    body = orjson.dumps({"ts": int(NOW * 1000), **VALID["elevator"], "door": "ajar"})
    result = decoder().decode("estate/s/elevator/d/telemetry", body, NOW)
    assert isinstance(result, Rejection)
    assert "door" in result.detail


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "1e999"])
def test_non_finite_numbers_are_schema_errors(bad: str) -> None:
    body = b'{"ts": 1767225600000, "pressure_mpa": ' + bad.encode() + b"}"
    result = decoder().decode("estate/s/water_pressure/d/telemetry", body, NOW)
    assert isinstance(result, Rejection)
    assert result.reason in {Reason.SCHEMA, Reason.NOT_JSON}


def test_oversize_payload_is_rejected_before_parsing() -> None:
    result = decoder(max_payload_bytes=1024).decode(
        "estate/s/patrol/d/telemetry", b"{" + b" " * 2000 + b"}", NOW
    )
    assert isinstance(result, Rejection)
    assert result.reason is Reason.TOO_LARGE


def test_repeated_or_older_seq_is_a_duplicate_until_the_device_reboots() -> None:
    d = decoder()
    topic = "estate/s/patrol/d/telemetry"
    assert isinstance(d.decode(topic, payload("patrol", seq=5), NOW), Reading)
    dup = d.decode(topic, payload("patrol", seq=5), NOW)
    assert isinstance(dup, Rejection)
    assert dup.reason is Reason.DUPLICATE_SEQ
    older = d.decode(topic, payload("patrol", seq=3), NOW)
    assert isinstance(older, Rejection)
    assert isinstance(d.decode("estate/s/patrol/d/status", b"online", NOW), StatusChange)
    assert isinstance(d.decode(topic, payload("patrol", seq=0), NOW), Reading)


def test_implausible_device_time_falls_back_to_receive_time_and_is_flagged() -> None:
    d = decoder()
    future = orjson.dumps({**VALID["patrol"], "ts": int((NOW + 86400) * 1000)})
    result = d.decode("estate/s/patrol/d/telemetry", future, NOW)
    assert isinstance(result, Reading)
    assert result.observed_at == NOW
    assert "clock_skew" in result.flags
    rfc = orjson.dumps({**VALID["patrol"], "ts": "2026-01-01T07:59:30+08:00"})
    ok = d.decode("estate/s/patrol/d2/telemetry", rfc, NOW)
    assert isinstance(ok, Reading)
    assert ok.observed_at == NOW - 30
    assert not ok.flags


def test_naive_timestamp_is_rejected() -> None:
    body = orjson.dumps({**VALID["patrol"], "ts": "2026-01-01T00:00:00"})
    result = decoder().decode("estate/s/patrol/d/telemetry", body, NOW)
    assert isinstance(result, Rejection)
    assert "offset" in result.detail


def test_strict_mode_rejects_unregistered_devices_and_accepts_registered_ones() -> None:
    registry = DeviceRegistry(load_site_config(example_site_path()))
    d = Decoder(registry, strict_devices=True)
    known = d.decode("estate/maple-court/elevator/b1-elv-a/telemetry", payload("elevator"), NOW)
    assert isinstance(known, Reading)
    assert known.registered
    unknown = d.decode("estate/maple-court/elevator/zz-1/telemetry", payload("elevator"), NOW)
    assert isinstance(unknown, Rejection)
    assert unknown.reason is Reason.UNREGISTERED


def test_status_topic_online_offline() -> None:
    d = decoder()
    off = d.decode("estate/s/elevator/d/status", b"offline", NOW)
    assert isinstance(off, StatusChange)
    assert off.online is False


def test_empty_retained_status_is_ignored_not_rejected() -> None:
    d = decoder()
    assert d.decode("estate/s/elevator/d/status", b"", NOW) is None
    assert not d.rejected


def test_a_flood_is_limited_but_a_backlog_flush_is_not() -> None:
    d = decoder(device_rate_per_s=1.0, device_burst=10)
    topic = "estate/s/patrol/flood/telemetry"
    results = [d.decode(topic, payload("patrol"), NOW) for _ in range(50)]  # same ts, at once
    assert sum(isinstance(r, Rejection) and r.reason is Reason.RATE_LIMITED for r in results) == 40
    # a device back from an hour offline sends its 300 buffered readings at once:
    # their timestamps are a minute apart in its own time, well under the rate
    backlog = [
        orjson.dumps({**VALID["patrol"], "ts": int((NOW - 3600 + 12 * i) * 1000)})
        for i in range(300)
    ]
    flushed = [d.decode("estate/s/patrol/back/telemetry", b, NOW) for b in backlog]
    assert all(isinstance(r, Reading) for r in flushed)


def test_readings_with_the_same_fields_share_one_fields_set() -> None:
    """Memory: every device's latest reading stays alive, so models carrying the same fields
    share pydantic's set of fields given; what a model says it was given stays exact."""
    d = decoder()
    topics = [f"estate/site-a/elevator/dev-{n}/telemetry" for n in range(3)]
    first, second = (d.decode(t, payload("elevator", seq=1), NOW) for t in topics[:2])
    with_speed = d.decode(topics[2], payload("elevator", seq=1, speed_mps=1.0), NOW)
    again = d.decode(topics[0], payload("elevator", seq=2), NOW + 1)
    assert isinstance(first, Reading) and isinstance(second, Reading)
    assert isinstance(with_speed, Reading) and isinstance(again, Reading)
    given = {"ts", "seq", *VALID["elevator"]}
    assert first.telemetry.model_fields_set == second.telemetry.model_fields_set == given
    assert first.telemetry.model_fields_set is second.telemetry.model_fields_set
    assert again.telemetry.model_fields_set is first.telemetry.model_fields_set
    assert with_speed.telemetry.model_fields_set == given | {"speed_mps"}
    assert "speed_mps" not in first.telemetry.model_dump(exclude_unset=True)
    assert with_speed.telemetry.model_dump(exclude_unset=True)["speed_mps"] == 1.0


def test_a_registered_device_is_one_ref_for_both_topics_and_the_registry() -> None:
    """Memory: the decoder's topic cache holds the registry's DeviceRef, not a parsed copy."""
    registry = DeviceRegistry(load_site_config(example_site_path()))
    d = Decoder(registry)
    base = "estate/maple-court/elevator/b1-elv-a"
    reading = d.decode(f"{base}/telemetry", payload("elevator"), NOW)
    status = d.decode(f"{base}/status", b"online", NOW)
    stranger = d.decode("estate/maple-court/elevator/zz-1/telemetry", payload("elevator"), NOW)
    assert isinstance(reading, Reading) and isinstance(status, StatusChange)
    assert isinstance(stranger, Reading) and not stranger.registered
    device = registry.lookup(reading.ref)
    assert device is not None
    assert reading.ref is device.ref and status.ref is device.ref
    assert stranger.ref.key == "maple-court/zz-1"
