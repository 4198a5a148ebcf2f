"""``steward keys create|list|revoke``: the first key without the API, on either database."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from steward.cli import app as cli
from steward.clock import FakeClock
from steward.runtime import Steward
from steward.settings import Settings


@pytest.fixture
def keys(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("STEWARD_DATABASE_URL", database_url)
    monkeypatch.delenv("STEWARD_ADMIN_API_KEY", raising=False)
    return CliRunner()


def test_create_list_revoke(keys: CliRunner, database_url: str, clock: FakeClock) -> None:
    made = keys.invoke(cli, ["keys", "create", "--name", "night desk", "--role", "operator"])
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()  # stdout is the token alone: TOKEN=$(steward keys create ...)
    assert token.startswith("stw_")
    prefix = token.split("_")[1]
    assert f"stw_{prefix}" in made.stderr
    assert "shown once" in made.stderr

    listed = keys.invoke(cli, ["keys", "list"])
    assert listed.exit_code == 0
    assert f"stw_{prefix}" in listed.stdout
    assert "night desk" in listed.stdout
    assert "active" in listed.stdout
    assert token.split("_", 2)[2] not in listed.stdout

    steward = Steward(
        Settings(database_url=database_url, mqtt_url="mqtt://127.0.0.1:1"), clock=clock
    )
    try:
        with TestClient(create_app(steward)) as api:
            auth = {"Authorization": f"Bearer {token}"}
            assert api.get("/api/v1/tickets").status_code == 401  # the key closed the API
            assert api.get("/api/v1/tickets", headers=auth).status_code == 200
            assert api.post("/api/v1/admin/reload-config", headers=auth).status_code == 403

            revoked = keys.invoke(cli, ["keys", "revoke", f"stw_{prefix}"])
            assert revoked.exit_code == 0, revoked.output
            assert api.get("/api/v1/tickets", headers=auth).status_code == 401
    finally:
        steward.stop()
    assert "revoked" in keys.invoke(cli, ["keys", "list"]).stdout


def test_scoped_keys_and_refusals(keys: CliRunner) -> None:
    scoped = keys.invoke(
        cli, ["keys", "create", "--name", "oak", "--role", "viewer", "--site", "oak"]
    )
    assert scoped.exit_code == 0
    assert "site oak" in scoped.stderr
    admin = keys.invoke(cli, ["keys", "create", "--name", "x", "--role", "admin", "--site", "oak"])
    assert admin.exit_code == 2
    assert "cannot be limited to a site" in admin.stderr
    bad_role = keys.invoke(cli, ["keys", "create", "--name", "x", "--role", "root"])
    assert bad_role.exit_code == 2
    assert "viewer, operator, admin, integration" in bad_role.stderr
    missing = keys.invoke(cli, ["keys", "revoke", "42"])
    assert missing.exit_code == 1
    assert "no API key '42'" in missing.stderr
    assert keys.invoke(cli, ["keys", "revoke", "1"]).exit_code == 0
