"""The 24-hour day figures (tickets in a normal day, tickets in the incident day against the
expectation) are printed at the end of the test session and written to a summary file."""

from __future__ import annotations

from collections.abc import Callable

import pytest

FIGURES = pytest.StashKey[list[str]]()


@pytest.fixture
def report_figure(
    request: pytest.FixtureRequest, record_property: Callable[[str, object], None]
) -> Callable[[str, str], None]:
    """``report_figure(name, line)``: a figure for the terminal summary, the summary file
    (``<basetemp>/scenario-figures.txt``) and the JUnit report."""
    config = request.config

    def report(name: str, line: str) -> None:
        config.stash.setdefault(FIGURES, []).append(line)
        record_property(name, line)
        factory: pytest.TempPathFactory = config._tmp_path_factory  # type: ignore[attr-defined]
        summary = factory.getbasetemp() / "scenario-figures.txt"
        with summary.open("a", encoding="utf-8") as out:
            out.write(line + "\n")

    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = terminalreporter.config.stash.get(FIGURES, [])
    if lines:
        terminalreporter.write_sep("-", "simulated days")
        for line in lines:
            terminalreporter.write_line(line)
