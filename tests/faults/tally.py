"""The counters of the fault-injection suite (no Django imports: the pytest plugin loads it early)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.faults.catalogue import Fault

LONGEST_WAIT_S = 300.0  # an in-sync wait longer than this is waiting out a long Retry-After
MAX_PROBLEMS = 60


@dataclass
class KindTally:
    """Counters of one fault kind."""

    scenarios: int = 0
    injected: int = 0
    ok: int = 0
    failed: int = 0
    held: int = 0
    lost: int = 0
    half_visible: int = 0
    not_allowed: int = 0
    unclean: int = 0

    @property
    def bad(self) -> bool:
        return bool(self.lost or self.half_visible or self.not_allowed or self.unclean)


@dataclass
class Tally:
    """What the suite counted over all scenarios; `problems` describes the first few failures."""

    catalogue: str = ""
    scenarios: int = 0
    injected: int = 0
    ok: int = 0
    failed_cleanly: int = 0
    held: int = 0
    busy: int = 0
    crashed: int = 0
    unclean: int = 0
    not_allowed: int = 0
    lost: int = 0
    half_visible: int = 0
    overlong_waits: int = 0
    runaway: int = 0
    lookup_disagrees: int = 0
    longest_wait_s: float = 0.0
    sleeps_passed: bool = False
    per_kind: dict[str, KindTally] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The tally as JSON-able data (to pass it from an xdist worker to the summary)."""
        return asdict(self)

    @classmethod
    def merged(cls, parts: Sequence[dict[str, Any]]) -> Tally:
        """One tally adding up `as_dict()` results of the chunks of a catalogue."""
        total = cls()
        for part in parts:
            for name, value in part.items():
                if name == "per_kind":
                    for kind, counts in value.items():
                        into = total.per_kind.setdefault(kind, KindTally())
                        for counter, number in counts.items():
                            setattr(into, counter, getattr(into, counter) + number)
                elif name == "problems":
                    total.problems = (total.problems + value)[:MAX_PROBLEMS]
                elif name == "catalogue":
                    total.catalogue = value
                elif name == "sleeps_passed":
                    total.sleeps_passed = value
                elif name == "longest_wait_s":
                    total.longest_wait_s = max(total.longest_wait_s, value)
                else:
                    setattr(total, name, getattr(total, name) + value)
        return total

    def problem(self, fault: Fault, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{fault.label}: {text}")

    def summary(self, *, every_kind: bool = False) -> str:
        """The counts as the reader of `make test` / `make faults` sees them."""
        lines = [
            f"Fault injection over the phone-cache sync ({self.catalogue}): {self.scenarios} scenarios, "
            f"{self.injected} faults injected",
            f"  syncs ok (fault absorbed or harmless): {self.ok}",
            f"  syncs failed cleanly: {self.failed_cleanly}",
            f"  syncs held (old cache kept): {self.held}",
            f"  syncs busy / crashed: {self.busy} / {self.crashed}",
            f"  syncs that ended unclean (state, last_error, retry, leftover rows): {self.unclean}",
            f"  results the fault does not allow: {self.not_allowed}",
            f"  cached numbers lost: {self.lost} (must be 0)",
            f"  half-visible observations: {self.half_visible} (must be 0)",
            f"  waits > {LONGEST_WAIT_S:.0f} s: {self.overlong_waits}; longest in-sync wait "
            f"{self.longest_wait_s:.0f} s (fake clock); runaway retry loops: {self.runaway}; "
            f"match API disagreeing with the rows: {self.lookup_disagrees}"
            + ("" if self.sleeps_passed else "; the sync takes no `sleep` (waits not observable)"),
        ]
        kinds = [(k, t) for k, t in sorted(self.per_kind.items()) if every_kind or t.bad]
        if kinds:
            lines.append(
                "  per kind: scenarios injected | ok failed held | lost half-visible not-allowed unclean"
            )
            lines += [
                f"    {kind:<34} {t.scenarios:>4} {t.injected:>5} | {t.ok:>4} {t.failed:>4} {t.held:>4} | "
                f"{t.lost:>5} {t.half_visible:>4} {t.not_allowed:>4} {t.unclean:>4}"
                for kind, t in kinds
            ]
        if self.problems:
            lines.append(f"  first problems ({len(self.problems)} shown):")
            lines += [f"    {p}" for p in self.problems]
        return "\n".join(lines)
