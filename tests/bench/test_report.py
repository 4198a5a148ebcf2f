"""The benchmark table's verdicts: ratio targets, absolute and lower-is-better ones."""

from __future__ import annotations

from bench.report import Row, table


def test_ratio_target_higher_is_better() -> None:
    row = Row("ingest", 100_000, 31_000, "msg/s", 0.30, accounting_ok=True)

    assert row.ratio == 0.31
    assert row.verdict == "pass"
    assert Row("ingest", 100_000, 29_000, "msg/s", 0.30, True).verdict == "FAIL"


def test_absolute_target_lower_is_better() -> None:
    def memory(kib: float) -> Row:
        return Row(
            "memory", 43_000, kib, "KiB/device", 2.0, True,
            baseline_unit="KiB RSS empty", target_on="ours", lower_is_better=True,
        )  # fmt: skip

    assert memory(1.9).verdict == "pass"
    assert memory(7.5).verdict == "FAIL"
    assert memory(1.9).ratio is None  # a baseline of another quantity gives no ratio


def test_accounting_beats_timing_and_smoke_hides_timings() -> None:
    broken = Row("ingest", 100_000, 50_000, "msg/s", 0.30, accounting_ok=False)
    slow = Row("ingest", 100_000, 1_000, "msg/s", 0.30, accounting_ok=True)
    info = Row("scaling", 5_000, 4_000, "msg/s", None, accounting_ok=True)

    assert broken.verdict == "FAIL (accounting)"
    assert info.verdict == "info"
    assert info.passed
    smoke = table([broken, slow], timings=False)
    assert "FAIL (accounting)" in smoke
    assert "completed" in smoke
    assert "FAIL  " not in smoke.splitlines()[-1]
