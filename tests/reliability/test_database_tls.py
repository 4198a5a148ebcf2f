"""The database connection over TLS, configured in the URL alone (docs/operations.md):
libpq's ``sslmode`` and ``sslrootcert`` pass through ``make_engine`` to psycopg."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from tests.services import PrivatePostgres
from tickets.db import make_engine, migrate, ping

pytestmark = pytest.mark.postgres


@pytest.fixture
def tls_postgres() -> Iterator[PrivatePostgres]:
    with PrivatePostgres(tls=True) as cluster:
        yield cluster


def test_verify_full_connects_encrypted_and_refuses_an_unknown_certificate(
    tls_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    url = f"{tls_postgres.url}?sslmode=verify-full&sslrootcert={tls_postgres.ca_file}"
    engine = make_engine(url)
    try:
        migrate(engine)
        assert ping(engine)
        with engine.connect() as connection:
            row = connection.execute(
                text("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            ).one()
        assert row.ssl is True, row
        assert str(row.version).startswith("TLS")
    finally:
        engine.dispose()

    other_ca = tmp_path / "other-ca.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(tmp_path / "other.key"), "-out", str(other_ca)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    engine = make_engine(f"{tls_postgres.url}?sslmode=verify-full&sslrootcert={other_ca}")
    try:
        with pytest.raises(OperationalError, match="certificate verify failed"):
            migrate(engine)
    finally:
        engine.dispose()
