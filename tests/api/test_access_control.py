"""Access control: every route of the app against every role (and no key), keys stored as
hashes, revocation, the open demo mode, and site scope across every router. On SQLite and
PostgreSQL; over a real HTTP server where the SSE stream is involved."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import text

from api.access import GRANTS, OPEN_PATHS, ROUTE_PERMISSIONS, Permission
from api.app import create_app
from gateway.decode import Reason, Rejection
from gateway.payloads import PatrolTelemetry
from gateway.reading import Reading
from gateway.topics import DeviceRef, Kind
from steward.clock import FakeClock
from steward.runtime import Steward
from steward.settings import Settings
from tests.api_server import served as served_app
from tickets.api_keys import ApiKeyStore, Role
from tickets.schemas import SilenceIn

BOOTSTRAP = "bootstrap-secret-for-tests"
DOCS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
SITES = """
sites:
  - id: {site}
    buildings:
      - id: b1
        devices:
          - {{id: car-1, kind: elevator, location: "B1 car 1",
              params: {{last_maintenance: 2025-11-01}}}}
          - {{id: gate, kind: patrol, location: "B1 gate", params: {{interval_min: 120}}}}
"""


def build(database_url: str, clock: FakeClock, tmp_path: Path, **extra: Any) -> Steward:
    site_file = tmp_path / "sites"
    site_file.mkdir(exist_ok=True)
    for site in ("oak", "elm"):
        (site_file / f"{site}.yaml").write_text(SITES.format(site=site))
    settings = Settings(
        database_url=database_url, mqtt_url="mqtt://127.0.0.1:1", site_config=site_file, **extra
    )
    return Steward(settings, clock=clock)


@pytest.fixture
def steward(database_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[Steward]:
    s = build(database_url, clock, tmp_path, admin_api_key=SecretStr(BOOTSTRAP))
    try:
        yield s
    finally:
        s.stop()


@contextmanager
def served(steward: Steward) -> Iterator[httpx.Client]:
    """The app on a real uvicorn server: the SSE stream never ends, so a client must be able
    to read its status and hang up, which TestClient cannot do."""
    with served_app(steward) as base_url, httpx.Client(base_url=base_url, timeout=10) as client:
        yield client


def key(steward: Steward, role: Role, site: str | None = None) -> str:
    store = ApiKeyStore(steward.sessions, steward.clock)
    return store.create(name=f"{role.value} {site}", role=role, site=site, created_by="test")[1]


def bearer(token: str | None) -> dict[str, str]:
    return {} if token is None else {"Authorization": f"Bearer {token}"}


def app_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route the app serves, included routers flattened."""
    found = []
    for route in iter_route_contexts(app.routes):
        for method in sorted(route.methods or ()):
            if method != "HEAD" and route.path_format:
                found.append((method, route.path_format))
    return found


def status_of(client: httpx.Client, method: str, path: str, token: str | None) -> httpx.Response:
    """Status and body, without waiting for a stream to end."""
    body: dict[str, Any] | None = {} if method in {"POST", "PUT", "PATCH"} else None
    with client.stream(method, path, json=body, headers=bearer(token)) as response:
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.read()
        return response


def test_role_grants_are_the_documented_ones() -> None:
    """The table in docs/operator-guide.md: changing who may do what is a deliberate act."""
    reads = {
        "tickets:read",
        "alerts:read",
        "stream:read",
        "devices:read",
        "dead-letters:read",
        "telemetry:read",
        "patrol:read",
        "reports:read",
        "silences:read",
    }
    operator_writes = {
        "tickets:create",
        "tickets:acknowledge",
        "tickets:update",
        "tickets:manage",
        "silences:write",
    }
    expected = {
        Role.VIEWER: reads,
        Role.OPERATOR: reads | operator_writes,
        Role.INTEGRATION: {
            "tickets:read",
            "stream:read",
            "tickets:create",
            "tickets:acknowledge",
            "tickets:update",
        },
        Role.ADMIN: {p.value for p in Permission},
    }
    assert {role: {p.value for p in grants} for role, grants in GRANTS.items()} == expected


def test_the_operator_guide_table_is_the_code_s() -> None:
    guide = (Path(__file__).parents[2] / "docs" / "operator-guide.md").read_text()
    rows = [line for line in guide.splitlines() if re.match(r"^\| `[a-z-]+:[a-z]+` \|", line)]
    header = next(line for line in guide.splitlines() if line.startswith("| permission |"))
    roles = [Role(c.strip()) for c in header.strip("|").split("|")[2:]]
    documented: dict[Role, set[str]] = {role: set() for role in roles}
    paths: dict[str, str] = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        permission = cells[0].strip("`")
        paths[permission] = cells[1]
        for role, mark in zip(roles, cells[2:], strict=True):
            if mark == "✓":
                documented[role].add(permission)
    assert documented == {r: {p.value for p in GRANTS[r]} for r in Role}
    for (_method, path), permission in ROUTE_PERMISSIONS.items():
        *_, last_word = (part for part in path.split("/") if part and not part.startswith("{"))
        assert last_word in paths[permission.value], (path, permission.value)


def test_every_route_answers_every_caller_as_the_table_says(steward: Steward) -> None:
    app = create_app(steward)
    routes = app_routes(app)
    api = [(m, p) for m, p in routes if p.startswith("/api/v1/")]
    unmapped = [r for r in api if r not in ROUTE_PERMISSIONS]
    assert unmapped == [], "give these routes a permission in api.access.ROUTE_PERMISSIONS"
    assert set(ROUTE_PERMISSIONS) <= set(api), "ROUTE_PERMISSIONS names routes that are gone"
    others = {p for _m, p in routes if not p.startswith("/api/v1/")}
    assert others <= OPEN_PATHS | DOCS, f"routes outside /api/v1 with no decision: {others}"

    number = steward.tickets.open_manual(
        ticket=_complaint("oak"), idempotency_key=None, actor="test"
    )[0].id
    values = {
        "number": number,
        "site": "oak",
        "device": "car-1",
        "silence_id": "1",
        "delivery_id": "1",
        "name": "nowhere",
        "key_id": "999999",
    }
    callers: dict[str, tuple[str | None, Role | None, str | None]] = {
        "no key": (None, None, None),
        "bootstrap": (BOOTSTRAP, Role.ADMIN, None),
        **{role.value: (key(steward, role), role, None) for role in Role if role is not Role.ADMIN},
        "admin": (key(steward, Role.ADMIN), Role.ADMIN, None),
        "oak operator": (key(steward, Role.OPERATOR, "oak"), Role.OPERATOR, "oak"),
        "oak viewer": (key(steward, Role.VIEWER, "oak"), Role.VIEWER, "oak"),
    }
    wrong: list[str] = []
    with served(steward) as client:
        for method, pattern in routes:
            path = pattern.format_map(values)
            needed = ROUTE_PERMISSIONS.get((method, pattern))
            for who, (token, role, site) in callers.items():
                response = status_of(client, method, path, token)
                got = response.status_code
                if needed is None:  # open paths
                    ok = got not in (401, 403)
                elif role is None:
                    ok = got == 401 and response.json()["error"]["code"] == "unauthorized"
                elif needed in GRANTS[role] and not (site and _all_sites_only(needed)):
                    ok = got not in (401, 403) and got < 500
                else:
                    error = response.json()["error"] if got == 403 else {}
                    ok = error.get("details", {}).get("needed") == needed.value
                if not ok:
                    wrong.append(f"{method} {path} as {who}: {got}")
    assert wrong == []


def _all_sites_only(permission: Permission) -> bool:
    from api.access import ALL_SITES_ONLY  # noqa: PLC0415

    return permission in ALL_SITES_ONLY


def _complaint(site: str, title: str = "Corridor light out") -> Any:
    from tickets.schemas import ManualTicketIn  # noqa: PLC0415

    return ManualTicketIn.model_validate(
        {
            "site": site,
            "category": "facility",
            "priority": "general",
            "title": title,
            "description": "",
            "reporter": {"room": "6-602", "name": "Li", "phone": "138", "channel": "phone"},
        }
    )


def test_401_and_403_say_what_is_wrong_and_never_echo_a_secret(
    steward: Steward, caplog: pytest.LogCaptureFixture
) -> None:
    viewer = key(steward, Role.VIEWER)
    prefix = viewer.split("_")[1]
    forged = f"stw_{prefix}_not-the-secret"
    with caplog.at_level(logging.DEBUG), TestClient(create_app(steward)) as client:
        missing = client.get("/api/v1/tickets")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == "Bearer"
        assert "Authorization: Bearer" in missing.json()["error"]["message"]
        for bad in (forged, "plain-guess", "stw_nope_x"):
            refused = client.get("/api/v1/tickets", headers=bearer(bad))
            assert refused.status_code == 401, bad
            assert refused.json()["error"]["code"] == "unauthorized"
        assert f"stw_{prefix}_" in client.get("/api/v1/tickets", headers=bearer(forged)).text
        forbidden = client.post("/api/v1/tickets", json={}, headers=bearer(viewer))
        assert forbidden.status_code == 403
        error = forbidden.json()["error"]
        assert error["code"] == "forbidden"
        assert error["details"] == {"needed": "tickets:create", "role": "viewer"}
        assert "tickets:create" in error["message"]
        assert client.get("/api/v1/tickets", headers=bearer(viewer)).status_code == 200
    for secret in (viewer.split("_", 2)[2], "not-the-secret", BOOTSTRAP):
        assert secret not in caplog.text


def test_keys_are_stored_as_hashes_and_listed_without_secrets(steward: Steward) -> None:
    with TestClient(create_app(steward)) as client:
        made = client.post(
            "/api/v1/keys",
            json={"name": "help desk", "role": "integration", "site": "oak"},
            headers=bearer(BOOTSTRAP),
        )
        assert made.status_code == 201, made.text
        token = made.json()["token"]
        assert token.startswith(f"stw_{made.json()['prefix']}_")
        listed = client.get("/api/v1/keys", headers=bearer(BOOTSTRAP))
        assert listed.status_code == 200
        assert token not in listed.text
        assert token.split("_", 2)[2] not in listed.text
        assert "secret_hash" not in listed.text
        [entry] = listed.json()
        assert (entry["name"], entry["role"], entry["site"]) == ("help desk", "integration", "oak")
        assert entry["created_by"] == "STEWARD_ADMIN_API_KEY"
    with steward.db.connect() as connection:
        rows = [tuple(r) for r in connection.execute(text("SELECT * FROM api_keys"))]
        stored_hash = connection.execute(text("SELECT secret_hash FROM api_keys")).scalar()
    assert token.split("_", 2)[2] not in repr(rows)
    assert stored_hash == hashlib.sha256(token.encode()).hexdigest()


def test_an_admin_key_cannot_be_limited_to_a_site(steward: Steward) -> None:
    with TestClient(create_app(steward)) as client:
        refused = client.post(
            "/api/v1/keys",
            json={"name": "x", "role": "admin", "site": "oak"},
            headers=bearer(BOOTSTRAP),
        )
        assert refused.status_code == 400
        assert "span every site" in refused.json()["error"]["message"]


def test_a_revoked_key_is_refused_at_once(steward: Steward) -> None:
    operator = key(steward, Role.OPERATOR)
    with TestClient(create_app(steward)) as client:
        assert client.get("/api/v1/tickets", headers=bearer(operator)).status_code == 200
        [listed] = client.get("/api/v1/keys", headers=bearer(BOOTSTRAP)).json()
        revoked = client.delete(f"/api/v1/keys/{listed['id']}", headers=bearer(BOOTSTRAP))
        assert revoked.status_code == 200
        assert revoked.json()["revoked_at"] is not None
        refused = client.get("/api/v1/tickets", headers=bearer(operator))
        assert refused.status_code == 401
        assert "revoked" in refused.json()["error"]["message"]
        assert client.delete("/api/v1/keys/424242", headers=bearer(BOOTSTRAP)).status_code == 404


def test_last_used_is_written_at_most_once_a_minute(steward: Steward, clock: FakeClock) -> None:
    viewer = key(steward, Role.VIEWER)
    store = ApiKeyStore(steward.sessions, steward.clock)
    with TestClient(create_app(steward)) as client:
        client.get("/api/v1/alerts", headers=bearer(viewer))
        first = store.list()[0].last_used_at
        assert first is not None
        clock.advance(30)
        client.get("/api/v1/alerts", headers=bearer(viewer))
        assert store.list()[0].last_used_at == first
        clock.advance(31)
        client.get("/api/v1/alerts", headers=bearer(viewer))
        assert store.list()[0].last_used_at != first


@pytest.fixture
def open_steward(database_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[Steward]:
    """No bootstrap key, no stored key: demo mode."""
    s = build(database_url, clock, tmp_path)
    try:
        yield s
    finally:
        s.stop()


def test_open_until_the_first_key_and_never_again(
    open_steward: Steward, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO), TestClient(create_app(open_steward)) as client:
        assert "API is OPEN" in caplog.text
        assert client.get("/api/v1/tickets").status_code == 200
        made = client.post("/api/v1/keys", json={"name": "first", "role": "admin"})
        assert made.status_code == 201
        token, key_id = made.json()["token"], made.json()["id"]
        assert client.get("/api/v1/tickets").status_code == 401  # locked from now on
        assert client.get("/api/v1/tickets", headers=bearer(token)).status_code == 200
        client.delete(f"/api/v1/keys/{key_id}", headers=bearer(token))
        assert client.get("/api/v1/tickets").status_code == 401  # revoking did not unlock
    caplog.clear()
    with caplog.at_level(logging.INFO), TestClient(create_app(open_steward)) as client:
        assert "API is OPEN" not in caplog.text
        assert "API keys required" in caplog.text
        assert client.get("/api/v1/tickets").status_code == 401
        assert client.get("/healthz").status_code == 200
        assert client.get("/metrics").status_code == 200


def test_a_key_made_elsewhere_locks_a_running_open_api(open_steward: Steward) -> None:
    with TestClient(create_app(open_steward)) as client:
        assert client.get("/api/v1/alerts").status_code == 200
        key(open_steward, Role.VIEWER)  # as `steward keys create` would, from another process
        assert client.get("/api/v1/alerts").status_code == 401


# --- site scope -------------------------------------------------------------------------


def populate(steward: Steward, clock: FakeClock) -> dict[str, Any]:
    """Two sites with the same devices: tickets, alerts, patrol scans, silences, dead
    letters and outbox events in each."""
    decisions = steward.engine.tick()  # maintenance overdue on both cars
    clock.advance(60)
    for site in ("oak", "elm"):
        now = clock.now()
        scan = PatrolTelemetry.model_validate({"ts": int(now * 1000), "guard_id": "g1"})
        decisions += steward.engine.on_reading(
            Reading(DeviceRef(site, Kind.PATROL, "gate"), scan, now, now)
        )
        steward.dead_letters.add(
            Rejection(
                reason=next(iter(Reason)),
                topic=f"estate/{site}/elevator/car-1/telemetry",
                detail="not JSON",
                payload_excerpt="oops",
                received_at=now,
            )
        )
    steward._apply(decisions)
    silences = {
        site: steward.tickets.create_silence(
            silence=SilenceIn.model_validate(
                {
                    "site": site,
                    "device": "car-1",
                    "ends_at": "2026-01-02T00:00:00Z",
                    "reason": "lift service",
                    "author": "ops",
                }
            )
        ).id
        for site in ("oak", "elm")
    }
    tickets = {
        site: [t.id for t in steward.tickets.list(site=site, limit=50).items]
        for site in ("oak", "elm")
    }
    assert tickets["oak"] and tickets["elm"]
    return {"tickets": tickets, "silences": silences}


def sites_in(items: list[dict[str, Any]]) -> set[str]:
    return {item["site"] for item in items}


def test_a_site_scoped_key_sees_and_changes_only_its_site(
    steward: Steward, clock: FakeClock
) -> None:
    data = populate(steward, clock)
    elm_ticket, elm_silence = data["tickets"]["elm"][0], data["silences"]["elm"]
    viewer, operator = key(steward, Role.VIEWER, "oak"), key(steward, Role.OPERATOR, "oak")
    with TestClient(create_app(steward)) as client:

        def get(path: str, token: str = viewer, **params: Any) -> Any:
            return client.get(f"/api/v1{path}", params=params, headers=bearer(token))

        def post(path: str, body: dict[str, Any], token: str = operator) -> Any:
            return client.post(f"/api/v1{path}", json=body, headers=bearer(token))

        # Unscoped, both sites show: what follows is not empty by accident.
        for path in ("/alerts", "/devices", "/silences"):
            assert sites_in(get(path, BOOTSTRAP).json()) == {"oak", "elm"}, path

        assert sites_in(get("/tickets").json()["items"]) == {"oak"}
        assert get("/tickets", site="elm").json()["items"] == []
        unknown = get("/tickets/ST-999999").json()
        hidden = get(f"/tickets/{elm_ticket}")
        assert hidden.status_code == 404
        assert hidden.json()["error"]["code"] == unknown["error"]["code"] == "ticket_not_found"
        for action in ("acknowledge", "resolve", "cancel", "plan"):
            answer = post(f"/tickets/{elm_ticket}/{action}", {"actor": "a", "note": "n"})
            assert answer.status_code == 404, action
        assert steward.tickets.get(number=elm_ticket).status == "open"
        assert post("/tickets", _complaint("elm").model_dump(mode="json")).status_code == 403
        assert post("/tickets", _complaint("oak").model_dump(mode="json")).status_code == 201

        assert sites_in(get("/alerts").json()) == {"oak"}
        assert sites_in(get("/devices").json()) == {"oak"}
        assert get("/devices", site="elm").json() == []
        assert get("/devices/oak/car-1").status_code == 200
        other, nobody = get("/devices/elm/car-1"), get("/devices/oak/nobody")
        assert other.status_code == nobody.status_code == 404
        assert other.json()["error"]["message"].startswith("no device elm/car-1: not registered")
        assert get("/devices/oak/car-1/telemetry").status_code == 200
        assert get("/devices/elm/car-1/telemetry").status_code == 404
        letters = get("/dead-letters").json()
        assert [d["topic"].split("/")[1] for d in letters] == ["oak"]

        checkpoints = get("/patrol/compliance").json()["checkpoints"]
        assert sites_in(checkpoints) == {"oak"}
        assert get("/patrol/compliance", site="elm").json()["checkpoints"] == []
        assert get("/reports/monthly", site="oak", month="2026-01").status_code == 200
        assert get("/reports/monthly", site="elm", month="2026-01").status_code == 404

        assert sites_in(get("/silences").json()) == {"oak"}
        assert get("/silences", site="elm").json() == []
        assert get(f"/silences/{elm_silence}").status_code == 404
        assert post(f"/silences/{elm_silence}/end", {"actor": "a"}).status_code == 404
        window = {"site": "elm", "ends_at": "2026-01-01T12:00:00Z", "reason": "r", "author": "a"}
        assert post("/silences", window).status_code == 403
        assert post("/silences", {**window, "site": "oak"}).status_code == 201


def test_a_site_scoped_stream_carries_only_its_site(steward: Steward, clock: FakeClock) -> None:
    populate(steward, clock)
    sentinel = steward.tickets.open_manual(
        ticket=_complaint("oak", "the last one"), idempotency_key=None, actor="test"
    )[0].id
    viewer = key(steward, Role.VIEWER, "oak")
    subjects: list[str] = []
    sites: set[str] = set()
    with (
        served(steward) as client,
        client.stream(
            "GET", "/api/v1/alerts/stream", params={"after": 0}, headers=bearer(viewer)
        ) as response,
    ):
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data:"):
                event = httpx.Response(200, content=line[5:]).json()
                subjects.append(event["subject"])
                sites.add(event["data"]["site"])
                if event["subject"] == sentinel:
                    break
    assert sites == {"oak"}
    assert sentinel in subjects
    everything = steward.tickets.outbox_after(event_pk=0, limit=1000)
    assert {e.site for e in everything} == {"oak", "elm"}
