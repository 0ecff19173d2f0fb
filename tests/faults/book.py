"""The address books of the fault-injection suite, and the numbers a correct sync caches from them.

`OLD_BOOK` is what the integration's previous cache was synced from; `BOOK` is the address book
as the CRM holds it now (one contact gained a number, one was deleted, one was added), so a sync
that succeeds is told apart from one that kept the old cache. `expected_numbers` computes the
(E.164, record id) pairs a sync must cache from a book independently of the sync's code: only
`normalize_phone` is shared, as the brief of the suite asks.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, replace

from integrations.phones import PhoneNumberError, normalize_phone
from tests.carddav_double import vcard

CONTACTS = 96
COUNTRY = "NL"

# A card vobject cannot parse: the connector skips it and the sync counts it.
MALFORMED_CARD = "BEGIN:VCARD\r\nthis is not a card\r\n"

Pair = tuple[str, str]  # (E.164 number, record id) as lookups see a cached number


@dataclass(frozen=True)
class Contact:
    """One card of the address book: `shape` is "ok", "malformed" (unparseable) or "no_tel"."""

    index: int
    uid: str
    name: str
    tels: tuple[str, ...]
    shape: str = "ok"

    @property
    def file(self) -> str:
        """The card's file name in the collection (its href's last segment)."""
        return f"c{self.index:03d}.vcf"

    def text(self) -> str:
        """The vCard the CardDAV double serves for this contact."""
        if self.shape == "malformed":
            return MALFORMED_CARD
        if self.shape == "no_tel":
            return vcard(self.uid, self.name, org="No Phone BV")
        return vcard(self.uid, self.name, *self.tels, org="Acme BV")


def _contact(index: int) -> Contact:
    tels = [f"work:020 555 {index:04d}"]
    if index % 4 == 0:
        tels.append(f"cell:06-1{index:07d}")
    return Contact(index=index, uid=f"uid-{index}", name=f"Person {index}", tels=tuple(tels))


OLD_BOOK: tuple[Contact, ...] = tuple(_contact(i) for i in range(CONTACTS))
BOOK: tuple[Contact, ...] = (
    replace(OLD_BOOK[0], tels=(*OLD_BOOK[0].tels, "home:020 777 0000")),
    *OLD_BOOK[2:],
    _contact(CONTACTS),
)


def cards(book: Iterable[Contact]) -> dict[str, str]:
    """The book as `CardDavDouble.cards` (file name -> vCard text), in listing order."""
    return {contact.file: contact.text() for contact in book}


def expected_numbers(book: Iterable[Contact], *, country: str = COUNTRY) -> frozenset[Pair]:
    """The (E.164, record id) pairs a correct sync of `book` makes visible to lookups.

    Malformed cards and cards without TEL give none; numbers libphonenumber rejects are skipped.
    """
    return _expected_numbers(tuple(book), country)


@functools.lru_cache(maxsize=64)
def _expected_numbers(book: tuple[Contact, ...], country: str) -> frozenset[Pair]:
    pairs: set[Pair] = set()
    for contact in book:
        if contact.shape != "ok":
            continue
        for tel in contact.tels:
            kind, sep, number = tel.partition(":")
            try:
                e164 = normalize_phone(number if sep else kind, country=country).e164
            except PhoneNumberError:
                continue
            pairs.add((e164, contact.uid))
    return frozenset(pairs)
