"""Phone-number normalization for the phone cache and the matching API (libphonenumber).

Numbers are stored and compared as E.164 (ITU-T E.164: `+` country code subscriber number,
at most 15 digits); the tenant's country (or an integration's `region`) is the default region
for numbers written without a country code, so `020 123 4567`, `+31 (0)20 123 4567`,
`0031 20 1234567`, `tel:+31-20-123-4567` and `sip:0201234567@pbx.example.com;user=phone` are
all `+31201234567`.

What is read, in this order (`normalize_phone`):

- `tel:` URIs (RFC 3966): the number before the parameters, visual separators `-.()` ignored,
  `;ext=` the extension, `;phone-context=+31-20` the prefix of a local number (a domain name as
  context means the local number is read in the default region), percent-encoding decoded;
- `sip:`/`sips:` URIs (RFC 3261 §19.1): the user part (before `@`, without a `:password`),
  read like a `tel:` number (its own `;ext=`, `;isub=` parameters); the host and the URI
  parameters (`;user=phone`, `;transport=udp`) are ignored; `<…>` brackets and a display name
  before them are dropped;
- a number in any national or international notation libphonenumber reads for the region:
  trunk prefix (`0`), `+`, `00` and the region's other international prefixes (`011` in the US,
  `0011` in Australia), `+31 (0)20`, spaces, dashes, dots, slashes, brackets;
- a label before the number (`Tel.`, `Mob:`) is dropped;
- words after the number (`020 123 4567 mobile`, `(privé)`) are a comment, unless the number
  is only complete with them read as keypad letters (ITU-T E.161 vanity numbers: `1-800-FLOWERS`
  is `+18003569377`);
- an extension after `x`, `ext.`, `extension`, `toestel`, `DW`, `Durchwahl`, `poste`, `#`,
  `;ext=`, or after a `-` when the number before it is valid in the country's plan and the
  whole is not (`020 123 4567-12` in NL, while `030 1234567-12` is one direct-dial number in
  Germany);
- a country code without `+` or `00`, as some PBXs send it (`31201234567`, `18003569377`):
  taken when the number is not valid read nationally but valid as `+<digits>`.

A number libphonenumber calls valid is preferred; a merely possible one (right length) is
accepted when no reading is valid, so new number ranges still match.
"""

from __future__ import annotations

import enum
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass

import phonenumbers
from django.utils.translation.trans_null import gettext_noop  # no settings needed (the benchmark)

from integrations.texts import Text, stored_text

# What PBXs send for withheld numbers (CLIR); such calls match nothing. "anonymous.invalid" is
# RFC 3323's host of an anonymous SIP From (sip:anonymous@anonymous.invalid).
ANONYMOUS_CALLER_NUMBERS = frozenset(
    {"anonymous", "withheld", "private", "restricted", "unknown", "clir", "unavailable"}
)
# Tenants' internal numbers are at most this many digits unless the tenant says otherwise.
DEFAULT_INTERNAL_NUMBER_LENGTH = 6
# A main-number fallback removes at most this many trailing digits (the extension) from a caller.
MAIN_NUMBER_MAX_EXTENSION_DIGITS = 4
# Texts longer than this are not read (a CRM field with a whole note in it).
MAX_TEXT_LENGTH = 500

_URI = re.compile(r"^(?:[^<]*<)?\s*(tel|sips?):([^>]*)>?\s*$", re.IGNORECASE)
_TEL_VISUAL_SEPARATORS = re.compile(r"[-.()\s]")
# Words an extension is written after; a letter run that is none of these starts a comment.
_EXTENSION_WORDS = frozenset(
    {"x", "ext", "extn", "extension", "ex", "toestel", "tst", "durchwahl", "dw", "poste", "anexo", "interno"}
)
# A label before the number in a CRM field ("Tel.", "Mob:", "T:"), dropped.
_LABEL = re.compile(r"^[^\W\d_]{1,12}\.?:?\s*(?=[0-9+(])")
_LETTERS = re.compile(r"[^\W\d_]+")
_DASH_EXTENSION = re.compile(rf"^(.*[0-9])\s*-\s*([0-9]{{1,{MAIN_NUMBER_MAX_EXTENSION_DIGITS}}})$")
_NOT_ALLOWED = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_DIGITS = re.compile(r"[0-9]")


class PhoneNumberError(ValueError):
    """A text that is not a phone number; `str()` says why, in words an admin understands.

    Raised with a `Text` (one of `PROBLEMS`), so `text` gives the reason in the reader's language
    too; `str()` stays English (the JSON API's and the logs' wording).
    """

    @property
    def text(self) -> str:
        """The reason as given: a `Text` (`.translated()`, `{{ }}` in a template) or plain English."""
        return self.args[0] if self.args and isinstance(self.args[0], str) else str(self)


# Why a text is not a phone number (gettext templates of `PhoneNumberError`'s Text).
_EXTENSION_NOT_DIGITS = gettext_noop('the extension "%(extension)s" of the %(scheme)s: URI is not digits')
_EMPTY = gettext_noop("the number is empty")
_TOO_LONG = gettext_noop("the text is longer than %(limit)s characters, not a phone number")
_CONTROL_CHARACTERS = gettext_noop(
    "%(text)s contains control characters that do not belong in a phone number"
)
_AN_ADDRESS = gettext_noop('"%(raw)s" is an address, not a phone number')
_URI_WITHOUT_NUMBER = gettext_noop('"%(raw)s" is a %(scheme)s: address without a phone number')
_WRONG_CHARACTERS = gettext_noop('"%(raw)s" contains characters that do not belong in a phone number')
_NOT_A_NUMBER = gettext_noop('"%(raw)s" is not a phone number')
_WRONG_LENGTH = gettext_noop('"%(raw)s" has the wrong number of digits for a phone number of its country')
PROBLEMS = (
    _EXTENSION_NOT_DIGITS,
    _EMPTY,
    _TOO_LONG,
    _CONTROL_CHARACTERS,
    _AN_ADDRESS,
    _URI_WITHOUT_NUMBER,
    _WRONG_CHARACTERS,
    _NOT_A_NUMBER,
    _WRONG_LENGTH,
)
_PROBLEM_PATTERNS = tuple(
    (
        template,
        re.compile(
            "".join(
                f"(?P<{part[2:-2]}>.*)" if part.startswith("%(") else re.escape(part)
                for part in re.split(r"(%\([a-z]+\)s)", template)
            ),
            re.DOTALL,
        ),
    )
    for template in PROBLEMS
)


def problem_text(english: str) -> str:
    """A stored `str(PhoneNumberError)` (English) in the active language.

    Read back into its `PROBLEMS` template and parameters when it is one of them whole (a reason
    cut short, or any other text, is given as the catalog translates it as a whole, else as is).
    """
    for template, pattern in _PROBLEM_PATTERNS:
        found = pattern.fullmatch(english)
        if found is not None:
            text = Text(template, **found.groupdict())
            if str(text) == english:
                return text.translated()
    return stored_text(english, None)


class CallerKind(enum.StrEnum):
    """What a caller number is: a number to match, an internal extension, withheld, or nothing."""

    EXTERNAL = "external"
    INTERNAL = "internal"
    ANONYMOUS = "anonymous"
    EMPTY = "empty"


@dataclass(frozen=True)
class NormalizedNumber:
    """A parsed number: `e164` like "+31201234567", `extension` like "12" or ""."""

    e164: str
    extension: str


@dataclass(frozen=True)
class CallerReading:
    """How a caller number was read: its `kind` and, for "external", its `number`."""

    kind: CallerKind
    number: NormalizedNumber | None = None


@dataclass(frozen=True)
class _Unwrapped:
    text: str
    extension: str = ""
    from_uri: str = ""  # "tel", "sip" or "" (plain text)


def _unwrap_uri(text: str) -> _Unwrapped:
    """The number part of a `tel:`/`sip:`/`sips:` URI (see the module docstring); plain text as is."""
    found = _URI.match(text)
    if found is None:
        return _Unwrapped(text)
    scheme, rest = found.group(1).lower(), found.group(2).strip()
    if scheme in {"sip", "sips"}:
        if "@" in rest:
            rest = rest.rsplit("@", 1)[0]
            rest = rest.split(":", 1)[0]  # user:password@host
        else:
            rest = rest.split(";", 1)[0]  # sip:0201234567 without a host: read what is there
        if rest.lower() == "anonymous":
            return _Unwrapped("anonymous", from_uri="sip")
    number, *params = rest.split(";")
    extension = ""
    context = ""
    for param in params:
        name, _, value = param.partition("=")
        name = name.strip().lower()
        if name == "ext":
            extension = urllib.parse.unquote(value)
        elif name == "phone-context":
            context = urllib.parse.unquote(value)
    number = _TEL_VISUAL_SEPARATORS.sub("", urllib.parse.unquote(number))
    context_digits = _TEL_VISUAL_SEPARATORS.sub("", context)
    if not number.startswith("+") and context_digits.startswith("+"):
        number = context_digits + number
    extension = _TEL_VISUAL_SEPARATORS.sub("", extension)
    if extension and not extension.isdigit():
        raise PhoneNumberError(Text(_EXTENSION_NOT_DIGITS, extension=extension, scheme=scheme))
    return _Unwrapped(number, extension=extension, from_uri="sip" if scheme.startswith("sip") else "tel")


def _strip_comment(text: str) -> str:
    """`text` up to the first word that is not an extension marker (the rest is a comment), with
    each extension marker written as libphonenumber reads it (" ext ")."""
    parts: list[str] = []
    end = 0
    for word in _LETTERS.finditer(text):
        if word.group().lower() not in _EXTENSION_WORDS:
            parts.append(text[end : word.start()])
            return "".join(parts).rstrip(" \t([{,;:-/")
        # ";ext=102" as vCard 4 TEL values carry it without "tel:" (RFC 3966 parameter syntax).
        parts.append(text[end : word.start()].rstrip(" \t;") + " ext ")
        end = word.end()
        while end < len(text) and text[end] in ".:=":
            end += 1
    return "".join(parts) + text[end:]


def _parse(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region or None)
    except phonenumbers.NumberParseException:
        return None


def _readings(text: str, region: str) -> Iterator[phonenumbers.PhoneNumber]:
    """The ways `text` can be read, best first (see the module docstring); lazily, so the caller
    stops at the first valid one."""
    plain = _strip_comment(text)
    variants = [plain]
    if plain != text and sum(1 for c in text if c.isalpha() and c.isascii()) >= 3:
        variants.append(phonenumbers.convert_alpha_characters_in_number(text))  # ITU-T E.161 vanity
    for variant in variants:
        if variant is not plain:
            # A vanity reading counts only when the result is a valid number: "+31 20 abc" is a
            # number with a comment, not the seven-digit +3120222.
            yield from (n for n in _variant_readings(variant, region) if phonenumbers.is_valid_number(n))
        else:
            yield from _variant_readings(variant, region)


def _variant_readings(variant: str, region: str) -> Iterator[phonenumbers.PhoneNumber]:
    """The readings of one spelling of the number: as written, with "+" before digits sent
    without one, and with a dash extension split off."""
    number = _parse(variant, region)
    if number is not None:
        yield number
    stripped = variant.lstrip(" \t(")
    if not stripped.startswith("+") and not stripped.startswith("00"):
        digits = phonenumbers.normalize_digits_only(variant)
        if number is not None and number.extension:
            digits = digits[: -len(number.extension)]
        with_plus = _parse(f"+{digits}", region) if digits else None
        if with_plus is not None:
            if number is not None and number.extension:
                with_plus.extension = number.extension
            yield with_plus
    dash = _DASH_EXTENSION.match(variant)
    if dash is not None:
        main = _parse(dash.group(1), region)
        if main is not None:
            main.extension = dash.group(2)
            yield main


def normalize_phone(raw: str, *, country: str) -> NormalizedNumber:
    """Parse `raw` as written in a CRM or sent by a PBX into E.164 plus an extension.

    `country` is the ISO 3166 alpha-2 default region ("" for none: then only international
    notations are read). Accepts every notation the module docstring lists. Raises
    `PhoneNumberError` when the text is empty, longer than `MAX_TEXT_LENGTH`, holds control
    characters, does not start like a number (a digit, `+`, `(`, or a URI scheme), or has no
    reading that is a possible number of its country.
    """
    text = raw.strip()
    if not text:
        raise PhoneNumberError(Text(_EMPTY))
    if len(text) > MAX_TEXT_LENGTH:
        raise PhoneNumberError(Text(_TOO_LONG, limit=MAX_TEXT_LENGTH))
    if _NOT_ALLOWED.search(text):
        raise PhoneNumberError(Text(_CONTROL_CHARACTERS, text=ascii(raw)[:60]))
    unwrapped = _unwrap_uri(text)
    body = unwrapped.text.strip()
    if not unwrapped.from_uri:
        if "@" in body:
            raise PhoneNumberError(Text(_AN_ADDRESS, raw=raw))
        body = _LABEL.sub("", body, count=1)
    if unwrapped.from_uri and not (_DIGITS.search(body) and (body[0].isdigit() or body[0] in "+(")):
        raise PhoneNumberError(Text(_URI_WITHOUT_NUMBER, raw=raw, scheme=unwrapped.from_uri))
    if not body or not ((body[0].isdigit() and body[0].isascii()) or body[0] in "+("):
        raise PhoneNumberError(Text(_WRONG_CHARACTERS, raw=raw))
    chosen: phonenumbers.PhoneNumber | None = None
    possible: phonenumbers.PhoneNumber | None = None
    any_reading = False
    for reading in _readings(body, country):
        any_reading = True
        if phonenumbers.is_valid_number(reading):
            chosen = reading
            break
        if possible is None and phonenumbers.is_possible_number(reading):
            possible = reading
    chosen = chosen or possible
    if chosen is None:
        if not any_reading:
            raise PhoneNumberError(Text(_NOT_A_NUMBER, raw=raw))
        raise PhoneNumberError(Text(_WRONG_LENGTH, raw=raw))
    return NormalizedNumber(
        e164=phonenumbers.format_number(chosen, phonenumbers.PhoneNumberFormat.E164),
        extension=unwrapped.extension or chosen.extension or "",
    )


def _digit_count(text: str) -> int:
    return sum(1 for c in text if c.isdigit())


def extract_numbers(raw: str, *, country: str) -> list[NormalizedNumber]:
    """Every phone number in a CRM field, in the order written, without repeats.

    A field with one number (in any notation `normalize_phone` reads) yields that number; a
    field with several ("020 123 4567 / 06 12345678", "020 1234567, 06-12345678 (mobiel)")
    yields each that libphonenumber's `PhoneNumberMatcher` finds valid (`Leniency.VALID`).
    Raises `PhoneNumberError` (why the whole text cannot be read) when it holds no number.
    """
    try:
        single = normalize_phone(raw, country=country)
    except PhoneNumberError as exc:
        single, problem = None, exc
    text = raw.strip()
    if single is not None and _digit_count(text) <= len(single.e164) - 1 + len(single.extension) + 3:
        return [single]  # no room for a second number: the trunk prefix, "00" or "(0)" at most
    if len(text) > MAX_TEXT_LENGTH or _URI.match(text):
        if single is None:
            raise problem
        return [single]
    found: list[NormalizedNumber] = []
    try:
        matcher = phonenumbers.PhoneNumberMatcher(text, country or None, leniency=phonenumbers.Leniency.VALID)
        for match in matcher:
            number = NormalizedNumber(
                e164=phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164),
                extension=match.number.extension or "",
            )
            if number not in found:
                found.append(number)
    except Exception:  # the matcher on odd text must not stop a sync: the single reading stands
        found = []
    if len(found) >= 2:
        return found
    if single is not None:
        return [single]
    if found:
        return found
    raise problem


def read_caller(
    raw: str, *, country: str, internal_length: int = DEFAULT_INTERNAL_NUMBER_LENGTH
) -> CallerReading:
    """Read the caller number a PBX sent.

    "empty" for blank text; "anonymous" for a withheld-number word (`ANONYMOUS_CALLER_NUMBERS`,
    any case, also as `sip:anonymous@anonymous.invalid`, RFC 3323); "internal" for at most
    `internal_length` digits, or digits after a `*` (a PBX feature code), also as a
    `sip:`/`tel:` user part;
    else "external" with the number (`normalize_phone`, which raises `PhoneNumberError`).
    """
    text = raw.strip()
    if not text:
        return CallerReading(CallerKind.EMPTY)
    if text.lower() in ANONYMOUS_CALLER_NUMBERS:
        return CallerReading(CallerKind.ANONYMOUS)
    try:
        unwrapped = _unwrap_uri(text)
    except PhoneNumberError:
        unwrapped = _Unwrapped(text)
    body = unwrapped.text.strip()
    if body.lower() in ANONYMOUS_CALLER_NUMBERS:
        return CallerReading(CallerKind.ANONYMOUS)
    if re.fullmatch(rf"[0-9]{{1,{max(1, internal_length)}}}|\*[0-9]+", body):
        return CallerReading(CallerKind.INTERNAL)
    return CallerReading(CallerKind.EXTERNAL, normalize_phone(text, country=country))


def main_number_candidates(e164: str) -> list[str]:
    """The main numbers a caller `e164` may be an extension of, longest first.

    `e164` without its last 1..`MAIN_NUMBER_MAX_EXTENSION_DIGITS` digits, each kept only when it
    is still a possible number of its country (libphonenumber), so "+31201234512" gives
    "+3120123451", "+312012345" … but never a bare country code.
    """
    candidates: list[str] = []
    for cut in range(1, MAIN_NUMBER_MAX_EXTENSION_DIGITS + 1):
        prefix = e164[:-cut]
        if len(prefix) < 4:
            break
        number = _parse(prefix, "")
        if number is not None and phonenumbers.is_possible_number(number):
            candidates.append(prefix)
    return candidates
