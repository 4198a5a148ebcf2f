"""The ``steward`` command (contract §7): demo, run, simulate, check-config."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Steward: facility monitoring and auto-ticketing.",
    no_args_is_help=True,
    add_completion=False,
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
    from steward.runtime import Steward  # noqa: PLC0415
    from steward.settings import Settings  # noqa: PLC0415
    from steward.site import ConfigError  # noqa: PLC0415
    from telemetry import TelemetryConfigError  # noqa: PLC0415

    _logging(verbose)
    settings = Settings()
    if settings.admin_api_key is None:
        log.warning(
            "API is OPEN: no STEWARD_ADMIN_API_KEY set, anyone who can reach "
            "http://%s:%d can read and change tickets",
            settings.http_host,
            settings.http_port,
        )
    try:
        steward = Steward(settings)
    except (ConfigError, TelemetryConfigError) as exc:
        typer.echo(f"configuration error:\n{exc}", err=True)
        raise typer.Exit(2) from None
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
    from rules.engine import check_overrides  # noqa: PLC0415
    from steward.site import ConfigError, DeviceRegistry, load_site_config  # noqa: PLC0415

    try:
        config = load_site_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(f"{exc.path}: {problem}", err=True)
        raise typer.Exit(1) from None
    problems = check_overrides(config.rules)
    for problem in problems:
        typer.echo(f"{path}: {problem}", err=True)
    if problems:
        raise typer.Exit(1)
    registry = DeviceRegistry(config)
    typer.echo(f"{path}: OK: {len(config.sites)} site(s), {len(registry)} device(s)")


def main() -> None:  # pragma: no cover - console entry point
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(app())


__all__ = ["app", "main"]
