"""The ``steward`` command (contract §7): demo, run, simulate, check-config, keys."""

from __future__ import annotations

import getpass
import logging
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from tickets.api_keys import ApiKeyStore

app = typer.Typer(
    help="Steward: facility monitoring and auto-ticketing.",
    no_args_is_help=True,
    add_completion=False,
    # a traceback's local variables hold database and broker URLs with their passwords
    # (older typer versions showed them by default)
    pretty_exceptions_show_locals=False,
)
log = logging.getLogger("steward")


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    for noisy in ("amqtt", "transitions", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def serve(steward: object, host: str, port: int) -> None:
    import uvicorn  # noqa: PLC0415

    from api.app import create_app  # noqa: PLC0415
    from steward.runtime import Steward  # noqa: PLC0415

    assert isinstance(steward, Steward)
    uvicorn.run(create_app(steward), host=host, port=port, log_level="warning")


@app.command()
def run(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Run the service against the configured broker and database (STEWARD_* variables)."""
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError  # noqa: PLC0415

    from steward.runtime import Steward, settle_heap  # noqa: PLC0415
    from steward.settings import MqttTlsError, Settings, redact_url  # noqa: PLC0415
    from steward.site import ConfigError  # noqa: PLC0415
    from telemetry import TelemetryConfigError  # noqa: PLC0415

    _logging(verbose)
    settings = Settings()  # whether the API is open is said when it starts (api.access)
    try:
        steward = Steward(settings)
    except (ConfigError, TelemetryConfigError) as exc:
        typer.echo(f"configuration error:\n{exc}", err=True)
        raise typer.Exit(2) from None
    except MqttTlsError as exc:  # a missing CA file, an unreadable key: one line
        typer.echo(f"configuration error: MQTT TLS: {exc}", err=True)
        raise typer.Exit(2) from None
    except SQLAlchemyError as exc:  # one line that says where, not a page of traceback
        reason = str(exc.orig if isinstance(exc, DBAPIError) else exc).splitlines()[0]
        log.debug("start-up failed", exc_info=True)  # the whole story with --verbose
        typer.echo(f"database {redact_url(settings.database_url)}: {reason}", err=True)
        raise typer.Exit(3) from None
    settle_heap()
    with steward:
        signal.signal(signal.SIGHUP, lambda *_: steward.reload_config())
        log.info(
            "API on http://%s:%d (OpenAPI at /docs); kill -HUP %d reloads the site file",
            settings.http_host,
            settings.http_port,
            os.getpid(),
        )
        serve(steward, settings.http_host, settings.http_port)


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="HTTP port for the API")] = 8000,
    time_factor: Annotated[float, typer.Option(help="simulated seconds per real second")] = 1.0,
    data_dir: Annotated[Path, typer.Option(help="where the demo keeps its SQLite file")] = Path(
        "var"
    ),
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Everything on one machine: embedded broker, SQLite, a simulated site in which a
    passenger is trapped in an elevator within the first minute, API on port 8000."""
    from steward.demo import run_demo  # noqa: PLC0415

    _logging(verbose)
    run_demo(port=port, time_factor=time_factor, data_dir=data_dir)


@app.command()
def simulate(
    broker: Annotated[str, typer.Option(envvar="STEWARD_MQTT_URL", help="mqtt://host:port")] = (
        "mqtt://127.0.0.1:1883"
    ),
    scenario: Annotated[str | None, typer.Option(help="scripted scenario to run")] = None,
    devices: Annotated[int | None, typer.Option(help="synthetic fleet size")] = None,
    site_config: Annotated[Path | None, typer.Option(envvar="STEWARD_SITE_CONFIG")] = None,
    time_factor: Annotated[float, typer.Option(help="simulated seconds per real second")] = 1.0,
    duration: Annotated[
        float | None, typer.Option(help="stop after this many simulated seconds")
    ] = None,
    qos: Annotated[int, typer.Option(min=0, max=1)] = 1,
) -> None:
    """Publish simulated devices and scenarios to any broker."""
    from simulators.cli import simulate as run_simulation  # noqa: PLC0415

    _logging(False)
    run_simulation(
        broker_url=broker,
        scenario=scenario,
        devices=devices,
        site_config=site_config,
        time_factor=time_factor,
        duration_s=duration,
        qos=qos,
    )


@app.command("check-config")
def check_config(path: Path) -> None:
    """Validate a site/rules file (or a folder of them); print every problem, exit 1 if any."""
    from steward.site import ConfigError, DeviceRegistry, load_site_config  # noqa: PLC0415

    try:
        config = load_site_config(path)  # the schema, duplicate ids, unknown overrides
    except ConfigError as exc:
        for problem in exc.located:
            typer.echo(str(problem), err=True)
        typer.echo(f"{path}: {len(exc.located)} problem(s)", err=True)
        raise typer.Exit(1) from None
    registry = DeviceRegistry(config)
    typer.echo(f"{path}: OK: {len(config.sites)} site(s), {len(registry)} device(s)")


keys_app = typer.Typer(
    help="API keys (stored hashed in STEWARD_DATABASE_URL): make the first one here.",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")


@contextmanager
def _key_store() -> Iterator[ApiKeyStore]:
    from steward.clock import SystemClock  # noqa: PLC0415
    from steward.settings import Settings  # noqa: PLC0415
    from tickets.api_keys import ApiKeyStore  # noqa: PLC0415
    from tickets.db import make_engine, migrate, session_factory  # noqa: PLC0415

    engine = make_engine(Settings().database_url)
    try:
        migrate(engine)
        yield ApiKeyStore(session_factory(engine), SystemClock())
    finally:
        engine.dispose()


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="who or what uses the key")],
    role: Annotated[str, typer.Option(help="viewer, operator, admin or integration")],
    site: Annotated[str | None, typer.Option(help="limit the key to this site")] = None,
) -> None:
    """Make a key and print it (stdout, once; only its hash is stored)."""
    from tickets.api_keys import Role  # noqa: PLC0415
    from tickets.errors import InvalidRequest  # noqa: PLC0415

    try:
        chosen = Role(role)
    except ValueError:
        typer.echo(f"unknown role {role!r}: use {', '.join(r.value for r in Role)}", err=True)
        raise typer.Exit(2) from None
    try:
        with _key_store() as store:
            view, token = store.create(
                name=name, role=chosen, site=site, created_by=f"cli:{getpass.getuser()}"
            )
    except InvalidRequest as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"created key {view.id} stw_{view.prefix} ({view.name}, {view.role.value}, "
        f"site {view.site or 'all'}); it is shown once:",
        err=True,
    )
    typer.echo(token)


@keys_app.command("list")
def keys_list() -> None:
    """Every key, revoked ones too; never a secret."""
    with _key_store() as store:
        keys = store.list()
    for key in keys:
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
        typer.echo(
            f"{key.id:>4}  stw_{key.prefix}  {key.role.value:<11}  {key.site or '*':<12}  "
            f"{state:<24}  last used {used:<16}  {key.name}"
        )


@keys_app.command("revoke")
def keys_revoke(key: Annotated[str, typer.Argument(help="the key's id or stw_<prefix>")]) -> None:
    """Refuse a key from the next request on."""
    prefix = key.removeprefix("stw_").split("_")[0]
    with _key_store() as store:
        ids = [k.id for k in store.list() if str(k.id) == key or k.prefix == prefix]
        if not ids:
            typer.echo(f"no API key {key!r} (see 'steward keys list')", err=True)
            raise typer.Exit(1)
        view = store.revoke(key_id=ids[0])
    typer.echo(f"revoked key {view.id} stw_{view.prefix} ({view.name})")


def main() -> None:  # pragma: no cover - console entry point
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(app())


__all__ = ["app", "main"]
