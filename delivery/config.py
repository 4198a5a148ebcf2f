"""Where ticket events go: the integrations file (YAML), validated strictly, plus the one
webhook the environment alone can configure (``STEWARD_WEBHOOK_URL``/``_SECRET``).

Strings in the file may name environment variables as ``${NAME}`` (``$${`` for a literal),
so secrets and routing keys need not live in it; a missing variable is an error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from delivery.builtin import BUILTIN_TEMPLATES
from delivery.sample import sample_event
from delivery.signing import secret_key
from delivery.templates import (
    CompiledTemplate,
    RequestTemplate,
    TemplateRenderError,
    template_context,
)
from gateway.topics import ID_PATTERN
from rules.decision import Priority
from steward.site import ConfigError
from tickets.lifecycle import Status
from tickets.outbox import EventType
from tickets.policy import Role

Identifier = Annotated[str, Field(pattern=ID_PATTERN.pattern)]
EscalationLevel = Annotated[int, Field(strict=True, ge=1)]
ENV_ENDPOINT = "webhook"
MQTT_ENDPOINT = "mqtt"
_ENV_REF = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventFilter(_Strict):
    """Which events an endpoint wants; a missing list means all. Every given list must hold.

    ``escalation_levels`` and ``roles`` look only at ``steward.ticket.escalated`` events, which
    pass them when their ``escalation.level`` is listed and one of their ``escalation.roles``
    is listed. Every other event type passes them untouched (``events`` selects types)."""

    sites: list[Identifier] | None = None
    priorities: list[Priority] | None = None
    events: list[EventType] | None = None
    escalation_levels: list[EscalationLevel] | None = None
    roles: list[Role] | None = None

    @field_validator("events", mode="before")
    @classmethod
    def _short_names(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [
                f"steward.ticket.{v}" if isinstance(v, str) and "." not in v else v for v in value
            ]
        return value

    @model_validator(mode="after")
    def _escalation_filters_apply(self) -> EventFilter:
        if self.events is not None and EventType.ESCALATED not in self.events:
            for name in ("escalation_levels", "roles"):
                if getattr(self, name) is not None:
                    raise ValueError(
                        f"{name} selects escalated events, but events leaves them out"
                        " (add escalated to events)"
                    )
        return self

    def matches(
        self,
        *,
        site: str,
        priority: str,
        event_type: str,
        escalation_level: int | None = None,
        roles: Sequence[str] = (),
    ) -> bool:
        """``escalation_level`` and ``roles``: the escalated event's ``data.escalation``
        (see ``escalation_of``); ignored for other event types."""
        if not (
            (self.sites is None or site in self.sites)
            and (self.priorities is None or priority in self.priorities)
            and (self.events is None or event_type in self.events)
        ):
            return False
        if event_type != EventType.ESCALATED:
            return True
        levels, wanted_roles = self.escalation_levels, self.roles
        return (levels is None or escalation_level in levels) and (
            wanted_roles is None or any(r in wanted_roles for r in roles)
        )


def escalation_of(data: Mapping[str, Any]) -> tuple[int | None, tuple[str, ...]]:
    """The level and roles of the escalation an event's ``data`` (the ticket) carries."""
    escalation = data.get("escalation") or {}
    level = escalation.get("level", data.get("escalation_level"))
    return (level if isinstance(level, int) else None), tuple(escalation.get("roles") or ())


class WebhookConfig(_Strict):
    name: Identifier
    url: str
    secrets: list[str] = Field(default_factory=list, repr=False)
    """Active signing secrets (``whsec_...`` or raw); several while rotating."""
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    filter: EventFilter = EventFilter()
    template: str | RequestTemplate | None = None
    """A built-in template's name, a template, or nothing: the CloudEvent itself."""
    params: dict[str, Any] = Field(default_factory=dict, repr=False)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("secrets")
    @classmethod
    def _usable_secrets(cls, value: list[str]) -> list[str]:
        for secret in value:
            secret_key(secret)
        return value

    @model_validator(mode="after")
    def _template_renders(self) -> WebhookConfig:
        compiled = self.compiled_template()
        if compiled is not None:
            for event_type, status in (
                (EventType.OPENED, Status.OPEN),
                (EventType.RESOLVED, Status.RESOLVED),
            ):
                context = template_context(
                    sample_event(event_type, status),
                    params=self.params,
                    endpoint=self.name,
                    url=self.url,
                )
                try:
                    compiled.render(context)
                except TemplateRenderError as exc:
                    raise ValueError(f"template {exc} (rendering a sample event)") from None
        return self

    def compiled_template(self) -> CompiledTemplate | None:
        if self.template is None:
            return None
        if isinstance(self.template, str):
            if self.template not in BUILTIN_TEMPLATES:
                known = ", ".join(sorted(BUILTIN_TEMPLATES))
                raise ValueError(f"unknown built-in template {self.template!r} (known: {known})")
            return CompiledTemplate(BUILTIN_TEMPLATES[self.template])
        try:
            return CompiledTemplate(self.template)
        except TemplateRenderError as exc:
            raise ValueError(f"template {exc}") from None

    @property
    def target(self) -> str:
        return redact(self.url)


class MqttEventsConfig(_Strict):
    """Ticket events on ``estate/{site}/tickets`` (QoS 1) at the service's broker."""

    enabled: bool = True
    filter: EventFilter = EventFilter()


class IntegrationsConfig(_Strict):
    endpoints: list[WebhookConfig] = Field(default_factory=list)
    mqtt: MqttEventsConfig = MqttEventsConfig()

    @model_validator(mode="after")
    def _unique_names(self) -> IntegrationsConfig:
        names = [e.name for e in self.endpoints]
        for name in names:
            if name == MQTT_ENDPOINT:
                raise ValueError(f"endpoint name {MQTT_ENDPOINT!r} is reserved for MQTT events")
            if names.count(name) > 1:
                raise ValueError(f"endpoint {name!r} is declared twice")
        return self


def redact(url: str) -> str:
    """The URL without user, password or query (query strings often carry tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def expand_env(value: Any, env: Mapping[str, str], where: str = "") -> Any:
    if isinstance(value, dict):
        return {k: expand_env(v, env, f"{where}.{k}".lstrip(".")) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, env, f"{where}.{i}") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "${"
        if name not in env:
            raise KeyError(f"{where}: environment variable {name} is not set")
        return env[name]

    return _ENV_REF.sub(substitute, value)


def parse_integrations(
    data: Any, path: Path, env: Mapping[str, str] | None = None
) -> IntegrationsConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(path, ["top level must be a mapping with 'endpoints' (and 'mqtt')"])
    try:
        expanded = expand_env(data, os.environ if env is None else env)
    except KeyError as exc:
        raise ConfigError(path, [str(exc.args[0])]) from None
    try:
        return IntegrationsConfig.model_validate(expanded)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            problems.append(f"{where}: {err['msg']}")
        raise ConfigError(path, problems) from None


def load_integrations(path: Path, env: Mapping[str, str] | None = None) -> IntegrationsConfig:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(path, [f"cannot read: {exc}"]) from None
    return parse_integrations(data, path, env)


def env_webhook(url: str | None, secret: str | None, timeout_s: float) -> WebhookConfig | None:
    """``STEWARD_WEBHOOK_URL`` (+ ``_SECRET``: one secret, or several separated by spaces)."""
    if not url:
        return None
    try:
        return WebhookConfig(
            name=ENV_ENDPOINT, url=url, secrets=(secret or "").split(), timeout_s=timeout_s
        )
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(Path("STEWARD_WEBHOOK_URL"), problems) from None


def merge_env_webhook(
    config: IntegrationsConfig, webhook: WebhookConfig | None
) -> IntegrationsConfig:
    if webhook is None:
        return config
    if any(e.name == webhook.name for e in config.endpoints):
        raise ConfigError(
            Path("STEWARD_WEBHOOK_URL"),
            [f"the integrations file also declares an endpoint named {webhook.name!r}"],
        )
    return config.model_copy(update={"endpoints": [webhook, *config.endpoints]})
