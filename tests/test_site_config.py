"""The site file: strict validation with precise messages, and `steward check-config`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from gateway.topics import DeviceRef, Kind
from steward.cli import app
from steward.site import (
    ConfigError,
    DeviceRegistry,
    ElevatorParams,
    example_site_path,
    load_site_config,
)

BROKEN = """
sites:
  - id: Maple Court
    buildings:
      - id: b1
        devices:
          - {id: e1, kind: elevator, params: {max_floor: "high"}}
          - {id: e2, kind: toaster}
          - {id: e3, kind: elevator, colour: red}
rules:
  elevator: {entrapment_s: -5}
"""


def declared_devices(path: Path) -> int:
    data = yaml.safe_load(path.read_text())
    return sum(len(b.get("devices", [])) for s in data["sites"] for b in s["buildings"])


def test_the_bundled_example_is_valid_and_registers_every_device() -> None:
    registry = DeviceRegistry(load_site_config(example_site_path()))
    assert len(registry) == declared_devices(example_site_path()) >= 10
    car = registry.lookup(DeviceRef("maple-court", Kind.ELEVATOR, "b1-elv-a"))
    assert car is not None
    assert car.building == "b1"
    assert isinstance(car.params, ElevatorParams)
    assert car.params.max_floor == 18
    unknown = registry.resolve(DeviceRef("maple-court", Kind.ELEVATOR, "nope"))
    assert unknown.registered is False
    assert isinstance(unknown.params, ElevatorParams)


def test_every_problem_is_reported_with_its_path(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(BROKEN)
    with pytest.raises(ConfigError) as caught:
        load_site_config(site)
    text = str(caught.value)
    assert len(caught.value.problems) >= 4
    assert "sites.0.id" in text
    assert "sites.0.buildings.0.devices.1.kind" in text
    assert "sites.0.buildings.0.devices.2.colour" in text
    assert "rules.elevator.entrapment_s" in text
    assert str(site) in text


def test_duplicate_devices_are_refused(tmp_path: Path) -> None:
    site = tmp_path / "dup.yaml"
    site.write_text(
        "sites: [{id: s, buildings: [{id: b, devices: "
        "[{id: d, kind: patrol}, {id: d, kind: patrol}]}]}]\n"
    )
    with pytest.raises(ConfigError, match="declared twice"):
        load_site_config(site)


def test_check_config_command_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["check-config", str(example_site_path())])
    assert ok.exit_code == 0
    assert f"{declared_devices(example_site_path())} device(s)" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(BROKEN)
    result = runner.invoke(app, ["check-config", str(bad)])
    assert result.exit_code == 1
    assert "entrapment_s" in result.output
    not_yaml = tmp_path / "x.yaml"
    not_yaml.write_text("sites: [unclosed\n")
    assert runner.invoke(app, ["check-config", str(not_yaml)]).exit_code == 1
