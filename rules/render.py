"""Edges → ``Decision``s with the evidence that made them (pure)."""

from __future__ import annotations

from typing import Any

from gateway.topics import DeviceRef
from rules.condition import Edge, Rule, Tracker
from rules.decision import Action, Decision, dedup_key
from rules.state import DeviceState
from steward.clock import iso


def decision_for(
    state: DeviceState, rule: Rule[Any], edge: Edge, view: Any, tracker: Tracker | None = None
) -> Decision:
    device = state.device
    ref = device.ref
    where = device.location or f"{ref.kind.value} {ref.device}"
    key = (
        f"{ref.site}/{ref.kind.value}/{rule.scope(view)}/{rule.group}"
        if rule.scope
        else dedup_key(ref, rule.group)
    )
    return Decision(
        action=Action.FIRE if edge.firing else Action.CLEAR,
        rule=rule.id,
        ref=ref,
        at=edge.at,
        priority=rule.priority,
        category=rule.category,
        title=f"{rule.title}: {where}",
        description=f"{rule.title} at {where} (site {ref.site}). Condition: {rule.condition}.",
        dedup_key=key,
        evidence=evidence(state, rule, edge, view),
        building=device.building,
        location=device.location,
        auto_resolve=rule.auto_resolve,
    )


def key_for(ref: DeviceRef, rule: Rule[Any], view: Any) -> str:
    """One active ticket per key: per device and group, or per wider scope (zone, guard)."""
    if rule.scope is not None:
        return f"{ref.site}/{ref.kind.value}/{rule.scope(view)}/{rule.group}"
    return dedup_key(ref, rule.group)


def evidence(state: DeviceState, rule: Rule[Any], edge: Edge, view: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rule": rule.id,
        "condition": rule.condition,
        "source": rule.source,
        "decided_at": iso(edge.at),
        "condition_since": iso(edge.since),
        "held_s": round(edge.at - edge.since, 3),
        "threshold_s": edge.hold_s,
        "registered": state.device.registered,
    }
    reading = state.reading
    if reading is not None:
        out["reading"] = reading.telemetry.model_dump(mode="json")
        out["observed_at"] = iso(reading.observed_at)
        out["received_at"] = iso(reading.received_at)
        if reading.flags:
            out["flags"] = sorted(reading.flags)
    for name in (
        "occupied_seen",
        "burst_baseline",
        "last_scan_at",
        "missed",
        "guard_id",
        "door_cycles",
    ):
        value = getattr(view, name, None)
        if value is not None:
            out[name] = iso(value) if name.endswith("_at") else value
    thresholds = getattr(view, "th", None)
    if thresholds is not None and hasattr(thresholds, "model_dump"):
        out["thresholds"] = thresholds.model_dump(mode="json")
    if state.online is not None:
        out["status"] = "online" if state.online else "offline"
    if state.last_seen is not None:
        out["last_seen"] = iso(state.last_seen)
    return out
