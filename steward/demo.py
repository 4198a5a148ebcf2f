"""``steward demo``: broker, Steward, simulated compound and API in one process."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import typer

from steward.broker import EmbeddedBroker
from steward.clock import AcceleratedClock
from steward.runtime import Steward, settle_heap
from steward.settings import Settings
from steward.site import example_site_path

log = logging.getLogger("steward.demo")


def _check_port_free(host: str, port: int) -> None:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            typer.echo(f"port {port} on {host} is taken; choose another with --port", err=True)
            raise typer.Exit(2) from None


def run_demo(*, port: int, time_factor: float, data_dir: Path, host: str = "127.0.0.1") -> None:
    from api.access import api_is_open  # noqa: PLC0415
    from simulators.scenarios import scenario_publisher  # noqa: PLC0415
    from steward.cli import serve  # noqa: PLC0415

    _check_port_free(host, port)
    data_dir.mkdir(parents=True, exist_ok=True)
    clock = AcceleratedClock(time_factor)
    with EmbeddedBroker(preferred_port=1883, workdir=data_dir / "mqtt") as broker:
        if broker.port != 1883:
            log.warning("port 1883 is taken: the demo broker listens on %s instead", broker.url)
        settings = Settings(
            mqtt_url=broker.url,
            database_url=f"sqlite:///{data_dir / 'steward.db'}",
            http_host=host,
            http_port=port,
            site_config=example_site_path(),
            mqtt_client_id="steward-demo",
        )
        simulator = scenario_publisher(
            "demo", broker.url, clock=clock, qos=1, status_on_stop="keep"
        )
        steward = Steward(settings, clock=clock)
        settle_heap()
        with steward:
            _banner(broker, settings, time_factor, open_api=api_is_open(steward))
            simulator.start()
            try:
                serve(steward, host, port)
            finally:
                simulator.stop()


def _banner(
    broker: EmbeddedBroker, settings: Settings, time_factor: float, *, open_api: bool
) -> None:
    api = f"http://{settings.http_host}:{settings.http_port}"
    access = (
        "API is OPEN (demo mode: no STEWARD_ADMIN_API_KEY, no API keys)"
        if open_api
        else "API needs a key: curl -H 'Authorization: Bearer <key>' (steward keys create)"
    )
    typer.echo(
        "\n"
        "  Steward demo\n"
        f"  MQTT broker   {broker.url} ({broker.engine})\n"
        f"  database      {settings.database_url}\n"
        f"  site          {settings.site_config}\n"
        f"  time factor   {time_factor:g}x\n"
        f"  API           {api}  (OpenAPI: {api}/docs)\n"
        f"  {access}.\n\n"
        "  About 30 s in, a passenger is trapped between floors in building 1; the alarm is\n"
        "  pressed 20 s later. Watch the emergency ticket appear:\n"
        f"    curl -s '{api}/api/v1/tickets?priority=emergency'\n"
        f"    curl -s {api}/api/v1/alerts\n"
        "  Ctrl-C stops everything.\n"
    )
