"""Raw MQTT message → ``Reading`` | ``StatusChange`` | ``Rejection``. Pure, apart from the
per-device ``seq`` memory; never raises on device input.

Time policy (device clocks drift and reset): ``observed_at`` is the device's ``ts`` when it
lies within [received - max_past_s, received + max_future_s]; otherwise it is the receive time
and the reading is flagged ``clock_skew`` (the device's own ``ts`` stays in the evidence).
``seq`` policy: a ``seq`` not above the device's last one is a duplicate or replay and is
rejected, except that a device announcing ``online`` (it rebooted) may start counting again.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass
from enum import StrEnum
from typing import cast

from pydantic import BaseModel, ValidationError

from gateway.payloads import SCHEMAS, Telemetry
from gateway.reading import Reading, StatusChange
from gateway.topics import Channel, DeviceRef, TopicError, parse_topic
from steward.site import DeviceRegistry


class Reason(StrEnum):
    NOT_JSON = "not_json"
    TOO_LARGE = "too_large"
    SCHEMA = "schema"
    UNKNOWN_KIND = "unknown_kind"
    BAD_ID = "bad_id"
    BAD_TOPIC = "bad_topic"
    BAD_STATUS = "bad_status"
    DUPLICATE_SEQ = "duplicate_seq"
    UNREGISTERED = "unregistered"
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: Reason
    topic: str
    detail: str
    payload_excerpt: str
    received_at: float
    ref: DeviceRef | None = None
    """The device, when the topic was good enough to tell."""


class DeadLetters:
    """Bounded list of the latest rejections, shown by the API."""

    def __init__(self, size: int) -> None:
        self._items: deque[Rejection] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, rejection: Rejection) -> None:
        with self._lock:
            self._items.append(rejection)

    def latest(self, limit: int = 100) -> list[Rejection]:
        with self._lock:
            return list(self._items)[-limit:][::-1]


def _excerpt(payload: bytes | bytearray, limit: int = 200) -> str:
    return payload[:limit].decode("utf-8", errors="replace")


def _schema_detail(exc: ValidationError) -> tuple[Reason, str]:
    errors = exc.errors(include_url=False)
    if errors and errors[0]["type"] in {"json_invalid", "json_type"}:
        return Reason.NOT_JSON, f"not valid UTF-8 JSON: {errors[0]['msg']}"
    parts = []
    for err in errors[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "(payload)"
        parts.append(f"{where}: {err['msg']}")
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return Reason.SCHEMA, "; ".join(parts) + more


_NO_FLAGS: frozenset[str] = frozenset()
_CLOCK_SKEW = frozenset({"clock_skew"})
TOPIC_CACHE_SIZE = 250_000
"""Parsed topics kept; past this the cache starts again (a flood of made-up device ids must
not grow it without bound)."""


FIELD_SETS = 1024
"""Distinct telemetry field sets shared between models (see ``Decoder._share_fields``)."""


class _Source:
    """What the decoder remembers of one device: its ``seq``, its token bucket and the shared
    set of fields its readings carry."""

    __slots__ = ("fields", "last_seq", "refill_at", "tokens")

    def __init__(self) -> None:
        self.fields: set[str] | None = None
        self.last_seq: int | None = None
        self.tokens = 0.0
        self.refill_at: float | None = None


class _Known:
    """A topic seen before: parsed, looked up in the registry, its device's ``_Source``."""

    __slots__ = ("channel", "kind_name", "ref", "registered", "schema", "source")

    def __init__(self, ref: DeviceRef, channel: Channel, registered: bool, source: _Source) -> None:
        self.ref, self.channel = ref, channel
        self.registered = registered
        self.source = source
        self.kind_name = self.ref.kind.value
        self.schema = SCHEMAS[self.ref.kind]


class Decoder:
    def __init__(
        self,
        registry: DeviceRegistry,
        *,
        max_payload_bytes: int = 65536,
        strict_devices: bool = False,
        max_future_s: float = 120.0,
        max_past_s: float = 24 * 3600.0,
        device_rate_per_s: float = 20.0,
        device_burst: int = 100,
    ) -> None:
        self._registry = registry
        self.device_rate_per_s = device_rate_per_s
        self.device_burst = device_burst
        self.max_payload_bytes = max_payload_bytes
        self.strict_devices = strict_devices
        self.max_future_s = max_future_s
        self.max_past_s = max_past_s
        self._sources: dict[str, _Source] = {}
        """Per device key: the hot path finds it through ``_topics`` without hashing a key."""
        self._topics: dict[str, _Known] = {}
        self._field_sets: dict[frozenset[str], set[str]] = {}
        self.accepted: Counter[str] = Counter()
        self.rejected: Counter[Reason] = Counter()

    @property
    def registry(self) -> DeviceRegistry:
        return self._registry

    @registry.setter
    def registry(self, registry: DeviceRegistry) -> None:
        """A reloaded site file: registrations are looked up again."""
        self._registry = registry
        self._topics = {}

    @property
    def last_seq(self) -> dict[str, int]:
        """The last accepted ``seq`` per device key (for the API and tests)."""
        return {k: s.last_seq for k, s in list(self._sources.items()) if s.last_seq is not None}

    def _known(self, topic: str) -> _Known:
        """Parse a topic not seen before (raises ``TopicError``) and remember it."""
        parsed = parse_topic(topic)
        registered = self._registry.lookup(parsed.ref)
        # one DeviceRef a registered device, not one per topic and one in the registry
        ref = parsed.ref if registered is None else registered.ref
        source = self._sources.get(ref.key)
        if source is None:
            source = self._sources[ref.key] = _Source()
        known = _Known(ref, parsed.channel, registered is not None, source)
        if len(self._topics) >= TOPIC_CACHE_SIZE:
            self._topics = {}
        self._topics[topic] = known
        return known

    def decode(
        self, topic: str, payload: bytes | bytearray, received_at: float
    ) -> Reading | StatusChange | Rejection | None:
        """None: nothing to act on (an empty retained status, i.e. the retained one deleted)."""
        if len(payload) > self.max_payload_bytes:
            return self.reject(
                Reason.TOO_LARGE,
                topic,
                f"{len(payload)} bytes > {self.max_payload_bytes}",
                payload,
                received_at,
            )
        known = self._topics.get(topic)
        if known is None:
            try:
                known = self._known(topic)
            except TopicError as exc:
                return self.reject(Reason(exc.reason), topic, str(exc), payload, received_at)
        ref, source = known.ref, known.source
        if self.strict_devices and not known.registered:
            return self.reject(
                Reason.UNREGISTERED,
                topic,
                f"device {ref.key} ({ref.kind}) is not in the site file (strict mode)",
                payload,
                received_at,
            )
        if known.channel is Channel.STATUS:
            if not payload:  # a retained status being deleted: nothing to say about the device
                self.accepted["status_cleared"] += 1
                return None
            text = payload.strip().lower()
            if text not in (b"online", b"offline"):
                return self.reject(
                    Reason.BAD_STATUS,
                    topic,
                    "status must be 'online' or 'offline'",
                    payload,
                    received_at,
                )
            online = text == b"online"
            if online:
                source.last_seq = None  # a rebooted device may count from 0 again
            self.accepted["status"] += 1
            return StatusChange(ref, online, received_at)
        try:
            telemetry = known.schema.model_validate_json(payload)
        except ValidationError as exc:
            reason, detail = _schema_detail(exc)
            return self.reject(reason, topic, detail, payload, received_at)
        seq = telemetry.seq
        last = source.last_seq
        if seq is not None and last is not None and seq <= last:
            return self.reject(
                Reason.DUPLICATE_SEQ,
                topic,
                f"seq {seq} is not above the last seen {last}",
                payload,
                received_at,
            )
        device_time = telemetry.device_time()
        if received_at - self.max_past_s <= device_time <= received_at + self.max_future_s:
            observed_at, flags = device_time, _NO_FLAGS
        else:
            observed_at, flags = received_at, _CLOCK_SKEW
        if not self._take_token(source, observed_at):
            return self.reject(
                Reason.RATE_LIMITED,
                topic,
                f"device {ref.key} exceeds {self.device_rate_per_s:g} msg/s of its own time "
                f"(burst {self.device_burst})",
                payload,
                received_at,
                ref=ref,
            )
        if seq is not None:
            source.last_seq = seq
        self._share_fields(telemetry, source)
        self.accepted[known.kind_name] += 1
        return Reading(
            ref, cast(Telemetry, telemetry), received_at, observed_at, flags, known.registered
        )

    def _share_fields(self, telemetry: BaseModel, source: _Source) -> None:
        """Each device's latest reading stays in memory (the rules' view holds it), and a
        pydantic model's set of fields given is ~0.7 KiB of an elevator reading's 1.4: models
        with the same fields share one set. Pydantic only reads it (``exclude_unset``,
        ``model_fields_set``); frozen models never change it."""
        fields = telemetry.__pydantic_fields_set__
        if fields != source.fields:
            shared = self._field_sets.get(frozenset(fields))
            if shared is None and len(self._field_sets) < FIELD_SETS:
                shared = self._field_sets[frozenset(fields)] = fields
            source.fields = shared
            if shared is None:
                return
        object.__setattr__(telemetry, "__pydantic_fields_set__", source.fields)

    def _take_token(self, source: _Source, at: float) -> bool:
        """A device flooding the broker must not starve the others (100x its normal rate is
        a misbehaving device): each may burst, then sustain ``device_rate_per_s``. Measured
        in the device's own time, so a device flushing the backlog of a network outage (old
        timestamps, spread over the outage) is not mistaken for a flood."""
        last = source.refill_at
        if last is None:
            source.tokens, source.refill_at = self.device_burst - 1.0, at
            return True
        elapsed = at - last
        tokens = source.tokens
        if elapsed > 0:
            tokens = min(self.device_burst, tokens + elapsed * self.device_rate_per_s)
            source.refill_at = at
        if tokens < 1.0:
            source.tokens = tokens
            return False
        source.tokens = tokens - 1.0
        return True

    def reject(
        self,
        reason: Reason,
        topic: str,
        detail: str,
        payload: bytes | bytearray,
        at: float,
        ref: DeviceRef | None = None,
    ) -> Rejection:
        self.rejected[reason] += 1
        return Rejection(reason, topic, detail, _excerpt(payload), at, ref)
