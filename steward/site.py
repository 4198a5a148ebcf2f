"""The site file: sites, buildings and their devices (contract §3), validated strictly.

Operators' configuration is strict (unknown keys are errors, with the path that is wrong);
device payloads are lenient. ``load_site_config`` reports every problem at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gateway.topics import ID_PATTERN, DeviceRef, Kind
from rules.thresholds import (
    ElevatorThresholds,
    HealthThresholds,
    RulesConfig,
    device_thresholds,
)
from tickets.config import EscalationConfig, InhibitConfig, SlaConfig

Identifier = Annotated[str, Field(pattern=ID_PATTERN.pattern)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ElevatorParams(_Strict):
    min_floor: int = -2
    max_floor: int = 30
    rated_speed_mps: float = Field(default=1.75, gt=0, le=20)
    last_maintenance: date | None = None
    inspection_expires: date | None = None


class WaterParams(_Strict):
    network: Literal["domestic", "fire"] = "domestic"
    zone: str | None = None
    min_mpa: float | None = None
    max_mpa: float | None = None


class ExtinguisherParams(_Strict):
    green_min_mpa: float = 1.0
    green_max_mpa: float = 1.4
    last_inspection: date | None = None
    basement: bool = False


class PatrolParams(_Strict):
    key_area: bool = True
    interval_min: int = Field(default=120, gt=0)
    route: str | None = None


PARAMS: dict[Kind, type[_Strict]] = {
    Kind.ELEVATOR: ElevatorParams,
    Kind.WATER_PRESSURE: WaterParams,
    Kind.EXTINGUISHER: ExtinguisherParams,
    Kind.PATROL: PatrolParams,
}


class DeviceConfig(_Strict):
    id: Identifier
    kind: Kind
    location: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    thresholds: dict[str, Any] = Field(default_factory=dict)
    """Per-device rule thresholds, merged over ``rules.<kind>``."""

    @model_validator(mode="after")
    def _params_match_kind(self) -> DeviceConfig:
        PARAMS[self.kind].model_validate(self.params)
        device_thresholds(RulesConfig(), self.kind, self.thresholds)
        return self

    def typed_params(self) -> BaseModel:
        return PARAMS[self.kind].model_validate(self.params)


class BuildingConfig(_Strict):
    id: Identifier
    name: str = ""
    devices: list[DeviceConfig] = Field(default_factory=list)


class SiteConfig(_Strict):
    id: Identifier
    name: str = ""
    timezone: str = "Asia/Shanghai"
    buildings: list[BuildingConfig] = Field(default_factory=list)
    sla: SlaConfig = SlaConfig()
    """SLA targets, follow-up and reminders over the standard's defaults (tickets.config)."""
    escalation: EscalationConfig = EscalationConfig()
    """The duty roster: who escalations reach, and when level 2 follows."""
    inhibit: InhibitConfig = InhibitConfig()
    """Which tickets (a power cut) explain which alarms."""

    @model_validator(mode="after")
    def _known_timezone(self) -> SiteConfig:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {self.timezone!r} (IANA name, e.g. Asia/Shanghai)"
            ) from None
        return self


class StewardConfig(_Strict):
    sites: list[SiteConfig] = Field(default_factory=list)
    rules: RulesConfig = RulesConfig()

    @model_validator(mode="after")
    def _unique_ids(self) -> StewardConfig:
        seen: set[tuple[str, str]] = set()
        for site in self.sites:
            for building in site.buildings:
                for device in building.devices:
                    key = (site.id, device.id)
                    if key in seen:
                        raise ValueError(f"device {site.id}/{device.id} is declared twice")
                    seen.add(key)
        return self


@dataclass(frozen=True, slots=True)
class RegisteredDevice:
    """A device as the site file describes it (built from the validated file: a plain slotted
    record, one per device, so a large estate costs little memory)."""

    ref: DeviceRef
    building: str | None
    location: str
    params: BaseModel
    registered: bool = True
    thresholds: dict[str, Any] = field(default_factory=dict)
    """The device's own threshold overrides (merged over the site file's ``rules``)."""
    timezone: str = "Asia/Shanghai"


class DeviceRegistry:
    """Registered devices by ``site/device``; unregistered ones get their kind's defaults."""

    def __init__(self, config: StewardConfig) -> None:
        self.config = config
        self._devices: dict[str, RegisteredDevice] = {}
        for site in config.sites:
            for building in site.buildings:
                for device in building.devices:
                    ref = DeviceRef(site.id, device.kind, device.id)
                    self._devices[ref.key] = RegisteredDevice(
                        ref=ref,
                        building=building.id,
                        location=device.location,
                        params=device.typed_params(),
                        thresholds=device.thresholds,
                        timezone=site.timezone,
                    )

    def lookup(self, ref: DeviceRef) -> RegisteredDevice | None:
        found = self._devices.get(ref.key)
        return found if found is not None and found.ref.kind is ref.kind else None

    def resolve(self, ref: DeviceRef) -> RegisteredDevice:
        return self.lookup(ref) or RegisteredDevice(
            ref=ref, building=None, location="", params=PARAMS[ref.kind](), registered=False
        )

    def __iter__(self) -> Iterator[RegisteredDevice]:
        return iter(self._devices.values())

    def __len__(self) -> int:
        return len(self._devices)


class ConfigError(ValueError):
    """Every problem in a site file, each as ``file: path: message``."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(f"{path}: {p}" for p in problems))


def parse_config(data: Any, path: Path) -> StewardConfig:
    try:
        return StewardConfig.model_validate(data if data is not None else {})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            problems.append(f"{where}: {err['msg']} (got {err.get('input')!r:.60})")
        raise ConfigError(path, problems) from None


def load_site_config(path: Path) -> StewardConfig:
    """Load one YAML file, or every ``*.yaml``/``*.yml`` in a folder merged by site."""
    files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")]) if path.is_dir() else [path]
    if not files:
        raise ConfigError(path, ["no .yaml files found"])
    merged: dict[str, Any] = {"sites": []}
    for file in files:
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(file, [f"cannot read: {exc}"]) from None
        if not isinstance(data, dict):
            raise ConfigError(file, ["top level must be a mapping with 'sites' (and 'rules')"])
        parse_config(data, file)  # precise per-file messages
        merged["sites"].extend(data.get("sites", []))
        if "rules" in data:
            merged["rules"] = data["rules"]
    return parse_config(merged, path)


def example_site_path() -> Path:
    return Path(__file__).parent / "examples" / "demo-site.yaml"


__all__ = [
    "ConfigError",
    "DeviceConfig",
    "DeviceRegistry",
    "ElevatorParams",
    "ElevatorThresholds",
    "ExtinguisherParams",
    "HealthThresholds",
    "PatrolParams",
    "RegisteredDevice",
    "RulesConfig",
    "SiteConfig",
    "StewardConfig",
    "WaterParams",
    "example_site_path",
    "load_site_config",
]
