"""Request templates (Jinja2, sandboxed): a user's own system without code.

A template renders the URL, the headers and the body of the request from the event. The
names a template sees: ``event`` (the CloudEvent), ``ticket`` (its ``data``), ``params``
(the endpoint's ``params``) and ``endpoint`` (``name``, ``url``). Undefined names are errors,
never empty strings, and a JSON body must parse as JSON, so a broken template fails when the
configuration is loaded (each is rendered against a sample event), not at 3 a.m.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field

JSON_TYPES = ("application/json", "application/cloudevents+json")


class TemplateRenderError(ValueError):
    """A template that does not render, or renders something that is not what it says."""


class RequestTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["POST", "PUT", "PATCH"] = "POST"
    url: str = "{{ endpoint.url }}"
    headers: dict[str, str] = Field(default_factory=dict)
    content_type: str = "application/json"
    body: str


@dataclass(frozen=True, slots=True)
class RenderedRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


def _undefined(value: object) -> str:
    if isinstance(value, Undefined):
        return str(value)  # a StrictUndefined raises, naming what is missing
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _tojson(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_undefined)


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.do"],
    )
    env.filters["tojson"] = _tojson
    return env


_ENV = _environment()


class CompiledTemplate:
    """A ``RequestTemplate`` parsed once; ``render`` is safe to call from many threads."""

    def __init__(self, template: RequestTemplate) -> None:
        self.spec = template
        try:
            self._url = _ENV.from_string(template.url)
            self._body = _ENV.from_string(template.body)
            self._headers = {k: _ENV.from_string(v) for k, v in template.headers.items()}
        except TemplateError as exc:
            raise TemplateRenderError(f"does not compile: {exc}") from exc

    def render(self, context: dict[str, Any]) -> RenderedRequest:
        try:
            url = self._url.render(context).strip()
            body = self._body.render(context)
            headers = {k: t.render(context).strip() for k, t in self._headers.items()}
        except TemplateError as exc:
            raise TemplateRenderError(f"does not render: {exc}") from exc
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise TemplateRenderError(f"does not render: {exc!r}") from exc
        if self.spec.content_type.split(";")[0].strip() in JSON_TYPES:
            try:
                json.loads(body)
            except ValueError as exc:
                raise TemplateRenderError(f"body is not JSON: {exc}") from exc
        if not url.startswith(("http://", "https://")):
            raise TemplateRenderError(f"URL {url[:80]!r} is not http(s)")
        headers.setdefault("content-type", self.spec.content_type)
        return RenderedRequest(self.spec.method, url, headers, body.encode())


def template_context(
    event: dict[str, Any], *, params: dict[str, Any], endpoint: str, url: str
) -> dict[str, Any]:
    return {
        "event": event,
        "ticket": event.get("data", {}),
        "params": params,
        "endpoint": {"name": endpoint, "url": url},
    }
