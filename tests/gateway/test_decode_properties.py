"""Property tests: whatever arrives, decode returns a value (never raises) and every message
is either usable or a counted rejection."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.decode import Decoder, Rejection
from gateway.reading import Reading, StatusChange
from steward.site import DeviceRegistry, StewardConfig

NOW = 1_767_225_600.0
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)
segments = st.sampled_from(
    [
        "estate",
        "site-1",
        "elevator",
        "patrol",
        "water_pressure",
        "telemetry",
        "status",
        "+",
        "#",
        "",
        "dev_1",
        "ÜNICODE",
        "a" * 70,
    ]
)
topics = st.lists(segments, min_size=1, max_size=7).map("/".join)
fields: dict[str, Any] = {
    "ts": st.integers(min_value=-(2**70), max_value=2**70) | st.text(max_size=30),
    "floor": st.integers(min_value=-(2**70), max_value=2**70),
    "pressure_mpa": st.floats(allow_nan=True, allow_infinity=True),
    "door": st.sampled_from(["open", "closed", "ajar", 1]),
    "moving": st.booleans() | st.integers(0, 1),
    "guard_id": st.text(max_size=80),
}


def check(decoder: Decoder, topic: str, payload: bytes) -> None:
    before = sum(decoder.rejected.values()) + sum(decoder.accepted.values())
    result = decoder.decode(topic, payload, NOW)
    assert result is None or isinstance(result, Reading | StatusChange | Rejection)
    after = sum(decoder.rejected.values()) + sum(decoder.accepted.values())
    assert after == before + 1  # counted exactly once, one way or the other


@settings(max_examples=400, deadline=None)
@given(topic=topics, payload=st.binary(max_size=300))
def test_random_bytes_on_random_topics(topic: str, payload: bytes) -> None:
    check(Decoder(DeviceRegistry(StewardConfig())), topic, payload)


@settings(max_examples=400, deadline=None)
@given(
    kind=st.sampled_from(["elevator", "water_pressure", "extinguisher", "patrol"]),
    body=st.fixed_dictionaries({}, optional=fields) | json_values,
)
def test_random_json_documents(kind: str, body: Any) -> None:
    payload = json.dumps(body).encode()  # stdlib: huge ints, NaN and Infinity included
    check(Decoder(DeviceRegistry(StewardConfig())), f"estate/s/{kind}/d/telemetry", payload)


@settings(max_examples=50, deadline=None)
@given(depth=st.integers(min_value=1, max_value=5000))
def test_deep_nesting(depth: int) -> None:
    check(
        Decoder(DeviceRegistry(StewardConfig())),
        "estate/s/elevator/d/telemetry",
        b"[" * depth + b"]" * depth,
    )
