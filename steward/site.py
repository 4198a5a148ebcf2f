"""The site file: sites, buildings and their devices (contract §3), validated strictly.

Operators' configuration is strict (unknown keys are errors, with the path that is wrong);
device payloads are lenient. ``load_site_config`` reports every problem at once, of every file
of a folder: the schema (params and per-device thresholds checked against the device's kind,
at their own path), duplicate device ids and overrides of unknown rules. Each pass runs over
the raw data whatever the others found, so one problem never hides another.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

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

    @model_validator(mode="wrap")
    @classmethod
    def _params_match_kind(
        cls, data: Any, handler: ModelWrapValidatorHandler[DeviceConfig]
    ) -> DeviceConfig:
        """``params`` and ``thresholds`` against the kind's models, reported at their own path
        (``devices.3.params.max_floor``) and alongside the device's other problems."""
        if isinstance(data, DeviceConfig):
            return handler(data)
        errors: list[InitErrorDetails] = []
        device: DeviceConfig | None = None
        try:
            device = handler(data)
        except ValidationError as exc:
            errors.extend(_error_details(exc))
        raw = data if isinstance(data, dict) else {}
        kind = device.kind if device is not None else _kind_or_none(raw.get("kind"))
        if kind is not None:
            params = device.params if device is not None else raw.get("params", {})
            if isinstance(params, dict):
                try:
                    PARAMS[kind].model_validate(params)
                except ValidationError as exc:
                    errors.extend(_error_details(exc, ("params",)))
            thresholds = device.thresholds if device is not None else raw.get("thresholds", {})
            if isinstance(thresholds, dict):
                try:
                    device_thresholds(_DEFAULT_RULES, kind, thresholds)
                except ValidationError as exc:
                    errors.extend(_error_details(exc, ("thresholds",)))
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        assert device is not None
        return device

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

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (IANA name, e.g. Asia/Shanghai)"
            ) from None
        return value


class StewardConfig(_Strict):
    sites: list[SiteConfig] = Field(default_factory=list)
    rules: RulesConfig = RulesConfig()

    @model_validator(mode="wrap")
    @classmethod
    def _unique_ids(
        cls, data: Any, handler: ModelWrapValidatorHandler[StewardConfig]
    ) -> StewardConfig:
        """Device ids are unique within a site: checked over the raw data, whatever else is
        wrong, each repeat at its own path (``load_site_config`` checks across files)."""
        if isinstance(data, StewardConfig):
            return handler(data)
        errors: list[InitErrorDetails] = []
        config: StewardConfig | None = None
        try:
            config = handler(data)
        except ValidationError as exc:
            errors.extend(_error_details(exc))
        for repeat in _duplicate_ids([(Path(), data)]):
            errors.append(
                InitErrorDetails(
                    type=PydanticCustomError(DUPLICATE_ID, repeat.message(Path())),
                    loc=repeat.loc,
                    input=repeat.device,
                )
            )
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        assert config is not None
        return config

    def without_devices(self) -> StewardConfig:
        """This configuration without its buildings and devices: what a running Steward keeps
        once a ``DeviceRegistry`` holds each device with its building (the validated models
        would cost ~1 KiB a device)."""
        sites = [site.model_copy(update={"buildings": []}) for site in self.sites]
        return self.model_copy(update={"sites": sites})


NO_THRESHOLDS: Mapping[str, Any] = types.MappingProxyType({})


@dataclass(frozen=True, slots=True)
class RegisteredDevice:
    """A device as the site file describes it (built from the validated file: a plain slotted
    record, one per device, so a large estate costs little memory)."""

    ref: DeviceRef
    building: str | None
    location: str
    params: BaseModel
    registered: bool = True
    thresholds: Mapping[str, Any] = field(default_factory=lambda: NO_THRESHOLDS)
    """The device's own threshold overrides (merged over the site file's ``rules``); most
    devices have none and share one empty, read-only mapping (an empty dict each was 64 B)."""
    timezone: str = "Asia/Shanghai"


class DeviceRegistry:
    """Registered devices by ``site/device``; unregistered ones get their kind's defaults."""

    def __init__(self, config: StewardConfig) -> None:
        """Keeps the devices as slotted records, not ``config`` (see ``without_devices``)."""
        self._devices: dict[str, RegisteredDevice] = {}
        shared: dict[BaseModel, BaseModel] = {}
        """Params models are frozen: devices with equal params share one."""
        for site in config.sites:
            for building in site.buildings:
                for device in building.devices:
                    ref = DeviceRef(site.id, device.kind, device.id)
                    params = device.typed_params()
                    self._devices[ref.key] = RegisteredDevice(
                        ref=ref,
                        building=building.id,
                        location=device.location,
                        params=shared.setdefault(params, params),
                        thresholds=device.thresholds or NO_THRESHOLDS,
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


_DEFAULT_RULES = RulesConfig()
DUPLICATE_ID = "duplicate_device_id"
Loc = tuple[int | str, ...]


def _kind_or_none(value: Any) -> Kind | None:
    try:
        return Kind(value)
    except (ValueError, TypeError):
        return None


def _error_details(exc: ValidationError, prefix: Loc = ()) -> list[InitErrorDetails]:
    """``exc``'s errors to raise again (from a validator: pydantic keeps their locations,
    under the validated object's), each under ``prefix``."""
    out: list[InitErrorDetails] = []
    for err in exc.errors():
        detail = InitErrorDetails(type=err["type"], loc=(*prefix, *err["loc"]), input=err["input"])
        if "ctx" in err:
            detail["ctx"] = err["ctx"]
        if err["type"] not in _KNOWN_ERROR_TYPES:  # a PydanticCustomError raised by a model
            detail["type"] = PydanticCustomError(err["type"], err["msg"])
        out.append(detail)
    return out


def _known_error_types() -> frozenset[str]:
    from pydantic_core.core_schema import ErrorType  # noqa: PLC0415

    return frozenset(typing.get_args(ErrorType))


_KNOWN_ERROR_TYPES = _known_error_types()


@dataclass(frozen=True, slots=True)
class _Repeat:
    """A device id declared again in the same site: where, and where first."""

    file: Path
    loc: Loc
    site: str
    device: str
    first_file: Path
    first_loc: Loc

    def message(self, file: Path) -> str:
        first = _dotted(self.first_loc)
        if self.first_file != file:
            first = f"{self.first_file}: {first}"
        return f"duplicate device id {self.device!r} (first at {first})"


def _items(value: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    """The mappings of a raw list, with their index (anything else is the schema's problem)."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict):
                yield i, item


def _duplicate_ids(files: Iterable[tuple[Path, Any]]) -> list[_Repeat]:
    """Every repeat of a (site id, device id) pair over the raw data of these files, in order."""
    first: dict[tuple[str, str], tuple[Path, Loc]] = {}
    out = []
    for file, data in files:
        if not isinstance(data, dict):
            continue
        for s, site in _items(data.get("sites")):
            site_id = site.get("id")
            if not isinstance(site_id, str):
                continue
            for b, building in _items(site.get("buildings")):
                for d, device in _items(building.get("devices")):
                    device_id = device.get("id")
                    if not isinstance(device_id, str):
                        continue
                    loc: Loc = ("sites", s, "buildings", b, "devices", d, "id")
                    seen = first.setdefault((site_id, device_id), (file, loc))
                    if seen != (file, loc):
                        out.append(_Repeat(file, loc, site_id, device_id, *seen))
    return out


def _unknown_overrides(data: Any, file: Path) -> list[Problem]:
    """``rules.overrides`` naming no rule, from the raw data (the schema may fail elsewhere)."""
    rules = data.get("rules") if isinstance(data, dict) else None
    overrides = rules.get("overrides") if isinstance(rules, dict) else None
    if not isinstance(overrides, dict):
        return []
    from rules.engine import RULES_BY_ID  # noqa: PLC0415 (rules.engine imports this module)

    out = []
    for rule_id in overrides:
        if str(rule_id) in RULES_BY_ID:
            continue
        near = difflib.get_close_matches(str(rule_id), RULES_BY_ID, n=1, cutoff=0.8)
        hint = f"did you mean {near[0]!r}? " if near else ""
        out.append(
            Problem(
                file,
                _dotted(("rules", "overrides", rule_id)),
                f"no such rule ({hint}every rule id is in docs/rules.md)",
            )
        )
    return out


def _dotted(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a site file: the file, where in it (dotted path; empty for the
    file as a whole) and what is wrong, with what is allowed when that is not obvious."""

    file: Path
    path: str
    message: str

    def relative_to(self, root: Path) -> str:
        """The problem as seen from ``root`` (a folder, or the file itself)."""
        where = f"{self.path}: " if self.path else ""
        if self.file == root:
            return f"{where}{self.message}"
        try:
            name = self.file.relative_to(root)
        except ValueError:
            name = self.file
        return f"{name}: {where}{self.message}"

    def __str__(self) -> str:
        return (
            f"{self.file}: {self.path}: {self.message}"
            if self.path
            else f"{self.file}: {self.message}"
        )


class ConfigError(ValueError):
    """Every problem in a site file (or a folder of them), each as ``file: path: message``.

    ``located`` holds them as ``Problem``s; ``problems`` as text relative to ``path`` (for a
    folder, each starts with its file's name)."""

    def __init__(self, path: Path, problems: Sequence[str | Problem]) -> None:
        self.path = path
        self.located = [p if isinstance(p, Problem) else Problem(path, "", p) for p in problems]
        self.problems = [p.relative_to(path) for p in self.located]
        super().__init__("\n".join(str(p) for p in self.located))


def _annotation_at(data: Any, loc: Loc) -> Any:
    """The type expected at ``loc`` of the raw site data (None: cannot tell)."""
    annotation: Any = StewardConfig
    node: Any = data
    for part in loc:
        annotation = _unwrap(annotation)
        if annotation is None:
            return None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if not isinstance(part, str) or part not in annotation.model_fields:
                return None
            kind = _kind_or_none(node.get("kind")) if isinstance(node, dict) else None
            if annotation is DeviceConfig and part in ("params", "thresholds"):
                if kind is None:
                    return None
                annotation = (
                    PARAMS[kind] if part == "params" else type(_DEFAULT_RULES.for_kind(kind))
                )
            else:
                annotation = annotation.model_fields[part].annotation
        else:
            origin, args = typing.get_origin(annotation), typing.get_args(annotation)
            if origin in (list, tuple, Sequence) and isinstance(part, int) and args:
                annotation = args[0]
            elif origin is dict and len(args) == 2:
                annotation = args[1]
            else:
                return None
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return _unwrap(annotation)


def _unwrap(annotation: Any) -> Any:
    """``X`` from ``Annotated[X, ...]`` and ``X | None``; None if it is a real union."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        choices = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(choices[0]) if len(choices) == 1 else None
    return annotation


def _describe(err: Any, data: Any) -> str:
    """Pydantic's message, saying what is allowed where it does not."""
    if err["type"] == "extra_forbidden":
        parent = _annotation_at(data, tuple(err["loc"][:-1]))
        if isinstance(parent, type) and issubclass(parent, BaseModel):
            return f"{err['msg']} (allowed: {', '.join(parent.model_fields)})"
        return str(err["msg"])
    if err["type"] == DUPLICATE_ID:
        return str(err["msg"])
    message = err["msg"]
    if err["type"] == "value_error" and "error" in err.get("ctx", {}):
        message = str(err["ctx"]["error"])  # without pydantic's "Value error, "
    return f"{message} (got {err.get('input')!r:.60})"


def _validate(data: Any, file: Path) -> tuple[StewardConfig | None, list[Problem]]:
    """The schema's problems (duplicate ids left to ``_duplicate_ids``), or the config."""
    try:
        return StewardConfig.model_validate(data), []
    except ValidationError as exc:
        return None, [
            Problem(file, _dotted(err["loc"]) or "(top level)", _describe(err, data))
            for err in exc.errors()
            if err["type"] != DUPLICATE_ID
        ]


def _check(files: Sequence[tuple[Path, Any]]) -> list[Problem]:
    """Every problem of these files' raw data, by file: the schema, unknown overrides and
    duplicate ids (across the files: a folder's files are merged by site)."""
    problems: list[Problem] = []
    for file, data in files:
        problems.extend(_validate(data, file)[1])
        problems.extend(_unknown_overrides(data, file))
    problems.extend(_repeat_problems(files))
    order = {file: i for i, (file, _) in enumerate(files)}
    return sorted(problems, key=lambda p: order.get(p.file, -1))


def _repeat_problems(files: Sequence[tuple[Path, Any]]) -> list[Problem]:
    return [Problem(r.file, _dotted(r.loc), r.message(r.file)) for r in _duplicate_ids(files)]


def parse_config(data: Any, path: Path) -> StewardConfig:
    """One site file's data (``path`` names it in the problems), validated as
    ``load_site_config`` validates a file."""
    data = data if data is not None else {}
    config, problems = _validate(data, path)
    problems += _unknown_overrides(data, path)
    problems += _repeat_problems([(path, data)])
    if problems:
        raise ConfigError(path, problems)
    assert config is not None  # any problem the schema found is among ``problems``
    return config


def load_site_config(path: Path) -> StewardConfig:
    """Load one YAML file, or every ``*.yaml``/``*.yml`` in a folder merged by site (the last
    ``rules:`` wins). ``ConfigError`` lists every problem of every file."""
    files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")]) if path.is_dir() else [path]
    if not files:
        raise ConfigError(path, ["no .yaml files found"])
    unreadable: list[Problem] = []
    loaded: list[tuple[Path, Any]] = []
    for file in files:
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            unreadable.append(Problem(file, "", f"cannot read: {exc}"))
            continue
        if not isinstance(data, dict):
            unreadable.append(
                Problem(file, "", "top level must be a mapping with 'sites' (and 'rules')")
            )
            continue
        loaded.append((file, data))
    problems = [*unreadable, *_check(loaded)]
    if problems:
        order = {file: i for i, file in enumerate(files)}
        problems.sort(key=lambda p: order.get(p.file, -1))
        raise ConfigError(path, problems)
    merged: dict[str, Any] = {"sites": []}
    for _, data in loaded:
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
    "Problem",
    "RegisteredDevice",
    "RulesConfig",
    "SiteConfig",
    "StewardConfig",
    "WaterParams",
    "example_site_path",
    "load_site_config",
    "parse_config",
]
