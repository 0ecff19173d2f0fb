"""pytest plugin of the fault-injection suite: `--faults=bounded|full` and the terminal summary.

Registered by `make faults` (`-p tests.faults.plugin`). Without it, tests/test_faults.py runs the
bounded catalogue and prints its counts itself.
"""

from __future__ import annotations

import pytest
from _pytest.terminal import TerminalReporter

SUMMARY_PROPERTY = "fault-injection-summary"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--faults",
        choices=("bounded", "full"),
        default="bounded",
        help="fault-injection suite over the phone-cache sync: a fixed sample (bounded, make test) "
        "or the whole catalogue of 1,000+ faults (full, make faults)",
    )


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    """Print the fault counts recorded by tests/test_faults.py (also from xdist workers)."""
    for reports in terminalreporter.stats.values():
        for report in reports:
            for name, value in getattr(report, "user_properties", ()):
                if name == SUMMARY_PROPERTY and getattr(report, "when", "") == "call":
                    terminalreporter.write_sep("=", "fault injection")
                    terminalreporter.write_line(str(value))
