"""The API-under-data benchmark's smoke run: a few thousand tickets, every request answered
2xx on SQLite and on PostgreSQL. Accounting only, never a timing (timings belong to bench/)."""

from __future__ import annotations

import pytest

from bench.api_load import run_api_load, smoke_params
from tests.services import create_postgres_database, drop_postgres_database, postgres_admin_url

pytestmark = pytest.mark.timeout(90)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_smoke_run_answers_every_request(backend: str) -> None:
    params = smoke_params()
    params.backends = (backend,)
    params.requests, params.report_requests, params.serial_requests = 16, 4, 2
    if backend == "postgresql":
        drop_postgres_database(create_postgres_database())  # skips without a server
        params.postgres_url = postgres_admin_url()

    result = run_api_load(params)

    assert result["data"]["tickets"] == params.tickets
    (measured,) = result["backends"]
    assert measured["backend"] == backend
    assert len(measured["endpoints"]) == 7
    for name, endpoint in measured["endpoints"].items():
        for run in (endpoint["concurrent"], endpoint["serial"]):
            assert run["ok"], (name, run["statuses"], run["errors"])
            assert set(run["statuses"]) == {"200"}
        assert endpoint["concurrent"]["requests"] == (
            params.report_requests if endpoint["kind"] == "report" else params.requests
        )
    assert measured["plans"]
