"""A fault-injection suite over the phone-cache sync (issue 5, "What to build" 8).

- `book`: the address books the suite serves (the contacts, their vCards, and the numbers a
  correct sync caches, computed with `normalize_phone` only, not with the sync's code),
- `double`: `FaultyDouble`, which wraps `tests.carddav_double.CardDavDouble` and lets a fault
  answer each request instead of it; it numbers the requests of a listing by position (the
  PROPFIND is 0, the n-th multiget REPORT is n; a retried request keeps its position),
- `catalogue`: the faults (every fault type at every request position, per-card faults at every
  card position, 429 storms, slow trickles, connection resets, duplicate UIDs and hrefs, address
  books that shrink), in a full and a bounded form,
- `runner`: runs each fault against an integration holding a previous cache and counts what
  happened (`Tally`),
- `plugin`: the `--faults=full|bounded` pytest option and the terminal summary.

`make faults` runs the full catalogue; `make test` runs the bounded one (tests/test_faults.py).
"""
