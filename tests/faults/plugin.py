"""pytest plugin of the fault-injection suite: `--faults=bounded|full` and the terminal summary.

Registered by `make faults` (`-p tests.faults.plugin`). Without it, tests/test_faults.py runs the
bounded catalogue and prints its counts itself.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from _pytest.terminal import TerminalReporter

from tests.faults.tally import Tally

SUMMARY_PROPERTY = "fault-injection-tally"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--faults",
        choices=("bounded", "full"),
        default="bounded",
        help="fault-injection suite over the phone-cache sync: a fixed sample (bounded, make test) "
        "or the whole catalogue of 1,000+ faults (full, make faults)",
    )


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    """Print the fault counts of tests/test_faults.py, its chunks added up (also from xdist workers)."""
    parts: list[dict[str, Any]] = []
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", "") != "call":
                continue
            parts += [json.loads(value) for name, value in report.user_properties if name == SUMMARY_PROPERTY]
    if parts:
        tally = Tally.merged(parts)
        terminalreporter.write_sep("=", "fault injection")
        terminalreporter.write_line(tally.summary(every_kind=tally.catalogue.startswith("full")))
