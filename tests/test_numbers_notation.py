"""Every notation of the same number matches; different numbers never do (issue 9, item 1).

The table pairs a number as a CRM stores it with the number as a PBX sends it, in the tenant's
country, and says whether they must match. A pair matches exactly when the phone cache would
hold a row for the caller: one of the numbers `extract_numbers` reads from the stored field
(the sync's reading) equals the number `read_caller` reads from the caller (the match API's).
The property tests check that reading is idempotent and that every notation libphonenumber
formats for a valid number reads back to it.
"""

from __future__ import annotations

import contextlib

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from integrations.phones import (
    CallerKind,
    NormalizedNumber,
    PhoneNumberError,
    extract_numbers,
    main_number_candidates,
    normalize_phone,
    read_caller,
)


def matches(stored: str, caller: str, country: str, *, crm_region: str = "") -> bool:
    """Whether a caller `caller` finds a record whose phone field is `stored` (see the module doc)."""
    try:
        numbers = {n.e164 for n in extract_numbers(stored, country=crm_region or country)}
    except PhoneNumberError:
        return False
    try:
        reading = read_caller(caller, country=country)
    except PhoneNumberError:
        return False
    return reading.number is not None and reading.number.e164 in numbers


MATCH, NO = True, False

PAIRS = [
    # --- Netherlands: trunk prefix, +, 00, (0), separators, URIs, PBX without +, extensions
    ("020 123 4567", "+31201234567", "NL", MATCH),
    ("020-1234567", "0031201234567", "NL", MATCH),
    ("+31 (0)20 123 4567", "0201234567", "NL", MATCH),
    ("+31 (0)20 - 123 45 67", "+31 20 123 4567", "NL", MATCH),
    ("(020) 123.45.67", "31201234567", "NL", MATCH),
    ("020/1234567", "tel:+31-20-123-4567", "NL", MATCH),
    ("0031 (0)20 1234567", "sip:+31201234567@pbx.example.nl;user=phone", "NL", MATCH),
    ("020 123 4567", "sips:0201234567@pbx.example.nl", "NL", MATCH),
    ("020 123 4567", "<sip:0031201234567@10.0.0.1:5060;transport=udp>", "NL", MATCH),
    ("020 123 4567", '"Receptie" <sip:+31201234567@pbx.example.nl>', "NL", MATCH),
    ("020 123 4567", "tel:1234567;phone-context=+31-20", "NL", MATCH),
    ("020 123 4567", "tel:020-123-4567;phone-context=example.nl", "NL", MATCH),
    ("020 123 4567", "tel:%2B31201234567", "NL", MATCH),
    ("020 123 4567 mobiel", "+31201234567", "NL", MATCH),
    ("020 123 4567 (privé)", "+31201234567", "NL", MATCH),
    ("020 123 4567 x 12", "+31201234567", "NL", MATCH),
    ("+31 20 123 4567 ext. 12", "0201234567", "NL", MATCH),
    ("020 123 4567#12", "0201234567", "NL", MATCH),
    ("020 1234567-12", "0201234567", "NL", MATCH),
    ("tel:+31-20-123-4567;ext=12", "0201234567", "NL", MATCH),
    ("06 12345678", "+31612345678", "NL", MATCH),
    ("06-12 34 56 78", "0031 6 12345678", "NL", MATCH),
    ("+31 6 1234 5678", "31612345678", "NL", MATCH),
    ("0800 1234", "+31 800 1234", "NL", MATCH),
    ("020 123 4567 / 06 12345678", "+31612345678", "NL", MATCH),
    ("020 123 4567 / 06 12345678", "0201234567", "NL", MATCH),
    ("020 123 4567, 06-12345678 (mobiel)", "+31 6 12345678", "NL", MATCH),
    ("tel. 020 123 4567 of 06 12345678", "0612345678", "NL", MATCH),
    ("Tel.: 020 123 4567", "+31201234567", "NL", MATCH),
    ("mobiel: 06 12345678 (privé)", "+31612345678", "NL", MATCH),
    ("020 123 4567 toestel 12", "0201234567", "NL", MATCH),
    ("020 123 4567", "020 123 4568", "NL", NO),
    ("020 123 4567", "+32 20 123 4567", "NL", NO),
    ("020 123 4567", "201", "NL", NO),
    ("020 123 4567", "*12", "NL", NO),
    ("020 123 4567", "anonymous", "NL", NO),
    ("020 123 4567", "Withheld", "NL", NO),
    ("020 123 4567", "sip:anonymous@anonymous.invalid", "NL", NO),
    ("020 123 4567", "", "NL", NO),
    ("020 123 4567 / 06 12345678", "+31612345679", "NL", NO),
    ("020 123 4567", "0201234567 1", "NL", NO),
    ("06 12345678", "+31 6 1234567", "NL", NO),
    ("n.v.t.", "0201234567", "NL", NO),
    # --- Belgium
    ("02 555 12 12", "+3225551212", "BE", MATCH),
    ("+32 (0)2 555 12 12", "003225551212", "BE", MATCH),
    ("02/555.12.12", "3225551212", "BE", MATCH),
    ("0470 12 34 56", "+32 470 12 34 56", "BE", MATCH),
    ("0470/12.34.56", "tel:+32-470-12-34-56", "BE", MATCH),
    ("012 34 56 78", "+32 12 34 56 78", "BE", MATCH),
    ("0800 12 345", "+32 800 12 345", "BE", MATCH),
    ("02 555 12 12", "+32 2 555 12 13", "BE", NO),
    ("02 555 12 12", "+31 2 555 12 12", "BE", NO),
    ("0470 12 34 56", "+32 471 12 34 56", "BE", NO),
    # --- Germany: variable length, direct-dial numbers after a dash
    ("030 1234567", "+49301234567", "DE", MATCH),
    ("+49 (0)30 1234567", "0049 30 1234567", "DE", MATCH),
    ("(030) 123 45 67", "49301234567", "DE", MATCH),
    ("030/1234567", "sip:+49301234567@sipgate.de", "DE", MATCH),
    ("030 1234567-12", "+4930123456712", "DE", MATCH),
    ("030 1234567-12", "030 1234567 12", "DE", MATCH),
    ("01512 3456789", "+49 1512 3456789", "DE", MATCH),
    ("0151-23456789", "004915123456789", "DE", MATCH),
    ("030 123456", "+49 30 123456", "DE", MATCH),
    ("030 1234567 DW 12", "+49301234567", "DE", MATCH),
    ("Tel. 030 1234567", "+49301234567", "DE", MATCH),
    ("030 1234567-12", "+49301234567", "DE", NO),
    ("030 1234567", "+49301234568", "DE", NO),
    ("030 1234567", "+43 30 1234567", "DE", NO),
    # --- France
    ("01 23 45 67 89", "+33123456789", "FR", MATCH),
    ("+33 (0)1 23 45 67 89", "0033 1 23 45 67 89", "FR", MATCH),
    ("01.23.45.67.89", "33123456789", "FR", MATCH),
    ("06 12 34 56 78", "+33 6 12 34 56 78", "FR", MATCH),
    ("06-12-34-56-78", "tel:+33-6-12-34-56-78", "FR", MATCH),
    ("0 801 23 45 67", "+33 801 23 45 67", "FR", MATCH),
    ("01 23 45 67 89 poste 12", "+33 1 23 45 67 89", "FR", MATCH),
    ("01 23 45 67 89", "+33 1 23 45 67 88", "FR", NO),
    ("01 23 45 67 89", "+32 1 23 45 67 89", "FR", NO),
    # --- United Kingdom
    ("020 7946 0958", "+442079460958", "GB", MATCH),
    ("+44 (0)20 7946 0958", "00442079460958", "GB", MATCH),
    ("(020) 7946-0958", "442079460958", "GB", MATCH),
    ("0121 234 5678", "+44 121 234 5678", "GB", MATCH),
    ("07400 123456", "+44 7400 123456", "GB", MATCH),
    ("07400 123 456", "sip:+447400123456@voip.example.co.uk;user=phone", "GB", MATCH),
    ("0800 123 4567", "+44 800 123 4567", "GB", MATCH),
    ("020 7946 0958", "+44 20 7946 0959", "GB", NO),
    ("020 7946 0958", "+1 20 7946 0958", "GB", NO),
    # --- United States: vanity letters, 011, 1 prefix, x extensions
    ("(201) 555-0123", "+12015550123", "US", MATCH),
    ("201-555-0123", "12015550123", "US", MATCH),
    ("201.555.0123", "1 (201) 555-0123", "US", MATCH),
    ("+1 201-555-0123", "2015550123", "US", MATCH),
    ("(201) 555-0123 x 456", "+12015550123", "US", MATCH),
    ("201-555-0123 ext. 456", "tel:+1-201-555-0123;ext=456", "US", MATCH),
    ("1-800-FLOWERS", "+18003569377", "US", MATCH),
    ("1-800-FLOWERS", "18003569377", "US", MATCH),
    ("1 800 FLOWERS", "(800) 356-9377", "US", MATCH),
    ("800-FLOWERS", "tel:+1-800-356-9377", "US", MATCH),
    ("(800) 234-5678", "+1 800 234 5678", "US", MATCH),
    ("+44 20 7946 0958", "011 44 20 7946 0958", "US", MATCH),
    ("(201) 555-0123 cell", "2015550123", "US", MATCH),
    ("(201) 555-0123 / (201) 555-0199", "+12015550199", "US", MATCH),
    ("1-800-FLOWERS", "+18003569378", "US", NO),
    ("(201) 555-0123", "+1 201 555 0124", "US", NO),
    ("(201) 555-0123", "+1 202 555 0123", "US", NO),
    ("(201) 555-0123", "555-0123", "US", NO),
    # --- Canada (shares +1)
    ("(506) 234-5678", "+15062345678", "CA", MATCH),
    ("506-234-5678", "1-506-234-5678", "CA", MATCH),
    ("1-800-FLOWERS", "+1 800 356 9377", "CA", MATCH),
    ("(506) 234-5678", "+1 506 234 5679", "CA", NO),
    # --- Switzerland
    ("021 234 56 78", "+41212345678", "CH", MATCH),
    ("+41 (0)21 234 56 78", "0041 21 234 56 78", "CH", MATCH),
    ("078 123 45 67", "41781234567", "CH", MATCH),
    ("0800 123 456", "+41 800 123 456", "CH", MATCH),
    ("021 234 56 78", "+41 21 234 56 79", "CH", NO),
    # --- Austria
    ("01 234567890", "+431234567890", "AT", MATCH),
    ("+43 (0)1 234567890", "0043 1 234567890", "AT", MATCH),
    ("0664 123456", "+43 664 123456", "AT", MATCH),
    ("0664/123456", "43664123456", "AT", MATCH),
    ("0664 123456", "+43 664 123457", "AT", NO),
    # --- Spain (no trunk prefix)
    ("810 12 34 56", "+34810123456", "ES", MATCH),
    ("612 34 56 78", "0034 612 34 56 78", "ES", MATCH),
    ("612345678", "34612345678", "ES", MATCH),
    ("800 123 456", "+34 800 123 456", "ES", MATCH),
    ("612 34 56 78", "+34 612 34 56 79", "ES", NO),
    # --- Italy (the leading 0 is part of the number)
    ("02 1234 5678", "+390212345678", "IT", MATCH),
    ("+39 02 1234 5678", "0039 02 1234 5678", "IT", MATCH),
    ("312 345 6789", "+39 312 345 6789", "IT", MATCH),
    ("800 123 456", "+39 800 123 456", "IT", MATCH),
    ("02 1234 5678", "+39 2 1234 5678", "IT", NO),
    # --- Australia: 0011 international prefix
    ("(02) 1234 5678", "+61212345678", "AU", MATCH),
    ("02 1234 5678", "0011 61 2 1234 5678", "AU", MATCH),
    ("0412 345 678", "+61 412 345 678", "AU", MATCH),
    ("0412-345-678", "61412345678", "AU", MATCH),
    ("1800 123 456", "+61 1800 123 456", "AU", MATCH),
    ("+44 20 7946 0958", "0011 44 20 7946 0958", "AU", MATCH),
    ("0412 345 678", "+61 412 345 679", "AU", NO),
    # --- Japan: 010 international prefix
    ("03-1234-5678", "+81312345678", "JP", MATCH),
    ("03-1234-5678", "010 81 3 1234 5678", "JP", MATCH),
    ("090-1234-5678", "+81 90-1234-5678", "JP", MATCH),
    ("0120-123-456", "+81 120 123 456", "JP", MATCH),
    ("03-1234-5678", "+81 3 1234 5670", "JP", NO),
    # --- Brazil
    ("(11) 2345-6789", "+551123456789", "BR", MATCH),
    ("(11) 96123-4567", "+55 11 96123-4567", "BR", MATCH),
    ("11 96123 4567", "5511961234567", "BR", MATCH),
    ("(11) 96123-4567", "+55 11 96123-4568", "BR", NO),
    # --- India
    ("074104 10123", "+917410410123", "IN", MATCH),
    ("081234 56789", "+91 81234 56789", "IN", MATCH),
    ("081234 56789", "918123456789", "IN", MATCH),
    ("081234 56789", "+91 81234 56788", "IN", NO),
    # --- Sweden
    ("08-12 34 56", "+468123456", "SE", MATCH),
    ("070-123 45 67", "+46 70 123 45 67", "SE", MATCH),
    ("070-123 45 67", "0046 70 123 45 67", "SE", MATCH),
    ("070-123 45 67", "+46 70 123 45 68", "SE", NO),
    # --- South Africa
    ("010 123 4567", "+27101234567", "ZA", MATCH),
    ("071 123 4567", "+27 71 123 4567", "ZA", MATCH),
    ("071 123 4567", "27711234567", "ZA", MATCH),
    ("010 123 4567", "+31101234567", "ZA", NO),
    # --- Ireland
    ("(022) 12345", "+3532212345", "IE", MATCH),
    ("085 012 3456", "+353 85 012 3456", "IE", MATCH),
    ("085 012 3456", "00353850123456", "IE", MATCH),
    ("085 012 3456", "+353 85 012 3457", "IE", NO),
    # --- Poland
    ("12 345 67 89", "+48123456789", "PL", MATCH),
    ("512 345 678", "+48 512 345 678", "PL", MATCH),
    ("512-345-678", "0048512345678", "PL", MATCH),
    ("512 345 678", "+48 512 345 679", "PL", NO),
    # --- Denmark (no trunk prefix)
    ("32 12 34 56", "+4532123456", "DK", MATCH),
    ("32 12 34 56", "004532123456", "DK", MATCH),
    ("32 12 34 56", "+45 32 12 34 57", "DK", NO),
    # --- New Zealand
    ("03 234 5678", "+6432345678", "NZ", MATCH),
    ("021 123 4567", "+64 21 123 4567", "NZ", MATCH),
    ("021 123 4567", "+64 21 123 4568", "NZ", NO),
    # --- numbers of another country stored in a tenant's CRM
    ("+32 2 555 12 12", "003225551212", "NL", MATCH),
    ("0032 2 555 12 12", "+32 (0)2 555 12 12", "NL", MATCH),
    ("+49 30 1234567", "0049301234567", "NL", MATCH),
    ("+1 (201) 555-0123", "0012015550123", "NL", MATCH),
    ("+1-800-FLOWERS", "0018003569377", "NL", MATCH),
    ("+33 1 23 45 67 89", "tel:+33123456789", "DE", MATCH),
    ("+31 20 123 4567", "011 31 20 123 4567", "US", MATCH),
    ("+31 20 123 4567", "0011 31 20 123 4567", "AU", MATCH),
    # --- a PBX sending the country code without + of a foreign number
    ("+1 800 356 9377", "18003569377", "NL", MATCH),
    ("+44 20 7946 0958", "442079460958", "NL", MATCH),
    ("+32 2 555 12 12", "3225551212", "DE", MATCH),
]


def test_the_table_is_as_large_and_wide_as_the_issue_asks() -> None:
    assert len(PAIRS) >= 150
    assert len({country for _, _, country, _ in PAIRS}) >= 12
    assert sum(1 for *_, expected in PAIRS if not expected) >= 30
    callers = [caller for _, caller, _, _ in PAIRS]
    assert any(c.startswith("tel:") for c in callers)
    assert any(c.startswith("sip") for c in callers)
    assert any(any(ch.isalpha() for ch in stored.split()[0]) for stored, *_ in PAIRS)  # vanity


@pytest.mark.parametrize(("stored", "caller", "country", "expected"), PAIRS)
def test_a_stored_number_and_a_caller_match_exactly_when_they_are_the_same_number(
    stored: str, caller: str, country: str, expected: bool
) -> None:
    assert matches(stored, caller, country) is expected


# An integration's region overrides the tenant's country for its CRM's numbers: a Dutch tenant
# with the CRM of its Belgian office.
REGION_PAIRS = [
    ("02 555 12 12", "+32 2 555 12 12", "NL", "BE", MATCH),
    ("02 555 12 12", "+31 2 555 12 12", "NL", "BE", NO),
    ("0470 12 34 56", "0032470123456", "NL", "BE", MATCH),
    ("030 1234567", "+49 30 1234567", "NL", "DE", MATCH),
    ("030 1234567", "030 1234567", "NL", "DE", NO),  # the caller is read in the tenant's NL
    ("(201) 555-0123", "0012015550123", "NL", "US", MATCH),
    ("+31 20 123 4567", "0201234567", "NL", "BE", MATCH),
]


@pytest.mark.parametrize(("stored", "caller", "country", "region", "expected"), REGION_PAIRS)
def test_the_integrations_region_reads_its_crms_numbers(
    stored: str, caller: str, country: str, region: str, expected: bool
) -> None:
    assert matches(stored, caller, country, crm_region=region) is expected


@pytest.mark.parametrize(
    ("raw", "country", "e164", "extension"),
    [
        ("tel:+1-201-555-0123;ext=1234", "US", "+12015550123", "1234"),
        ("tel:+1-201-555-0123;isub=1411;ext=99", "NL", "+12015550123", "99"),
        ("sip:+31-20-123-4567;ext=12@pbx.example.nl;user=phone", "NL", "+31201234567", "12"),
        ("sip:0201234567:secret@pbx.example.nl", "NL", "+31201234567", ""),
        ("SIP:+31201234567@PBX", "NL", "+31201234567", ""),
        ("020 123 4567 extension 7", "NL", "+31201234567", "7"),
        ("020 1234567-12", "NL", "+31201234567", "12"),
        ("030 1234567-12", "DE", "+4930123456712", ""),
        ("1-800-FLOWERS", "US", "+18003569377", ""),
        ("0800-REPAIR", "NL", "+31800737247", ""),
        ("31201234567", "NL", "+31201234567", ""),
        ("18003569377", "NL", "+18003569377", ""),
        ("+31-20-555-1234;ext=102", "NL", "+31205551234", "102"),  # a vCard 4 TEL value without "tel:"
    ],
)
def test_uris_extensions_vanity_and_bare_country_codes_are_read(
    raw: str, country: str, e164: str, extension: str
) -> None:
    assert normalize_phone(raw, country=country) == NormalizedNumber(e164=e164, extension=extension)


@pytest.mark.parametrize(
    "raw",
    [
        "sip:alice@example.com",
        "tel:;ext=12",
        "tel:+31201234567;ext=abc",
        "javascript:alert(1)",
        "call me maybe",
        "020 1",
        "+31 12",
        "0" * 600,
        "mailto:0201234567@example.com",
        "+31 20 abc",  # a comment after too few digits, not the vanity number +3120222
        "020 abc",
    ],
)
def test_what_is_not_a_number_is_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(PhoneNumberError) as exc:
        normalize_phone(raw, country="NL")
    assert str(exc.value)


def test_several_numbers_in_one_field_yield_each_in_order() -> None:
    numbers = extract_numbers("020 123 4567 / 06 12345678; +32 2 555 12 12", country="NL")

    assert [n.e164 for n in numbers] == ["+31201234567", "+31612345678", "+3225551212"]


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("", CallerKind.EMPTY),
        ("   ", CallerKind.EMPTY),
        ("anonymous", CallerKind.ANONYMOUS),
        ("RESTRICTED", CallerKind.ANONYMOUS),
        ("Unknown", CallerKind.ANONYMOUS),
        ("unavailable", CallerKind.ANONYMOUS),
        ("sip:anonymous@anonymous.invalid", CallerKind.ANONYMOUS),
        ("201", CallerKind.INTERNAL),
        ("123456", CallerKind.INTERNAL),
        ("*31", CallerKind.INTERNAL),
        ("sip:201@pbx.example.nl", CallerKind.INTERNAL),
        ("0201234567", CallerKind.EXTERNAL),
        ("tel:+31201234567", CallerKind.EXTERNAL),
    ],
)
def test_callers_are_read_as_their_kind(raw: str, kind: CallerKind) -> None:
    reading = read_caller(raw, country="NL")

    assert reading.kind == kind
    assert (reading.number is not None) is (kind == CallerKind.EXTERNAL)


def test_the_internal_number_length_is_the_tenants() -> None:
    assert read_caller("123", country="NL", internal_length=3).kind == CallerKind.INTERNAL
    assert read_caller("12345678", country="NL", internal_length=8).kind == CallerKind.INTERNAL
    try:
        kind = read_caller("1234567", country="NL", internal_length=6).kind
    except PhoneNumberError:
        kind = CallerKind.EXTERNAL  # read as an outside number, which this is not
    assert kind == CallerKind.EXTERNAL


def test_main_number_candidates_drop_up_to_four_trailing_digits() -> None:
    assert main_number_candidates("+31201234512") == ["+3120123451", "+312012345", "+31201234", "+3120123"]
    assert main_number_candidates("+3120") == []


# --- property tests -------------------------------------------------------------------------

REGIONS = [
    "NL",
    "BE",
    "DE",
    "FR",
    "GB",
    "US",
    "CA",
    "CH",
    "AT",
    "ES",
    "IT",
    "AU",
    "JP",
    "BR",
    "IN",
    "SE",
    "ZA",
]
TYPES = [PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.TOLL_FREE]


@st.composite
def valid_numbers(draw: st.DrawFn) -> tuple[str, phonenumbers.PhoneNumber]:
    """A valid number of a region: its example number with random last digits, kept if valid."""
    region = draw(st.sampled_from(REGIONS))
    kind = draw(st.sampled_from(TYPES))
    example = phonenumbers.example_number_for_type(region, kind)
    if example is None:
        example = phonenumbers.example_number(region)
    assert example is not None
    national = str(example.national_number)
    tail = draw(st.text("0123456789", min_size=3, max_size=3))
    number = phonenumbers.PhoneNumber(
        country_code=example.country_code,
        national_number=int(national[:-3] + tail),
        italian_leading_zero=example.italian_leading_zero,
        number_of_leading_zeros=example.number_of_leading_zeros,
    )
    if not phonenumbers.is_valid_number_for_region(number, region):
        number = example
    return region, number


FORMATS = [
    PhoneNumberFormat.E164,
    PhoneNumberFormat.INTERNATIONAL,
    PhoneNumberFormat.NATIONAL,
    PhoneNumberFormat.RFC3966,
]


@settings(max_examples=300, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(valid_numbers(), st.sampled_from(REGIONS))
def test_every_notation_libphonenumber_formats_matches_the_number(
    drawn: tuple[str, phonenumbers.PhoneNumber], caller_region: str
) -> None:
    region, number = drawn
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    for fmt in FORMATS:
        written = phonenumbers.format_number(number, fmt)
        assert normalize_phone(written, country=region).e164 == e164, (written, region)
        assert matches(written, e164, caller_region, crm_region=region), (written, region)
    # As dialled from another country, with that country's international prefix.
    dialled = phonenumbers.format_out_of_country_calling_number(number, caller_region)
    assert normalize_phone(dialled, country=caller_region).e164 == e164, (dialled, caller_region)
    assert matches(
        phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL),
        dialled,
        caller_region,
        crm_region=region,
    )


@settings(max_examples=300, derandomize=True)
@given(
    st.one_of(
        st.text(alphabet="0123456789 +-()./x#;=abcTELSIP:@", max_size=30),
        valid_numbers().map(lambda d: phonenumbers.format_number(d[1], PhoneNumberFormat.NATIONAL)),
    ),
    st.sampled_from(REGIONS),
)
def test_normalization_is_idempotent(text: str, region: str) -> None:
    try:
        once = normalize_phone(text, country=region)
    except PhoneNumberError:
        return
    twice = normalize_phone(once.e164, country=region)
    assert twice.e164 == once.e164
    assert normalize_phone(once.e164, country="NL").e164 == once.e164  # E.164 reads the same anywhere
    assert once.e164.startswith("+")
    assert once.e164[1:].isdigit()
    assert len(once.e164) <= 16


@settings(max_examples=200, derandomize=True)
@given(st.text(max_size=60), st.sampled_from(REGIONS))
def test_reading_any_text_raises_only_its_own_error(text: str, region: str) -> None:
    for read in (
        lambda: normalize_phone(text, country=region),
        lambda: extract_numbers(text, country=region),
        lambda: read_caller(text, country=region),
    ):
        with contextlib.suppress(PhoneNumberError):
            read()
