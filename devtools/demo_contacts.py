"""Demo address book: deterministic vCards with phone numbers written the many ways people write them.

`demo_vcards()` builds the contacts (vCard 3.0, RFC 2426) that `make run` uploads to a local
Radicale with `upload_address_book()` (CardDAV, RFC 6352), so that a newcomer sees a call matched;
tests use the same set. What the set holds, so tests and demos can rely on it:

- the first contact is Jan Jansen (Acme BV, jan.jansen@acme.example) whose work number is stored
  as "+31 (0)20 123 4567": a caller number "0201234567" matches it across notations;
- the second and third share one switchboard number (written differently), the only number
  that two contacts share; every other number, normalized to E.164 with default region NL, is
  unique across the set;
- the last two are broken: one TEL is text ("call me maybe"), one is too short ("+31 12");
- all other numbers are valid for libphonenumber: NL (national and international notations,
  brackets, dashes, dots, "(0)", "0031"), BE, DE, GB, US and FR in international notation,
  some with an extension ("ext. 12", "x 12"); 1 to 3 numbers per contact, TYPE work/cell/home.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin

import httpx
import phonenumbers

_MIN_COUNT = 5  # Jan Jansen, the switchboard pair and the two broken cards


@dataclass(frozen=True)
class DemoContact:
    """One demo contact: `phones` are (type, number as written), type "work", "cell", "home"
    (lower case, comma-joined when several, "" when none); `vcard` is the vCard 3.0 text (CRLF)."""

    uid: str
    full_name: str
    company: str
    email: str
    title: str
    phones: tuple[tuple[str, str], ...]
    vcard: str


@dataclass(frozen=True)
class _Company:
    name: str
    domain: str


@dataclass(frozen=True)
class _Country:
    """How to make numbers of one country: `fixed`/`mobile` give (area, subscriber) digit strings
    from a random source; `fixed_styles`/`mobile_styles` write them."""

    region: str
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    companies: tuple[_Company, ...]
    fixed: Callable[[random.Random], tuple[str, str]]
    mobile: Callable[[random.Random], tuple[str, str]]
    fixed_styles: tuple[Callable[[str, str], str], ...]
    mobile_styles: tuple[Callable[[str, str], str], ...]


def _digits(rng: random.Random, count: int, *, first: str = "23456789") -> str:
    return rng.choice(first) + "".join(rng.choice("0123456789") for _ in range(count - 1))


def _pairs(text: str) -> str:
    """ "123456" -> "12 34 56" """
    return " ".join(text[i : i + 2] for i in range(0, len(text), 2))


# fmt: off
_NL = _Country(
    region="NL",
    first_names=(
        "Anna", "Bram", "Daan", "Emma", "Fleur", "Gijs", "Hanna", "Isa", "Jesse", "Julia", "Lars",
        "Lotte", "Maarten", "Noor", "Ruben", "Sophie", "Thijs", "Vera", "Wouter", "Yara", "Femke",
        "Joost", "Marloes", "Sem",
    ),
    last_names=(
        "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Visser", "Smit",
        "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen",
        "Dekker", "Brouwer", "de Wit", "Dijkstra", "Kok", "Verhoeven", "Schouten",
    ),
    companies=(
        _Company("Acme BV", "acme.example"),
        _Company("Bakker & Zonen Installatietechniek", "bakkerenzonen.example"),
        _Company("Gemeente Zandvoort-aan-Zee", "zandvoort-aan-zee.example"),
        _Company("Tulp Logistiek B.V.", "tulplogistiek.example"),
        _Company("Van Dijk, Smit & Partners Advocaten", "vandijksmit.example"),
        _Company("Polder Software", "poldersoftware.example"),
        _Company("Huisartsenpraktijk De Linde", "delinde.example"),
        _Company("Molen Bouw", "molenbouw.example"),
    ),
    fixed=lambda rng: (
        rng.choice(("20", "10", "30", "70", "40", "50", "43", "53", "71", "76")),
        _digits(rng, 7),
    ),
    mobile=lambda rng: ("6", _digits(rng, 8, first="12345")),
    fixed_styles=(
        lambda a, s: f"+31 (0){a} {s[:3]} {s[3:]}",
        lambda a, s: f"0031 {a} {s}",
        lambda a, s: f"0{a} {s}",
        lambda a, s: f"(0{a}) {s[:3]}-{s[3:]}",
        lambda a, s: f"0{a}-{s[:3]} {s[3:5]} {s[5:]}",
        lambda a, s: f"0{a}.{s[:3]}.{s[3:]}",
        lambda a, s: f"+31 {a} {s[:3]} {s[3:]}",
        lambda a, s: f"+31{a}{s}",
        lambda a, s: f"0{a} {s[:3]} {s[3:]}",
    ),
    mobile_styles=(
        lambda a, s: f"06-{s}",
        lambda a, s: f"06 {_pairs(s)}",
        lambda a, s: f"+31 6 {s[:4]} {s[4:]}",
        lambda a, s: f"+31 (0)6 {s}",
        lambda a, s: f"0031 6 {s}",
        lambda a, s: f"06{s}",
        lambda a, s: f"+316{s}",
    ),
)

_BE = _Country(
    region="BE",
    first_names=("Lucas", "Louise", "Arthur", "Elise", "Wout", "Lien", "Tibo", "Manon", "Kobe", "Amélie"),
    last_names=("Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens", "Dubois"),
    companies=(
        _Company("Brabo Consult NV", "braboconsult.example"),
        _Company("Atomium Events", "atomium-events.example"),
    ),
    fixed=lambda rng: (rng.choice(("2", "3", "9")), _digits(rng, 7)),
    mobile=lambda rng: (rng.choice(("470", "475", "486", "497")), _digits(rng, 6, first="0123456789")),
    fixed_styles=(
        lambda a, s: f"+32 {a} {s[:3]} {_pairs(s[3:])}",
        lambda a, s: f"0032 {a} {s[:3]} {s[3:]}",
        lambda a, s: f"+32 (0){a} {s[:3]} {_pairs(s[3:])}",
    ),
    mobile_styles=(lambda a, s: f"+32 {a} {_pairs(s)}", lambda a, s: f"+32 (0){a} {s}"),
)

_DE = _Country(
    region="DE",
    first_names=("Lukas", "Lea", "Felix", "Hannah", "Jonas", "Mia", "Maximilian", "Lena", "Jürgen", "Katrin"),
    last_names=(
        "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann",
    ),
    companies=(
        _Company("Rheinwerk GmbH", "rheinwerk.example"),
        _Company("Spree Medien AG", "spree-medien.example"),
    ),
    fixed=lambda rng: (rng.choice(("30", "40", "89", "221", "69")), _digits(rng, 7)),
    mobile=lambda rng: (rng.choice(("151", "160", "170", "176")), _digits(rng, 7, first="123456789")),
    fixed_styles=(
        lambda a, s: f"+49 {a} {s}",
        lambda a, s: f"+49 (0){a} {s[:3]} {s[3:]}",
        lambda a, s: f"0049 {a} {s}",
        lambda a, s: f"+49-{a}-{s}",
    ),
    mobile_styles=(lambda a, s: f"+49 {a} {s}", lambda a, s: f"+49 (0){a} {s[:4]} {s[4:]}"),
)

_GB = _Country(
    region="GB",
    first_names=("Oliver", "Amelia", "Harry", "Isla", "George", "Ava", "Jack", "Emily", "Siobhan", "Rhys"),
    last_names=("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Thomas", "O'Brien"),
    companies=(
        _Company("Thames Freight Ltd", "thamesfreight.example"),
        _Company("Pennine Health", "penninehealth.example"),
    ),
    fixed=lambda rng: ("20", rng.choice("378") + _digits(rng, 7, first="0123456789")),
    mobile=lambda rng: (rng.choice(("7911", "7700", "7400", "7802")), _digits(rng, 6, first="123456789")),
    fixed_styles=(
        lambda a, s: f"+44 {a} {s[:4]} {s[4:]}",
        lambda a, s: f"+44 (0){a} {s[:4]} {s[4:]}",
        lambda a, s: f"0044 {a} {s[:4]} {s[4:]}",
    ),
    mobile_styles=(lambda a, s: f"+44 {a} {s}", lambda a, s: f"+44 (0){a} {s[:3]} {s[3:]}"),
)

_US = _Country(
    region="US",
    first_names=(
        "James", "Olivia", "Michael", "Sophia", "Ethan", "Madison", "Tyler", "Chloe", "DeShawn", "Maria",
    ),
    last_names=(
        "Johnson", "Miller", "Davis", "Garcia", "Rodriguez", "Martinez", "Anderson", "Moore", "Clark",
    ),
    companies=(
        _Company("Hudson Analytics Inc.", "hudsonanalytics.example"),
        _Company("Golden Gate Robotics", "gg-robotics.example"),
    ),
    fixed=lambda rng: (rng.choice(("212", "415", "617", "312", "206")), _digits(rng, 7)),
    mobile=lambda rng: (rng.choice(("646", "917", "628", "773")), _digits(rng, 7)),
    fixed_styles=(
        lambda a, s: f"+1 ({a}) {s[:3]}-{s[3:]}",
        lambda a, s: f"+1 {a}-{s[:3]}-{s[3:]}",
        lambda a, s: f"+1.{a}.{s[:3]}.{s[3:]}",
        lambda a, s: f"001 {a} {s[:3]} {s[3:]}",
    ),
    mobile_styles=(lambda a, s: f"+1 ({a}) {s[:3]}-{s[3:]}", lambda a, s: f"+1 {a} {s[:3]} {s[3:]}"),
)

_FR = _Country(
    region="FR",
    first_names=("Camille", "Louis", "Chloé", "Hugo", "Léa", "Gabriel", "Manon", "Théo", "Inès", "Raphaël"),
    last_names=("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Lefèvre"),
    companies=(
        _Company("Société Lumière SARL", "lumiere.example"),
        _Company("Bordeaux Vins & Co", "bordeauxvins.example"),
    ),
    fixed=lambda rng: (rng.choice("12345"), _digits(rng, 8, first="0123456789")),
    mobile=lambda rng: (rng.choice("67"), (rng.choice("3456789") + _digits(rng, 7, first="0123456789"))),
    fixed_styles=(
        lambda a, s: f"+33 {a} {_pairs(s)}",
        lambda a, s: f"+33 (0){a} {_pairs(s)}",
        lambda a, s: f"0033 {a} {_pairs(s)}",
    ),
    mobile_styles=(lambda a, s: f"+33 {a} {_pairs(s)}", lambda a, s: f"+33 (0){a} {s}"),
)

# Home countries of the generated contacts, weighted: most of a Dutch tenant's contacts are Dutch.
_COUNTRIES: tuple[tuple[_Country, int], ...] = (
    (_NL, 55), (_BE, 10), (_DE, 10), (_GB, 10), (_US, 8), (_FR, 7),
)

_EXTENSION_STYLES: tuple[Callable[[str, str, str], str], ...] = (
    lambda a, s, ext: f"+31 {a} {s[:3]} {s[3:]} ext. {ext}",
    lambda a, s, ext: f"0{a} {s[:3]} {s[3:]} x {ext}",
)

_TITLES = (
    "Sales manager", "Account manager", "Office manager", "Purchasing", "Managing director",
    "Customer support", "Project manager", "Receptionist", "Controller", "Service engineer",
    "Head of IT", "Planner", "Legal counsel", "HR advisor", "",
)

# fmt: on

# (type, how the TYPE parameter is written in the vCard) per phone position.
_PHONE_TYPES = (("work", "WORK"), ("cell", "CELL"), ("home", "HOME"))
_WORK_VOICE = ("work,voice", "WORK,VOICE")


def _e164(number: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(number, "NL"), phonenumbers.PhoneNumberFormat.E164)


def _is_valid(number: str) -> bool:
    return phonenumbers.is_valid_number(phonenumbers.parse(number, "NL"))


def _ascii_slug(text: str, separator: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = "".join(c if c.isalnum() else " " for c in folded).split()
    return separator.join(words)


def _escape(value: str) -> str:
    """Escape a vCard 3.0 text value (RFC 2426 §4: backslash, comma, semicolon, newline)."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Fold a content line at 75 octets (RFC 2426 §2.6 / RFC 6350 §3.2) without splitting UTF-8."""
    parts: list[str] = []
    current, size, limit = "", 0, 75
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            parts.append(current)
            current, size, limit = "", 0, 74  # continuation lines start with a space
        current += char
        size += width
    parts.append(current)
    return "\r\n ".join(parts)


def _vcard(
    *, uid: str, given: str, family: str, full_name: str, company: str, email: str, title: str,
    tel_lines: Iterable[str],
) -> str:  # fmt: skip
    lines = [
        "BEGIN:VCARD",
        "VERSION:3.0",
        "PRODID:-//CTI Configurator//Demo contacts//EN",
        f"UID:{uid}",
        f"FN:{_escape(full_name)}",
        f"N:{_escape(family)};{_escape(given)};;;",
    ]
    if company:
        lines.append(f"ORG:{_escape(company)}")
    if title:
        lines.append(f"TITLE:{_escape(title)}")
    if email:
        lines.append(f"EMAIL;TYPE=INTERNET,WORK:{email}")
    lines.extend(tel_lines)
    lines.append("END:VCARD")
    return "".join(_fold(line) + "\r\n" for line in lines)


def _contact(
    index: int, *, given: str, family: str, company: str, email: str, title: str,
    phones: tuple[tuple[str, str, str], ...],
) -> DemoContact:  # fmt: skip
    """`phones` are (type, TYPE parameter as written or "", number as written)."""
    full_name = f"{given} {family}"
    uid = f"demo-{index:04d}-{_ascii_slug(full_name, '-')}"
    tel_lines = [f"TEL;TYPE={param}:{number}" if param else f"TEL:{number}" for _, param, number in phones]
    vcard = _vcard(
        uid=uid, given=given, family=family, full_name=full_name, company=company, email=email,
        title=title, tel_lines=tel_lines,
    )  # fmt: skip
    return DemoContact(
        uid=uid,
        full_name=full_name,
        company=company,
        email=email,
        title=title,
        phones=tuple((kind, number) for kind, _, number in phones),
        vcard=vcard,
    )


def _email(given: str, family: str, domain: str) -> str:
    return f"{_ascii_slug(given, '.')}.{_ascii_slug(family, '.')}@{domain}"


def demo_vcards(count: int = 240, *, seed: int = 7) -> list[DemoContact]:
    """Return `count` demo contacts (at least 5), the same ones for the same `seed`.

    See the module docstring for what the set guarantees. Raises `ValueError` for `count` < 5.
    """
    if count < _MIN_COUNT:
        raise ValueError(f"demo_vcards needs count >= {_MIN_COUNT}, got {count}")
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    used: set[str] = set()

    jan_work, jan_cell = "+31 (0)20 123 4567", "06-12345678"
    switchboard_a, switchboard_b = "030 234 5678", "+31 (0)30 2345678"
    pieter_cell, sanne_cell = "+31 6 2345 6789", "06 34 56 78 90"
    used.update(_e164(n) for n in (jan_work, jan_cell, switchboard_a, pieter_cell, sanne_cell))
    bakker = "Bakker & Zonen Installatietechniek"
    contacts = [
        _contact(
            0, given="Jan", family="Jansen", company="Acme BV", email="jan.jansen@acme.example",
            title="Sales manager", phones=(("work", "WORK", jan_work), ("cell", "CELL", jan_cell)),
        ),
        _contact(
            1, given="Pieter", family="de Vries", company=bakker,
            email="pieter.de.vries@bakkerenzonen.example", title="Managing director",
            phones=(("work", "WORK", switchboard_a), ("cell", "CELL", pieter_cell)),
        ),
        _contact(
            2, given="Sanne", family="Bakker", company=bakker, email="sanne.bakker@bakkerenzonen.example",
            title="Planner",
            phones=(("work,voice", "WORK,VOICE", switchboard_b), ("cell", "CELL", sanne_cell)),
        ),
    ]  # fmt: skip

    names_used = {"Jan Jansen", "Pieter de Vries", "Sanne Bakker"}
    countries = [country for country, _ in _COUNTRIES]
    weights = [weight for _, weight in _COUNTRIES]

    def new_number(country: _Country, *, mobile: bool, extension: bool) -> str:
        while True:
            area, subscriber = (country.mobile if mobile else country.fixed)(rng)
            if extension:
                style = rng.choice(_EXTENSION_STYLES)
                number = style(area, subscriber, str(rng.randint(10, 399)))
            else:
                styles = country.mobile_styles if mobile else country.fixed_styles
                number = rng.choice(styles)(area, subscriber)
            if _is_valid(number) and _e164(number) not in used:
                used.add(_e164(number))
                return number

    for index in range(3, count - 2):
        country = rng.choices(countries, weights)[0]
        while True:
            given, family = rng.choice(country.first_names), rng.choice(country.last_names)
            if f"{given} {family}" not in names_used:
                names_used.add(f"{given} {family}")
                break
        company = rng.choice(country.companies)
        phones: list[tuple[str, str, str]] = []
        for position in range(rng.choices((1, 2, 3), (50, 35, 15))[0]):
            kind, param = _PHONE_TYPES[position]
            if position == 0 and rng.random() < 0.3:
                kind, param = ("cell", "CELL")  # some contacts only have a mobile first
            elif position == 0 and rng.random() < 0.1:
                kind, param = _WORK_VOICE
            if position > 0 and kind == phones[0][0]:
                kind, param = ("work", "WORK")
            extension = country is _NL and kind.startswith("work") and rng.random() < 0.15
            number = new_number(country, mobile=kind == "cell", extension=extension)
            phones.append((kind, param, number))
        contacts.append(
            _contact(
                index, given=given, family=family, company=company.name,
                email=_email(given, family, company.domain), title=rng.choice(_TITLES),
                phones=tuple(phones),
            )
        )  # fmt: skip

    contacts.append(
        _contact(
            count - 2, given="Henk", family="Onleesbaar", company="Molen Bouw",
            email="henk.onleesbaar@molenbouw.example", title="Foreman",
            phones=(("", "", "call me maybe"),),
        )
    )  # fmt: skip
    contacts.append(
        _contact(
            count - 1, given="Truus", family="Tekort", company="Polder Software",
            email="truus.tekort@poldersoftware.example", title="", phones=(("", "", "+31 12"),),
        )
    )  # fmt: skip
    return contacts


_MKCOL_ADDRESS_BOOK = """<?xml version="1.0" encoding="utf-8"?>
<d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav">
  <d:set><d:prop>
    <d:resourcetype><d:collection/><c:addressbook/></d:resourcetype>
    <d:displayname>Demo contacts</d:displayname>
  </d:prop></d:set>
</d:mkcol>
"""

_PROPFIND_RESOURCETYPE = """<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/></d:prop></d:propfind>
"""


def upload_address_book(
    client: httpx.Client, *, url: str, contacts: Iterable[DemoContact], auth: tuple[str, str] | None
) -> int:
    """Create the address book at `url` if missing and PUT every contact as `{uid}.vcf`.

    The collection is made with an extended MKCOL (RFC 5689 §3, resource type
    CARDDAV:addressbook, RFC 6352 §6.3.1); existing cards are overwritten, so re-running is
    harmless. `auth` is (user, password) for HTTP Basic, None to use the client's own. Returns
    the number of cards uploaded; raises `httpx.HTTPStatusError` on an HTTP error and
    `httpx.HTTPError` on a network failure.
    """
    collection = url if url.endswith("/") else url + "/"
    with_auth: dict[str, Any] = {"auth": auth} if auth is not None else {}
    xml = {"Content-Type": "application/xml; charset=utf-8"}
    found = client.request(
        "PROPFIND", collection, content=_PROPFIND_RESOURCETYPE, headers={**xml, "Depth": "0"}, **with_auth
    )
    if found.status_code == 404:
        created = client.request("MKCOL", collection, content=_MKCOL_ADDRESS_BOOK, headers=xml, **with_auth)
        created.raise_for_status()
    else:
        found.raise_for_status()
    uploaded = 0
    for contact in contacts:
        client.put(
            urljoin(collection, quote(f"{contact.uid}.vcf")),
            content=contact.vcard.encode(),
            headers={"Content-Type": "text/vcard; charset=utf-8"},
            **with_auth,
        ).raise_for_status()
        uploaded += 1
    return uploaded
