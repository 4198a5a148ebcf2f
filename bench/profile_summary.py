"""Top hot spots of one thread from a ``py-spy record --threads --format raw`` file.

    .venv/bin/py-spy record --threads --idle --rate 200 --format raw -o prof.txt -- \\
        .venv/bin/python -m bench.ingest --no-write
    .venv/bin/python -m bench.profile_summary prof.txt   # the gateway thread (MqttGateway._run)

Inclusive: share of the thread's samples with the function anywhere on the stack. Self: share
with the function at the top (where the time is actually spent). Line numbers are dropped, so a
function's lines add up.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

_LINE = re.compile(r":\d+\)$")


GROUPS: tuple[tuple[str, str], ...] = (
    ("pydantic validate_json", "BaseModel.model_validate_json"),
    ("decoder: flood token bucket", "Decoder._take_token"),
    ("decoder: topic parse", "parse_topic"),
    ("decoder: other", "Decoder.decode"),
    ("rules: per reading", "RulesEngine.on_reading"),
    ("rules: clock ticks", "MqttGateway._tick_if_due"),
    ("gateway glue", "MqttGateway._on_message"),
    ("paho transport", "Client.loop"),
)
"""Where a gateway sample goes: the first group (in this order) with a frame on its stack.
(Garbage collection has no frame: py-spy charges it to the line that allocated.)"""


@dataclass
class Profile:
    samples: int
    inclusive: Counter[str]
    self_time: Counter[str]
    groups: Counter[str]


def _function(frame: str) -> str:
    return _LINE.sub(")", frame.strip())


def summarize(lines: Iterable[str], frame: str, thread: str | None = None) -> Profile:
    """Samples whose stack has a function named ``frame`` (and, if given, whose thread label
    contains ``thread``: py-spy 0.4 sometimes labels a thread with another's name, so the
    default selects by function)."""
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    groups: Counter[str] = Counter()
    samples = 0
    for raw in lines:
        stack, _, count_text = raw.rstrip("\n").rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        if thread is not None and thread not in frames[0]:
            continue
        count = int(count_text)
        functions = [_function(f) for f in frames[1:]]
        names = {f.split(" (", 1)[0] for f in functions}
        if not functions or frame not in names:
            continue
        samples += count
        for name in set(functions):
            inclusive[name] += count
        self_time[functions[-1]] += count
        group = next((g for g, marker in GROUPS if marker in names), "other")
        groups[group] += count
    return Profile(samples, inclusive, self_time, groups)


def report(profile: Profile, top: int) -> str:
    if profile.samples == 0:
        return "no samples for that thread"
    out = [f"{profile.samples} samples", "", "by stage:"]
    for name, count in profile.groups.most_common():
        out.append(f"  {100 * count / profile.samples:5.1f}%  {name}")
    for title, counter in (("self", profile.self_time), ("inclusive", profile.inclusive)):
        out.append(f"\ntop {top} by {title} time:")
        for name, count in counter.most_common(top):
            out.append(f"  {100 * count / profile.samples:5.1f}%  {name}")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_summary")
    parser.add_argument("raw", type=Path, help="py-spy --format raw output")
    parser.add_argument(
        "--frame", default="MqttGateway._run", help="keep stacks through this function"
    )
    parser.add_argument("--thread", default=None, help="and whose thread label has this")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    with args.raw.open() as lines:
        print(report(summarize(lines, args.frame, args.thread), args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
