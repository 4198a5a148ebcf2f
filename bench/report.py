"""The short table every benchmark prints, and its JSON results file."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

RESULTS_DIR = Path(__file__).parent / "results"

Progress = Callable[[str], None]


def make_progress(stream: Any = sys.stderr) -> Progress:
    """Progress lines on stderr, stamped with the seconds since the start."""
    t0 = time.monotonic()

    def note(message: str) -> None:
        print(f"[{time.monotonic() - t0:7.1f}s] {message}", file=stream, flush=True)

    return note


@dataclass(frozen=True)
class Row:
    """One line of the table. By default the target applies to ``ours / baseline`` (a ratio,
    higher is better: the protocol's way). ``target_on="ours"`` compares the figure itself
    (memory per device, a p99 latency), and ``target=None`` makes the row informational."""

    benchmark: str
    baseline: float | None
    ours: float
    unit: str
    target: float | None
    accounting_ok: bool
    baseline_unit: str | None = None
    """When the baseline is a different quantity (the empty process's RSS)."""
    target_on: Literal["ratio", "ours"] = "ratio"
    lower_is_better: bool = False

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline_unit is not None:
            return None
        return self.ours / self.baseline if self.baseline > 0 else 0.0

    @property
    def compared(self) -> float | None:
        return self.ratio if self.target_on == "ratio" else self.ours

    @property
    def met(self) -> bool | None:
        """Whether the target is met (None: informational row)."""
        value = self.compared
        if self.target is None or value is None:
            return None
        return value <= self.target if self.lower_is_better else value >= self.target

    @property
    def passed(self) -> bool:
        return self.accounting_ok and self.met is not False

    @property
    def verdict(self) -> str:
        if not self.accounting_ok:
            return "FAIL (accounting)"
        met = self.met
        return "info" if met is None else "pass" if met else "FAIL"

    def target_text(self) -> str:
        if self.target is None:
            return "-"
        sign = "<=" if self.lower_is_better else ">="
        unit = f" {self.unit}" if self.target_on == "ours" else ""
        return f"{sign} {number(self.target)}{unit}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "baseline": self.baseline,
            "baseline_unit": self.baseline_unit or self.unit,
            "ours": self.ours,
            "unit": self.unit,
            "ratio": self.ratio,
            "target": self.target,
            "target_on": self.target_on,
            "lower_is_better": self.lower_is_better,
            "accounting_ok": self.accounting_ok,
            "result": self.verdict,
        }


@dataclass
class Outcome:
    """What one benchmark gives the suite (bench/run_all.py): its table rows, its full JSON
    result, whether it completed and accounted for everything (never a timing), and the
    human summary it prints under the table."""

    rows: list[Row]
    result: dict[str, Any]
    ok: bool
    text: str = ""
    notes: list[str] = field(default_factory=list)


def override(params: Any, args: Any, options: dict[str, str]) -> None:
    """Command-line options given (not None) replace the run's defaults:
    ``options`` maps an ``args`` name to the ``params`` attribute it sets."""
    for name, attr in options.items():
        value = getattr(args, name)
        if value is not None:
            setattr(params, attr, value)


def number(value: float) -> str:
    """Three significant figures for small values, thousands separators for large ones."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(rows: Sequence[Row], *, timings: bool = True) -> str:
    """``timings=False`` (a smoke run): the result column judges the accounting only."""
    header = ("benchmark", "baseline", "ours", "ratio", "target", "result")
    lines = [header]
    for row in rows:
        ratio = row.ratio
        lines.append(
            (
                row.benchmark,
                "-"
                if row.baseline is None
                else f"{number(row.baseline)} {row.baseline_unit or row.unit}",
                f"{number(row.ours)} {row.unit}",
                "-" if ratio is None else f"{ratio:.2f}",
                row.target_text(),
                row.verdict if timings or not row.accounting_ok else "completed",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        out.append("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def results_path(name: str, directory: Path = RESULTS_DIR, when: datetime | None = None) -> Path:
    """``<day>-<name>.json``; the whole suite's (``name=""``) is ``<day>.json``."""
    day = (when or datetime.now(UTC)).strftime("%Y-%m-%d")
    return directory / (f"{day}-{name}.json" if name else f"{day}.json")


def append_result(path: Path, result: dict[str, Any]) -> None:
    """Each day's file keeps every run of that day: ``{"runs": [...]}``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    runs: list[Any] = []
    if path.exists():
        try:
            loaded = json.loads(path.read_text())
            runs = list(loaded.get("runs", []))
        except (ValueError, AttributeError):
            runs = []
    runs.append(result)
    path.write_text(json.dumps({"runs": runs}, indent=2, sort_keys=False) + "\n")


def write_result(
    name: str,
    result: dict[str, Any],
    rows: Sequence[Row],
    *,
    output: Path | None,
    smoke: bool,
    no_write: bool,
) -> Path | None:
    """A standalone run's result, with its table rows, appended to ``output`` (by default
    ``bench/results/<day>-<name>.json``; a smoke run writes only to an explicit ``output``).
    Returns the file written, if any."""
    if output is None and not smoke:
        output = results_path(name)
    if output is None or no_write:
        return None
    append_result(output, {**result, "rows": [row.as_dict() for row in rows]})
    return output


def finish(name: str, outcome: Outcome, *, output: Path | None, smoke: bool, no_write: bool) -> int:
    """A standalone run's end: the table and the summary on stdout, the results file, and the
    exit status (1 only when the run did not complete or account for everything)."""
    print(table(outcome.rows, timings=not smoke))
    print()
    print(outcome.text)
    written = write_result(
        name, outcome.result, outcome.rows, output=output, smoke=smoke, no_write=no_write
    )
    if written is not None:
        print(f"results appended to {written}")
    return 0 if outcome.ok else 1
