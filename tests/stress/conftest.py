"""Soak tests, run by `make stress` (`pytest tests/stress --stress`); skipped by a plain `pytest tests`.

Each test adds one summary line per area; they are printed together at the end of the run.
"""

from __future__ import annotations

import pytest

SUMMARY = pytest.StashKey[list[str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--stress", action="store_true", default=False, help="run the soak tests in tests/stress")


@pytest.fixture(autouse=True)
def _only_with_stress(request: pytest.FixtureRequest) -> None:
    if not request.config.getoption("--stress", default=False):
        pytest.skip("soak test: run with `make stress`")


@pytest.fixture
def summary(request: pytest.FixtureRequest) -> list[str]:
    """Append one line per area: cases tried, crashes, errors returned, data lost."""
    return request.config.stash.setdefault(SUMMARY, [])


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    lines = config.stash.get(SUMMARY, [])
    if lines:
        terminalreporter.section("stress summary")
        for line in lines:
            terminalreporter.write_line(line)
