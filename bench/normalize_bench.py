"""Benchmark: how many numbers per second are read (integrations/phones.py). Prints figures; asserts nothing.

    .venv/bin/python bench/normalize_bench.py [--seconds 2]

One line per kind of input: plain national and international notations (the bulk of a CRM),
`tel:`/`sip:` URIs, vanity numbers, PBX numbers with the country code but no "+", fields holding
several numbers (`extract_numbers`), caller numbers (`read_caller`), and unreadable text. Pure
Python, no database: the figure is libphonenumber plus our reading rules on one core.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from integrations.phones import PhoneNumberError, extract_numbers, normalize_phone, read_caller

CASES: dict[str, list[str]] = {
    "national and international": [
        "020 123 4567",
        "+31 (0)20 123 4567",
        "0031 20 1234567",
        "06-12345678",
        "(020) 123.45.67",
        "+49 30 1234567",
        "+1 (201) 555-0123",
    ],
    "tel:/sip: URIs": [
        "tel:+31-20-123-4567;ext=12",
        "sip:+31201234567@pbx.example.nl;user=phone",
        "<sips:0201234567@10.0.0.1:5061>",
    ],
    "vanity letters": ["+1-800-FLOWERS", "0800-REPAIR"],
    "country code without +": ["31201234567", "18003569377", "442079460958"],
    "words and extensions": ["020 123 4567 mobiel", "020 1234567-12", "020 123 4567 x 12"],
    "unreadable": ["n.v.t.", "12", "+31 12", "call me"],
}


def _rate(label: str, texts: list[str], read: Callable[[str], object], seconds: float) -> None:
    done = 0
    errors = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for text in texts:
            try:
                read(text)
            except PhoneNumberError:
                errors += 1
            done += 1
    elapsed = time.perf_counter() - start
    print(f"{label:<40} {done / elapsed:>10,.0f} /s  ({done:,} readings, {errors:,} refused)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per line (default 2)")
    args = parser.parse_args()
    print("normalize_phone (country NL):")
    for label, texts in CASES.items():
        _rate(f"  {label}", texts, lambda t: normalize_phone(t, country="NL"), args.seconds)
    print("extract_numbers (the sync, per phone field):")
    _rate(
        "  one number",
        CASES["national and international"],
        lambda t: extract_numbers(t, country="NL"),
        args.seconds,
    )
    _rate(
        "  several numbers",
        ["020 123 4567 / 06 12345678", "020 1234567, 06-12345678 (mobiel)"],
        lambda t: extract_numbers(t, country="NL"),
        args.seconds,
    )
    print("read_caller (the match API):")
    _rate(
        "  callers",
        ["+31201234567", "0201234567", "anonymous", "201", "sip:+31201234567@pbx", ""],
        lambda t: read_caller(t, country="NL"),
        args.seconds,
    )


if __name__ == "__main__":
    main()
