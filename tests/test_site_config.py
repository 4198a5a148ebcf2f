"""The site file: strict validation with precise messages, and `steward check-config`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from gateway.topics import DeviceRef, Kind
from steward.cli import app
from steward.site import (
    ConfigError,
    DeviceRegistry,
    ElevatorParams,
    StewardConfig,
    example_site_path,
    load_site_config,
    parse_config,
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
    assert {(p.file, p.path) for p in caught.value.located} == {
        (site, "sites.0.id"),
        (site, "sites.0.buildings.0.devices.0.params.max_floor"),
        (site, "sites.0.buildings.0.devices.1.kind"),
        (site, "sites.0.buildings.0.devices.2.colour"),
        (site, "rules.elevator.entrapment_s"),
    }
    text = str(caught.value)
    assert f"{site}: sites.0.buildings.0.devices.0.params.max_floor: Input should be" in text
    assert (
        "colour: Extra inputs are not permitted (allowed: id, kind, location, params, thresholds)"
        in text
    )
    assert "'elevator', 'water_pressure', 'extinguisher' or 'patrol' (got 'toaster')" in text
    # relative to the path that was loaded (what a reload logs after that path)
    assert "sites.0.id: String should match pattern" in caught.value.problems[0]


def test_duplicate_devices_are_refused(tmp_path: Path) -> None:
    site = tmp_path / "dup.yaml"
    site.write_text(
        "sites: [{id: s, buildings: [{id: b, devices: "
        "[{id: d, kind: patrol}, {id: d, kind: patrol}]}]}]\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_site_config(site)
    assert caught.value.problems == [
        "sites.0.buildings.0.devices.1.id: duplicate device id 'd' "
        "(first at sites.0.buildings.0.devices.0.id)"
    ]


# One folder, two files: one of each kind of problem, each of which used to hide the others
# (an override of an unknown rule, a duplicate id, a device's params and thresholds, a second
# file after a bad first one).
FOLDER_A = """
sites:
  - id: maple-court
    timezone: Mars/Olympus
    buildings:
      - id: b1
        devices:
          - {id: b1-elv-a, kind: elevator, params: {max_floor: high}}
          - {id: b1-wp-1, kind: water_pressure, thresholds: {low_s: -1}}
          - {id: b1-elv-b, kind: elevator, params: {colour: red}}
rules:
  elevator: {entrapment_s: -5}
  overrides:
    elevator.nope: {enabled: false}
    elevator.entrapment: {priority: important}
"""
FOLDER_B = """
sites:
  - id: maple-court
    buildings:
      - id: b2
        devices:
          - {id: b2-pt-1, kind: patrol}
          - {id: b2-pt-1, kind: patrol, params: {interval_min: 0}}
          - {id: b1-elv-a, kind: elevator, location: 12}
rules:
  overrides:
    water.outage: {enabled: false}
    patrol.nope: {}
"""
FOLDER_PROBLEMS = {
    ("a.yaml", "sites.0.timezone"),
    ("a.yaml", "sites.0.buildings.0.devices.0.params.max_floor"),
    ("a.yaml", "sites.0.buildings.0.devices.1.thresholds.low_s"),
    ("a.yaml", "sites.0.buildings.0.devices.2.params.colour"),
    ("a.yaml", "rules.elevator.entrapment_s"),
    ("a.yaml", "rules.overrides.elevator.nope"),
    ("b.yaml", "sites.0.buildings.0.devices.1.id"),
    ("b.yaml", "sites.0.buildings.0.devices.1.params.interval_min"),
    ("b.yaml", "sites.0.buildings.0.devices.2.id"),
    ("b.yaml", "sites.0.buildings.0.devices.2.location"),
    ("b.yaml", "rules.overrides.patrol.nope"),
}


def broken_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "a.yaml").write_text(FOLDER_A)
    (folder / "b.yaml").write_text(FOLDER_B)
    return folder


def test_a_folder_reports_every_problem_of_every_file(tmp_path: Path) -> None:
    folder = broken_folder(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_site_config(folder)
    located = caught.value.located
    assert {(p.file.name, p.path) for p in located} == FOLDER_PROBLEMS
    assert len(located) == len(FOLDER_PROBLEMS)  # none twice
    assert [p.file.name for p in located] == sorted(p.file.name for p in located)
    text = {f"{p.file.name}: {p.path}": p.message for p in located}
    assert text["b.yaml: sites.0.buildings.0.devices.1.id"] == (
        "duplicate device id 'b2-pt-1' (first at sites.0.buildings.0.devices.0.id)"
    )
    assert text["b.yaml: sites.0.buildings.0.devices.2.id"] == (
        f"duplicate device id 'b1-elv-a' (first at {folder / 'a.yaml'}: "
        "sites.0.buildings.0.devices.0.id)"
    )
    assert text["a.yaml: rules.overrides.elevator.nope"].startswith("no such rule")
    assert text["a.yaml: sites.0.buildings.0.devices.2.params.colour"] == (
        "Extra inputs are not permitted (allowed: min_floor, max_floor, rated_speed_mps, "
        "last_maintenance, inspection_expires)"
    )
    assert "unknown time zone 'Mars/Olympus'" in text["a.yaml: sites.0.timezone"]
    # ``problems`` are relative to the folder (a reload logs them after the folder's path)
    assert "b.yaml: sites.0.buildings.0.devices.2.location: Input should be a valid string" in {
        p.rsplit(" (got", 1)[0] for p in caught.value.problems
    }


def test_check_config_prints_every_problem_of_a_folder_and_exits_1(tmp_path: Path) -> None:
    folder = broken_folder(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", "from steward.cli import main; main()", "check-config", str(folder)],
        cwd=Path(__file__).parents[1],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    printed = {
        (Path(file).name, where) for file, where, *_ in (line.split(": ", 2) for line in lines[:-1])
    }
    assert printed == FOLDER_PROBLEMS
    assert len(lines) == len(FOLDER_PROBLEMS) + 1
    assert lines[-1] == f"{folder}: {len(FOLDER_PROBLEMS)} problem(s)"
    assert done.stdout == ""


def test_the_model_itself_reports_duplicates_and_params_at_their_path() -> None:
    data = {
        "sites": [
            {
                "id": "s",
                "buildings": [
                    {"id": "b", "devices": [{"id": "d", "kind": "patrol"}]},
                    {
                        "id": "c",
                        "devices": [
                            {"id": "d", "kind": "elevator", "params": {"max_floor": "x"}},
                            {"id": "Bad Id", "kind": "elevator", "params": {"min_floor": "y"}},
                        ],
                    },
                ],
            }
        ]
    }
    with pytest.raises(ValidationError) as caught:
        StewardConfig.model_validate(data)
    locs = {".".join(map(str, e["loc"])) for e in caught.value.errors()}
    assert locs == {
        "sites.0.buildings.1.devices.0.params.max_floor",
        "sites.0.buildings.1.devices.0.id",
        "sites.0.buildings.1.devices.1.id",
        "sites.0.buildings.1.devices.1.params.min_floor",
    }
    with pytest.raises(ConfigError) as parsed:
        parse_config(data, Path("s.yaml"))
    assert {p.path for p in parsed.value.located} == locs


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


def test_a_running_steward_keeps_the_devices_once_in_its_registry() -> None:
    """Memory: the validated file's building and device models (~1 KiB a device) are dropped
    once the registry holds the devices; everything else of the file is kept as it was."""
    config = load_site_config(example_site_path())
    registry = DeviceRegistry(config)
    slim = config.without_devices()
    assert slim.rules == config.rules
    assert [s.model_dump(exclude={"buildings"}) for s in slim.sites] == [
        s.model_dump(exclude={"buildings"}) for s in config.sites
    ]
    assert all(not s.buildings for s in slim.sites)
    files = [(s.id, b.id, d.id) for s in config.sites for b in s.buildings for d in b.devices]
    assert [(d.ref.site, d.building, d.ref.device) for d in registry] == files
