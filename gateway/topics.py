"""Topic grammar (contract §1), parsed by one pure function."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    ELEVATOR = "elevator"
    WATER_PRESSURE = "water_pressure"
    EXTINGUISHER = "extinguisher"
    PATROL = "patrol"


class Channel(StrEnum):
    TELEMETRY = "telemetry"
    STATUS = "status"


ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
TOPIC_ROOT = "estate"
SUBSCRIPTIONS = (f"{TOPIC_ROOT}/+/+/+/telemetry", f"{TOPIC_ROOT}/+/+/+/status")
_KINDS = {k.value: k for k in Kind}
_CHANNELS = {c.value: c for c in Channel}


@dataclass(frozen=True, slots=True)
class DeviceRef:
    site: str
    kind: Kind
    device: str
    key: str = field(init=False, repr=False, compare=False)
    """``site/device``: what state is kept by. Made once, so its hash is computed once."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.site}/{self.device}")


@dataclass(frozen=True, slots=True)
class Topic:
    ref: DeviceRef
    channel: Channel


class TopicError(ValueError):
    """Why a topic is not one of ours; ``reason`` is a rejection reason code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def parse_topic(topic: str) -> Topic:
    """``estate/{site}/{kind}/{device}/{telemetry|status}`` → ``Topic``, or raise ``TopicError``."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != TOPIC_ROOT:
        raise TopicError(
            "bad_topic", f"expected estate/{{site}}/{{kind}}/{{device}}/<channel>, got {topic!r}"
        )
    _, site, kind, device, channel = parts
    if kind not in _KINDS:
        raise TopicError("unknown_kind", f"unknown kind {kind!r}; expected one of {sorted(_KINDS)}")
    if channel not in _CHANNELS:
        raise TopicError("bad_topic", f"unknown channel {channel!r}; expected telemetry or status")
    if not ID_PATTERN.match(site):
        raise TopicError("bad_id", f"site id {site!r} does not match {ID_PATTERN.pattern}")
    if not ID_PATTERN.match(device):
        raise TopicError("bad_id", f"device id {device!r} does not match {ID_PATTERN.pattern}")
    return Topic(DeviceRef(site, _KINDS[kind], device), _CHANNELS[channel])


def telemetry_topic(ref: DeviceRef) -> str:
    return f"{TOPIC_ROOT}/{ref.site}/{ref.kind.value}/{ref.device}/telemetry"


def status_topic(ref: DeviceRef) -> str:
    return f"{TOPIC_ROOT}/{ref.site}/{ref.kind.value}/{ref.device}/status"


def tickets_topic(site: str) -> str:
    return f"{TOPIC_ROOT}/{site}/tickets"
