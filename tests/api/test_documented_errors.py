"""Each route's documented errors are the ones it sends: every error the table below provokes
is documented for its route, with a body of the documented model, and every documented error
is provoked by some request here (a route documents nothing it cannot answer). Schemathesis
(test_schema_fuzz.py) checks the first half on generated requests; this file gives both halves
on requests chosen to reach each error, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, SecretStr

from api.access import ALL_SITES_ONLY, GRANTS, ROUTE_PERMISSIONS, Principal
from api.app import create_app
from api.errors import ERROR_MODELS
from steward.clock import FakeClock
from steward.runtime import Steward
from tests.api.test_access_control import BOOTSTRAP, bearer, build, key, populate
from tickets.api_keys import Role

NOT_UTF8 = b"\xff\xfe{"
COMPLAINT = {
    "site": "oak",
    "category": "facility",
    "priority": "general",
    "title": "Corridor light out",
    "reporter": {"room": "6-602", "name": "Li", "phone": "138", "channel": "phone"},
}
NO_KEY = "no key"


@dataclass
class Call:
    """One request: the route as the schema names it, and what to send."""

    method: str
    route: str
    path: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] | None = None
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    token: str | None = BOOTSTRAP

    def send(self, client: TestClient) -> Any:
        headers = {**self.headers, **bearer(None if self.token == NO_KEY else self.token)}
        if self.content is not None:
            headers["Content-Type"] = "application/json"
        return client.request(
            self.method,
            "/api/v1" + self.route.format_map(self.path),
            params=self.params,
            json=self.json,
            content=self.content,
            headers=headers,
        )


@pytest.fixture
def steward(database_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[Steward]:
    s = build(
        database_url,
        clock,
        tmp_path,
        admin_api_key=SecretStr(BOOTSTRAP),
        telemetry_path=tmp_path / "telemetry.db",
    )
    try:
        yield s
    finally:
        s.stop()


def _unholdable(route: tuple[str, str]) -> bool:
    """No key can lack the route's permission: every role holds it, scoped or not."""
    needed = ROUTE_PERMISSIONS[route]
    return needed not in ALL_SITES_ONLY and all(needed in grants for grants in GRANTS.values())


def _lacking(steward: Steward, route: tuple[str, str]) -> str | None:
    """A key whose role (or site scope) lacks the route's permission, if any can."""
    needed = ROUTE_PERMISSIONS[route]
    for role in Role:
        for site in (None, "oak") if role is not Role.ADMIN else (None,):
            principal = Principal(name="probe", role=role, site=site, key="probe")
            if not principal.can(needed):
                return key(steward, role, site)
    return None


def test_each_route_documents_exactly_the_errors_it_sends(
    steward: Steward, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = populate(steward, clock)
    oak_viewer = key(steward, Role.VIEWER, "oak")
    oak_operator = key(steward, Role.OPERATOR, "oak")
    with TestClient(create_app(steward)) as client:
        spec = client.get("/openapi.json").json()

        def ticket(*actions: str) -> str:
            number = client.post("/api/v1/tickets", json=COMPLAINT, headers=bearer(BOOTSTRAP))
            assert number.status_code == 201, number.text
            for action in actions:
                done = client.post(
                    f"/api/v1/tickets/{number.json()['id']}/{action}",
                    json={"actor": "desk", "note": "n"},
                    headers=bearer(BOOTSTRAP),
                )
                assert done.status_code == 200, done.text
            return str(number.json()["id"])

        cancelled, acknowledged = ticket("cancel"), ticket("acknowledge")
        calls: list[Call] = [
            # tickets
            Call("GET", "/tickets", params={"cursor": "not-one-of-ours"}),
            Call("GET", "/tickets", params={"opened_after": "2026-01-01T00:00:00"}),
            Call("GET", "/tickets", params={"limit": 0}),
            Call("GET", "/tickets/{number}", {"number": "ST-999999"}),
            Call("GET", "/tickets/{number}", {"number": "no_such!"}),
            Call("POST", "/tickets", json={**COMPLAINT, "title": ""}),
            Call("POST", "/tickets", content=NOT_UTF8),
            Call("POST", "/tickets", json=COMPLAINT, headers={"Idempotency-Key": ""}),
            Call("POST", "/tickets", json={**COMPLAINT, "site": "elm"}, token=oak_operator),
            Call("POST", "/tickets", json=COMPLAINT, headers={"Idempotency-Key": "k1"}),
            Call("POST", "/tickets", json=COMPLAINT, headers={"Idempotency-Key": "k1"}),
            Call(
                "POST",
                "/tickets",
                json={**COMPLAINT, "title": "another"},
                headers={"Idempotency-Key": "k1"},
            ),
            Call(
                "POST",
                "/tickets/{number}/progress",
                {"number": acknowledged},
                json={"actor": "desk"},
            ),
            # devices, telemetry, dead letters, patrol, alerts
            Call("GET", "/devices", params={"site": "x" * 64}),
            Call("GET", "/devices/{site}/{device}", {"site": "oak", "device": "nobody"}),
            Call("GET", "/devices/{site}/{device}", {"site": "oak", "device": "-bad-"}),
            Call("GET", "/dead-letters", params={"limit": 0}),
            Call("GET", "/patrol/compliance", params={"site": "x" * 64}),
            Call("GET", "/alerts/stream", params={"after": -1}),
            Call(
                "GET",
                "/devices/{site}/{device}/telemetry",
                {"site": "oak", "device": "car-1"},
                params={"step": "soon"},
            ),
            Call(
                "GET",
                "/devices/{site}/{device}/telemetry",
                {"site": "oak", "device": "nobody"},
            ),
            Call(
                "GET",
                "/devices/{site}/{device}/telemetry",
                {"site": "oak", "device": "car-1"},
                params={"limit": 0},
            ),
            # reports
            Call("GET", "/reports/monthly", params={"site": "oak", "month": "2099-01"}),
            Call(
                "GET",
                "/reports/monthly",
                params={"site": "elm", "month": "2026-01"},
                token=oak_viewer,
            ),
            Call("GET", "/reports/monthly", params={"site": "oak", "month": "2026-13"}),
            # silences
            Call(
                "POST",
                "/silences",
                json={
                    "site": "oak",
                    "rule": "elevator.entrapment",
                    "ends_at": "2030-01-01T00:00:00Z",
                    "reason": "r",
                    "author": "a",
                },
            ),
            Call(
                "POST",
                "/silences",
                json={
                    "site": "elm",
                    "ends_at": "2026-01-01T12:00:00Z",
                    "reason": "r",
                    "author": "a",
                },
                token=oak_operator,
            ),
            Call("POST", "/silences", json={"site": "oak"}),
            Call("POST", "/silences", content=NOT_UTF8),
            Call("GET", "/silences", params={"limit": 0}),
            Call("GET", "/silences/{silence_id}", {"silence_id": 999999}),
            Call("GET", "/silences/{silence_id}", {"silence_id": 0}),
            Call("POST", "/silences/{silence_id}/end", {"silence_id": 999999}, json={"actor": "a"}),
            Call("POST", "/silences/{silence_id}/end", {"silence_id": 0}, json={"actor": "a"}),
            Call(
                "POST",
                "/silences/{silence_id}/end",
                {"silence_id": data["silences"]["oak"]},
                json={"actor": "a"},
            ),
            Call(
                "POST",
                "/silences/{silence_id}/end",
                {"silence_id": data["silences"]["oak"]},
                json={"actor": "a"},
            ),
            Call("POST", "/silences/{silence_id}/end", {"silence_id": 1}, content=NOT_UTF8),
            # deliveries
            Call("GET", "/deliveries", params={"cursor": "999999999999999999"}),
            Call("GET", "/deliveries", params={"limit": 0}),
            *[
                Call(method, route, {"name": name})
                for method, route in (
                    ("GET", "/deliveries/endpoints/{name}"),
                    ("POST", "/deliveries/endpoints/{name}/enable"),
                    ("POST", "/deliveries/endpoints/{name}/replay-failed"),
                )
                for name in ("nowhere", "-bad-")
            ],
            *[
                Call(method, route, {"delivery_id": delivery})
                for method, route in (
                    ("GET", "/deliveries/{delivery_id}"),
                    ("POST", "/deliveries/{delivery_id}/replay"),
                )
                for delivery in (999999, 0)
            ],
            # keys
            Call("POST", "/keys", json={"name": "k", "role": "admin", "site": "oak"}),
            Call("POST", "/keys", json={"name": "k", "role": "boss"}),
            Call("POST", "/keys", content=NOT_UTF8),
            Call("DELETE", "/keys/{key_id}", {"key_id": 999999}),
            Call("DELETE", "/keys/{key_id}", {"key_id": 0}),
        ]
        # Every ticket action: an unknown ticket, a refused one, a bad body, an unreadable one.
        for action in ("acknowledge", "start", "progress", "resolve", "close", "reopen", "cancel"):
            route = f"/tickets/{{number}}/{action}"
            body = {"actor": "desk", "note": "n"}
            calls += [
                Call("POST", route, {"number": "ST-999999"}, json=body),
                Call("POST", route, {"number": cancelled}, json=body),
                Call("POST", route, {"number": cancelled}, json={"note": "no actor"}),
                Call("POST", route, {"number": cancelled}, content=NOT_UTF8),
            ]
        for action, body in (
            ("plan", {"actor": "desk", "note": "order the part"}),
            ("reassign", {"actor": "desk", "to": "wang", "note": "shift change"}),
        ):
            route = f"/tickets/{{number}}/{action}"
            calls += [
                Call("POST", route, {"number": "ST-999999"}, json=body),
                Call("POST", route, {"number": cancelled}, json=body),
                Call("POST", route, {"number": cancelled}, json={**body, "note": " "}),
                Call("POST", route, {"number": cancelled}, content=NOT_UTF8),
            ]
        # Every route: no key (401), and a key that lacks its permission (403) where one can.
        for method, path in ROUTE_PERMISSIONS:
            route = path.removeprefix("/api/v1")
            values = {"number": "ST-1", "site": "oak", "device": "car-1", "silence_id": 1}
            values |= {"delivery_id": 1, "name": "nowhere", "key_id": 1}
            calls.append(Call(method, route, values, token=NO_KEY))
            if (lacking := _lacking(steward, (method, path))) is not None:
                calls.append(Call(method, route, values, token=lacking))

        seen: dict[tuple[str, str], set[int]] = defaultdict(set)
        wrong: list[str] = []
        for call in calls:
            check(spec, call, call.send(client), seen, wrong)

        # The storage failing: 503. A site file that does not load: the reload's 422.
        def broken(**_: Any) -> Any:
            raise TimeoutError("the store did not answer")

        monkeypatch.setattr(steward.telemetry, "readings", broken)
        telemetry = Call(
            "GET", "/devices/{site}/{device}/telemetry", {"site": "oak", "device": "car-1"}
        )
        check(spec, telemetry, telemetry.send(client), seen, wrong)
        assert steward.settings.site_config is not None
        (steward.settings.site_config / "oak.yaml").write_text("sites: [{id: oak, buildings: 7}]")
        reload = Call("POST", "/admin/reload-config")
        check(spec, reload, reload.send(client), seen, wrong)

    assert wrong == []
    unprovoked = []
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            sent = seen[(method.upper(), path.removeprefix("/api/v1"))]
            documented = {int(s) for s in operation["responses"] if s[0] in "45"}
            if _unholdable((method.upper(), path)):
                documented.discard(403)  # the app documents it on every route: see below
            if missing := documented - sent:
                unprovoked.append(
                    f"{method.upper()} {path}: documented, never sent: {sorted(missing)}"
                )
    assert unprovoked == []


def check(
    spec: dict[str, Any],
    call: Call,
    response: Any,
    seen: dict[tuple[str, str], set[int]],
    wrong: list[str],
) -> None:
    """The answer's status is documented for its route, and an error's body is the model the
    route documents for that status."""
    status = response.status_code
    where = f"{call.method} {call.route} {call.path or ''} {call.params or ''}: {status}"
    seen[(call.method, call.route)].add(status)
    operation = spec["paths"]["/api/v1" + call.route][call.method.lower()]
    documented = operation["responses"].get(str(status))
    if documented is None:
        wrong.append(f"{where} undocumented ({sorted(operation['responses'])}): {response.text}")
        return
    if status < 400:
        return
    ref = documented["content"]["application/json"]["schema"]["$ref"]
    models: dict[str, type[BaseModel]] = {m.__name__: m for m in ERROR_MODELS}
    try:
        models[ref.rsplit("/", 1)[1]].model_validate(response.json())
    except ValueError as exc:
        wrong.append(f"{where} body is not its documented {ref}: {exc}")


def test_every_role_may_read_tickets_so_their_403_is_the_access_layer_s() -> None:
    """Why the test above does not provoke a 403 on the ticket reads and the stream: no role
    lacks ``tickets:read`` or ``stream:read``. The app documents 401 and 403 on every
    ``/api/v1`` route (its ``authorize`` runs on each); if a role ever loses one of these, the
    403 becomes provokable and the test above starts checking it."""
    unholdable = sorted(p for p in ROUTE_PERMISSIONS if _unholdable(p))
    assert unholdable == [
        ("GET", "/api/v1/alerts/stream"),
        ("GET", "/api/v1/tickets"),
        ("GET", "/api/v1/tickets/{number}"),
    ]
