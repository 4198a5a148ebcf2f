"""Schemathesis against the live OpenAPI schema (issue 8), in process over ASGI, on SQLite and
PostgreSQL: no 5xx, every response documented (status, content type, body schema, a 405's
``Allow``), schema-valid input accepted and malformed input refused with a 4xx.

One pytest item per operation and database. The app holds a real Steward with tickets,
silences, patrol scans and dead letters on two sites, and a stored key; the path parameters'
``examples`` (``ST-000001``, silence 1, ``oak/car-1``...) name those objects, so reads and
actions reach real rows, not only 404s. Reproducible: fixed seed, derandomized, no example
database; small budget (a few examples per operation past the coverage phase's own cases).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from steward.clock import FakeClock
from tests.api.test_access_control import BOOTSTRAP, build, populate
from tests.services import create_postgres_database, drop_postgres_database
from tickets.api_keys import ApiKeyStore, Role

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 8,
        # As auth, not a plain header: the ignored_auth check then tries without it.
        "auth": {"openapi": {"api_key": {"bearer": BOOTSTRAP}}},
        "generation": {
            "mode": "all",  # positive and negative
            "max-examples": 5,
            "deterministic": True,
            "database": "none",
        },
        "checks": {
            # 400 is this API's documented answer to a schema-valid request that breaks a
            # rule no schema can say: a month that has not started, a cursor the API never
            # issued, an admin key limited to a site, a silence already ended, a window of
            # more buckets than allowed. 422 (the schema's own rules) stays refused here.
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", 400, 401, 403, 404, 409, 429, "5xx"]
            }
        },
        "operations": [
            # 503 is what /readyz is for: this Steward has no broker (the status and body are
            # still checked against the schema). tests/api/test_api.py covers the 503.
            {"include-path": "/readyz", "checks": {"not_a_server_error": {"enabled": False}}},
            # The SSE stream never ends: each request is cut after 0.3 s, keeping what came
            # (status, content type, the first comment). tests/delivery/test_stream.py reads
            # its events over a real server.
            {"include-path": "/api/v1/alerts/stream", "request-timeout": 0.3},
        ],
    }
)


class LiveApp:
    """The ASGI app the schema is bound to: it passes each request to the app of the database
    under test. Schemathesis runs an app's lifespan once per process and keeps it until exit,
    so the real apps, one per database, are entered by ``live_app`` instead."""

    def __init__(self) -> None:
        self.app: FastAPI | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        assert self.app is not None, "no app under test: the live_app fixture is not active"
        await self.app(scope, receive, send)


LIVE = LiveApp()
# The schema of the app itself, read without starting it (the same routes and models as the
# app under test; create_app() with no Steward starts nothing until its lifespan runs).
schema = schemathesis.openapi.from_dict(create_app().openapi(), config=CONFIG)
schema.app = LIVE


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def live_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FastAPI]:
    """One Steward per database for every operation (a Steward per item would triple the run)."""
    tmp = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    sqlite = request.param == "sqlite"
    url = f"sqlite:///{tmp / 'steward.db'}" if sqlite else create_postgres_database()
    clock = FakeClock()
    steward = build(
        url, clock, tmp, admin_api_key=SecretStr(BOOTSTRAP), telemetry_path=tmp / "telemetry.db"
    )
    try:
        populate(steward, clock)
        ApiKeyStore(steward.sessions, steward.clock).create(
            name="help desk", role=Role.INTEGRATION, site="oak", created_by="test"
        )
        app = create_app(steward)
        with TestClient(app):  # its real lifespan
            LIVE.app = app
            yield app
    finally:
        LIVE.app = None
        steward.stop()
        if not sqlite:
            drop_postgres_database(url)


@schema.parametrize()
def test_every_operation_answers_as_its_schema_says(case: Any, live_app: FastAPI) -> None:
    case.call_and_validate()
