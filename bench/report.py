"""The short table every benchmark prints, and its JSON results file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).parent / "results"


@dataclass(frozen=True)
class Row:
    benchmark: str
    baseline: float
    ours: float
    unit: str
    target: float
    accounting_ok: bool

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline if self.baseline > 0 else 0.0

    @property
    def passed(self) -> bool:
        return self.accounting_ok and self.ratio >= self.target

    @property
    def verdict(self) -> str:
        if not self.accounting_ok:
            return "FAIL (accounting)"
        return "pass" if self.passed else "FAIL"


def table(rows: Sequence[Row]) -> str:
    header = ("benchmark", "baseline", "ours", "ratio", "target", "result")
    lines = [header]
    for row in rows:
        lines.append(
            (
                row.benchmark,
                f"{row.baseline:,.0f} {row.unit}",
                f"{row.ours:,.0f} {row.unit}",
                f"{row.ratio:.2f}",
                f">= {row.target:.2f}",
                row.verdict,
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
    day = (when or datetime.now(UTC)).strftime("%Y-%m-%d")
    return directory / f"{day}-{name}.json"


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
