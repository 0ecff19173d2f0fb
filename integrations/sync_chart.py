"""The overview's sync history chart: cached phone numbers and sync duration per sync run.

Drawn as SVG on the server (templates/integrations/_sync_chart.html), no script and no CDN. The
numbers come from `SyncRun` rows (integrations.models): a full run that ended OK (or whose held
result was accepted) cached `numbers`; an incremental run's `numbers` are only the numbers it wrote
and a failed, held or rejected run cached nothing new, so those runs get a duration bar but no
point on the numbers line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from integrations.models import SyncMode, SyncRun, SyncRunStatus

WIDTH = 640
PANEL_HEIGHT = 90
GAP = 34  # between the two panels: the lower panel's title
LEFT = 52  # room for the y-axis labels
RIGHT = 8
TOP = 18
BOTTOM = 20  # room for the first and last run's date
HEIGHT = TOP + PANEL_HEIGHT + GAP + PANEL_HEIGHT + BOTTOM

CACHED = (SyncRunStatus.OK, SyncRunStatus.ACCEPTED)


@dataclass(frozen=True)
class ChartRun:
    """One run's slot: `x` its centre; the duration bar (`bar_*`), and the numbers dot (`dot_y`,
    None when the run did not cache a full set). Coordinates are SVG user units."""

    run: SyncRun
    seconds: float
    numbers: int | None
    x: float
    bar_x: float
    bar_y: float
    bar_width: float
    bar_height: float
    dot_y: float | None


@dataclass(frozen=True)
class SyncChart:
    """The chart of up to the last 20 finished runs, oldest on the left.

    `numbers_top` and `seconds_top` are the round values at the top of each panel's axis;
    `numbers_line` the SVG polyline points ("x,y x,y ...") through the cached-numbers dots.
    """

    runs: list[ChartRun]
    numbers_top: int
    seconds_top: float
    numbers_line: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    numbers_panel_top: int = TOP
    numbers_panel_bottom: int = TOP + PANEL_HEIGHT
    seconds_panel_top: int = TOP + PANEL_HEIGHT + GAP
    seconds_panel_bottom: int = TOP + PANEL_HEIGHT + GAP + PANEL_HEIGHT

    @property
    def first(self) -> SyncRun:
        """The oldest run shown."""
        return self.runs[0].run

    @property
    def last(self) -> SyncRun:
        """The newest run shown."""
        return self.runs[-1].run

    @property
    def longest(self) -> float:
        """The longest duration shown, in seconds."""
        return max(r.seconds for r in self.runs)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times 10^k that is at least `value` (> 0); 1 for 0 or less.

    >>> nice_ceiling(0.3), nice_ceiling(7), nice_ceiling(1234)
    (0.5, 10.0, 2000.0)
    """
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value - 1e-9:
            return float(step * power)
    return float(10 * power)  # pragma: no cover (the loop ends at 10)


def sync_chart(runs: Sequence[SyncRun], *, limit: int = 20) -> SyncChart | None:
    """The chart of the newest `limit` finished runs among `runs` (any order); None if none finished.

    Duration is `finished_at - started_at` in seconds (never negative).
    """
    finished = sorted(
        (run for run in runs if run.finished_at is not None), key=lambda run: (run.started_at, run.pk)
    )[-limit:]
    if not finished:
        return None
    seconds = [
        max(0.0, (run.finished_at - run.started_at).total_seconds()) for run in finished if run.finished_at
    ]
    numbers = [
        run.numbers if run.mode == SyncMode.FULL and run.status in CACHED else None for run in finished
    ]
    numbers_top = int(nice_ceiling(max((n for n in numbers if n is not None), default=0)))
    seconds_top = nice_ceiling(max(seconds))
    slot = (WIDTH - RIGHT - LEFT) / len(finished)
    bar_width = round(min(slot * 0.6, 28.0), 2)
    seconds_bottom = TOP + PANEL_HEIGHT + GAP + PANEL_HEIGHT
    numbers_bottom = TOP + PANEL_HEIGHT
    chart_runs = []
    for index, run in enumerate(finished):
        x = LEFT + slot * (index + 0.5)
        height = PANEL_HEIGHT * seconds[index] / seconds_top
        count = numbers[index]
        dot_y = None if count is None else numbers_bottom - PANEL_HEIGHT * count / numbers_top
        chart_runs.append(
            ChartRun(
                run=run,
                seconds=seconds[index],
                numbers=count,
                x=round(x, 2),
                bar_x=round(x - bar_width / 2, 2),
                bar_y=round(seconds_bottom - height, 2),
                bar_width=bar_width,
                bar_height=round(height, 2),
                dot_y=None if dot_y is None else round(dot_y, 2),
            )
        )
    line = " ".join(f"{r.x},{r.dot_y}" for r in chart_runs if r.dot_y is not None)
    return SyncChart(runs=chart_runs, numbers_top=numbers_top, seconds_top=seconds_top, numbers_line=line)
