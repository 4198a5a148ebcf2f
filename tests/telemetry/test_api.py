"""``GET /api/v1/devices/{site}/{device}/telemetry`` over a real embedded store, on a
``Steward`` built by the test (no broker needed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.routes.telemetry import telemetry_link
from gateway.topics import DeviceRef, Kind
from steward.clock import FakeClock
from steward.runtime import Steward
from steward.settings import Settings
from steward.site import StewardConfig
from telemetry.embedded import EmbeddedStore
from tests.telemetry.helpers import T0, elevator_series

CAR = DeviceRef("maple", Kind.ELEVATOR, "car-1")
SITE = {
    "sites": [
        {
            "id": "maple",
            "buildings": [
                {
                    "id": "b1",
                    "devices": [
                        {"id": "car-1", "kind": "elevator"},
                        {"id": "quiet", "kind": "water_pressure"},
                    ],
                }
            ],
        }
    ]
}


def attach(steward: Steward, sink: Any) -> None:
    """Where the runtime keeps its sink (``steward.telemetry``); replaces one it made."""
    previous = getattr(steward, "telemetry", None)
    if previous is not None and previous is not sink:
        previous.stop()
    steward.__dict__["telemetry"] = sink  # typed or not, whether the runtime has one yet


def build(tmp_path: Path, clock: FakeClock, **settings: Any) -> Steward:
    return Steward(
        Settings(
            database_url=f"sqlite:///{tmp_path}/steward.db",
            mqtt_url="mqtt://127.0.0.1:1",
            **settings,
        ),
        clock=clock,
        config=StewardConfig.model_validate(SITE),
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0 + 600)


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[EmbeddedStore]:
    s = EmbeddedStore(tmp_path / "api-telemetry.db", clock=clock, flush_interval_s=0.05)
    s.start()
    for r in elevator_series(CAR, 600):  # T0 .. T0+599, one a second
        s.add(r)
    assert s.flush(20)
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def client(tmp_path: Path, clock: FakeClock, store: EmbeddedStore) -> Iterator[TestClient]:
    steward = build(tmp_path, clock)
    attach(steward, store)
    try:
        with TestClient(create_app(steward)) as c:
            yield c
    finally:
        steward.stop()


URL = "/api/v1/devices/maple/car-1/telemetry"


def test_raw_readings_of_chosen_fields(client: TestClient) -> None:
    response = client.get(
        URL,
        params={
            "from": "2026-01-01T00:00:10Z",
            "to": "2026-01-01T00:00:12Z",
            "field": ["floor", "moving"],
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "site": "maple",
        "device": "car-1",
        "kind": "elevator",
        "from": "2026-01-01T00:00:10Z",
        "to": "2026-01-01T00:00:12Z",
        "step_s": None,
        "source": "embedded",
        "truncated": False,
        "fields": {
            "floor": [
                {
                    "t": f"2026-01-01T00:00:{s}Z",
                    "value": s % 20,
                    "min": None,
                    "max": None,
                    "count": None,
                }
                for s in (10, 11, 12)
            ],
            "moving": [
                {
                    "t": f"2026-01-01T00:00:{s}Z",
                    "value": bool(s % 2),
                    "min": None,
                    "max": None,
                    "count": None,
                }
                for s in (10, 11, 12)
            ],
        },
    }


def test_default_window_is_the_last_hour_by_the_clock(client: TestClient) -> None:
    body = client.get(URL, params={"field": "seq"}).json()
    assert (body["from"], body["to"]) == ("2025-12-31T23:10:00Z", "2026-01-01T00:10:00Z")
    assert len(body["fields"]["seq"]) == 600


def test_downsampled(client: TestClient) -> None:
    body = client.get(
        URL, params={"from": T0, "to": T0 + 599, "step": "5m", "field": ["floor", "door"]}
    ).json()
    assert body["step_s"] == 300
    floor = body["fields"]["floor"]
    assert [p["t"] for p in floor] == ["2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"]
    assert [(p["min"], p["max"], p["count"]) for p in floor] == [(0, 19, 300), (0, 19, 300)]
    assert floor[0]["value"] == pytest.approx(9.5)
    assert [p["value"] for p in body["fields"]["door"]] == ["closed", "closed"]


def test_limit_truncates(client: TestClient) -> None:
    body = client.get(URL, params={"from": T0, "to": T0 + 599, "limit": 10}).json()
    assert body["truncated"] is True
    assert len(body["fields"]["floor"]) == 10


def test_registered_device_without_readings_is_empty_not_missing(client: TestClient) -> None:
    body = client.get("/api/v1/devices/maple/quiet/telemetry").json()
    assert (body["kind"], body["fields"]) == ("water_pressure", {})


@pytest.mark.parametrize(
    ("url", "params", "status", "message"),
    [
        ("/api/v1/devices/maple/ghost/telemetry", {}, 404, "no device maple/ghost"),
        (URL, {"field": "pressure_mpa"}, 400, "elevator has no field pressure_mpa"),
        (URL, {"from": T0 + 10, "to": T0}, 400, "'from' is after 'to'"),
        (URL, {"step": "fortnight"}, 400, "step 'fortnight'"),
        (URL, {"from": T0, "to": T0 + 86400, "step": "1s"}, 400, "at most 10000"),
        (URL, {"from": "2026-01-01T00:00:00"}, 400, "needs a UTC offset"),
        (URL, {"limit": 0}, 422, "limit"),
        ("/api/v1/devices/Bad Site/car-1/telemetry", {}, 422, "site"),
    ],
)
def test_errors_have_the_one_shape(
    client: TestClient, url: str, params: dict[str, Any], status: int, message: str
) -> None:
    response = client.get(url, params=params)
    assert response.status_code == status
    assert set(response.json()) == {"error"}
    assert message in response.json()["error"]["message"]


def test_without_a_sink_it_says_so(tmp_path: Path, clock: FakeClock) -> None:
    steward = build(tmp_path, clock)
    own = getattr(steward, "telemetry", None)
    steward.__dict__["telemetry"] = None
    try:
        with TestClient(create_app(steward)) as client:
            response = client.get(URL)
        assert response.status_code == 503
        assert response.json()["error"]["message"] == "telemetry storage is not running"
    finally:
        steward.__dict__["telemetry"] = own
        steward.stop()


def test_needs_the_api_key_when_one_is_set(
    tmp_path: Path, clock: FakeClock, store: EmbeddedStore
) -> None:
    steward = build(tmp_path, clock, admin_api_key=SecretStr("k"))
    attach(steward, store)
    try:
        with TestClient(create_app(steward)) as client:
            assert client.get(URL).status_code == 401
            ok = client.get(URL, headers={"Authorization": "Bearer k"}, params={"field": "seq"})
            assert ok.status_code == 200
    finally:
        steward.stop()


def test_link_for_a_ticket_evidence_window(client: TestClient) -> None:
    link = telemetry_link("maple", "car-1", T0 + 30, T0 + 90)
    assert link == (
        "/api/v1/devices/maple/car-1/telemetry?from=2026-01-01T00%3A00%3A30Z&to=2026-01-01T00%3A01%3A30Z"
    )
    assert len(client.get(link).json()["fields"]["floor"]) == 61


def test_a_store_failure_is_503_not_500(
    tmp_path: Path, clock: FakeClock, store: EmbeddedStore
) -> None:
    steward = build(tmp_path, clock)
    attach(steward, store)
    store.path.rename(store.path.with_suffix(".moved"))  # the file is gone from under it
    try:
        with TestClient(create_app(steward)) as client:
            response = client.get(URL)
        assert response.status_code == 503
        assert "telemetry storage did not answer" in response.json()["error"]["message"]
    finally:
        steward.stop()
