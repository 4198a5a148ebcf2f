"""A whole Steward (real broker, real database, API) on a fake clock the test drives."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from steward.clock import Clock
from steward.runtime import Steward
from steward.settings import Settings
from steward.site import StewardConfig
from tests.mqtt_helpers import wait_for

TRAPPED = {
    "floor": 7,
    "moving": False,
    "direction": "none",
    "door": "closed",
    "door_zone": False,
    "occupied": True,
    "alarm": False,
    "mode": "normal",
}


def settings(mqtt_url: str, database_url: str, client_id: str, **extra: Any) -> Settings:
    return Settings(
        mqtt_url=mqtt_url,
        database_url=database_url,
        mqtt_client_id=client_id,
        tick_interval_s=0.02,
        **extra,
    )


@contextmanager
def running(
    s: Settings, clock: Clock, config: StewardConfig | None = None
) -> Iterator[tuple[Steward, TestClient]]:
    steward = Steward(s, clock=clock, config=config)
    with steward, TestClient(create_app(steward)) as client:
        wait_for(lambda: steward.gateway.connected, what="gateway connected")
        yield steward, client


def tickets(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/v1/tickets", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items
