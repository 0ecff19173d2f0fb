from datetime import UTC, datetime, timedelta, timezone

import pytest

from scripts_engine import format_phone, format_time

AMSTERDAM_SUMMER = timezone(timedelta(hours=2))
START = datetime(2024, 5, 1, 14, 3, 9, tzinfo=AMSTERDAM_SUMMER)


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("020 123 4567", "NL", "0201234567"),
        ("+31201234567", "NL", "0201234567"),
        ("+31 (0)20-123 4567", "NL", "0201234567"),
        ("0031201234567", "NL", "0201234567"),
        ("+31201234567", "nl", "0201234567"),
        ("+31612345678", "NL", "0612345678"),
        ("+442079460958", "NL", "+442079460958"),
        ("+31201234567", "GB", "+31201234567"),
        ("+31201234567", "", "+31201234567"),
        ("+1 201 555 0123", "US", "2015550123"),
        ("(201) 555-0123", "US", "2015550123"),
        ("+31201234567 ext. 12", "NL", "0201234567"),
    ],
)
def test_it_renders_the_national_full_subscriber_number_for_the_tenants_country_and_e164_otherwise(
    raw, country, expected
):
    assert format_phone(raw, None, country) == expected


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("e164", "+31201234567"),
        ("international", "+31 20 123 4567"),
        ("national", "020 123 4567"),
        ("digits", "31201234567"),
    ],
)
def test_it_renders_every_phone_format(fmt, expected):
    assert format_phone("020 123 4567", fmt, "NL") == expected
    assert format_phone("+31201234567", fmt, "GB") == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("201", "201"),
        (" 2 01 ", "201"),
        ("", ""),
        ("anonymous", "anonymous"),
        ("Withheld number", "Withheldnumber"),
        ("+3", "+3"),
        ("*31#", "*31#"),
    ],
)
@pytest.mark.parametrize("fmt", [None, "e164", "international", "national", "digits"])
def test_it_renders_numbers_it_cannot_parse_as_written_without_whitespace(raw, expected, fmt):
    assert format_phone(raw, fmt, "NL") == expected


def test_it_cannot_read_a_national_number_without_a_country_so_it_keeps_it_as_written():
    assert format_phone("020 123 4567", None, "") == "0201234567"
    assert format_phone("020 123 4567", "e164", "") == "0201234567"


def test_it_rejects_an_unknown_phone_format():
    with pytest.raises(ValueError, match="unknown phone format"):
        format_phone("+31201234567", "E.164", "NL")


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        (None, "2024-05-01T14:03:09+02:00"),
        ("iso", "2024-05-01T14:03:09+02:00"),
        ("epoch", "1714564989"),
        ("%H:%M", "14:03"),
        ("%d-%m-%Y", "01-05-2024"),
    ],
)
def test_it_renders_every_time_format(fmt, expected):
    assert format_time(START, fmt) == expected


def test_epoch_does_not_depend_on_the_zone_the_time_is_in():
    assert format_time(START.astimezone(UTC), "epoch") == format_time(START, "epoch")


def test_iso_drops_microseconds():
    assert format_time(START.replace(microsecond=123456), "iso") == "2024-05-01T14:03:09+02:00"


@pytest.mark.parametrize("fmt", [None, "iso", "epoch", "%H:%M"])
def test_a_missing_time_renders_empty(fmt):
    assert format_time(None, fmt) == ""


def test_a_strftime_pattern_python_cannot_use_renders_empty_instead_of_raising():
    assert format_time(START, "%H\ud800") == ""
