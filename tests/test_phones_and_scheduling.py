"""E.164 normalization of numbers, and when nightly syncs run."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations.phones import PhoneNumberError, normalize_phone
from integrations.scheduling import next_nightly_sync, nightly_offset_minutes


@pytest.mark.parametrize(
    ("written", "country", "e164", "extension"),
    [
        ("020 123 4567", "NL", "+31201234567", ""),
        ("+31 (0)20 123 4567", "NL", "+31201234567", ""),
        ("0031 20 1234567", "NL", "+31201234567", ""),
        ("(020) 123-4567", "NL", "+31201234567", ""),
        ("06-12345678", "NL", "+31612345678", ""),
        ("020 123 4567 x 12", "NL", "+31201234567", "12"),
        ("+31 20 123 4567 ext. 12", "NL", "+31201234567", "12"),
        ("02 555 12 12", "BE", "+3225551212", ""),
        ("030 1234567", "DE", "+49301234567", ""),
        ("+44 20 7946 0958", "NL", "+442079460958", ""),
        ("(212) 555-0100", "US", "+12125550100", ""),
    ],
)
def test_it_normalizes_the_ways_people_write_numbers(written, country, e164, extension):
    number = normalize_phone(written, country=country)

    assert (number.e164, number.extension) == (e164, extension)


@pytest.mark.parametrize("text", ["", "   ", "call me maybe", "+31 12", "+999 1234", "javascript:alert(1)"])
def test_it_refuses_what_is_not_a_phone_number(text):
    with pytest.raises(PhoneNumberError):
        normalize_phone(text, country="NL")


@given(st.text(max_size=40))
def test_it_raises_only_its_own_error_for_any_text(text):
    try:
        result = normalize_phone(text, country="NL")
    except PhoneNumberError:
        return
    assert result.e164.startswith("+")
    assert result.e164[1:].isdigit()
    assert len(result.e164) <= 16


AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")


def test_the_nightly_sync_falls_in_the_tenants_night_window(settings):
    after = dt.datetime(2026, 11, 21, 14, 0, tzinfo=AMSTERDAM)

    moment = next_nightly_sync(integration_id=7, time_zone="Europe/Amsterdam", after=after).astimezone(
        AMSTERDAM
    )

    assert moment.date() == dt.date(2026, 11, 22)
    assert (
        settings.SYNC_NIGHT_START_HOUR
        <= moment.hour
        < settings.SYNC_NIGHT_START_HOUR + settings.SYNC_NIGHT_WINDOW_HOURS
    )


def test_the_nightly_sync_is_tonight_when_asked_before_the_window():
    after = dt.datetime(2026, 11, 21, 0, 5, tzinfo=AMSTERDAM)

    moment = next_nightly_sync(integration_id=7, time_zone="Europe/Amsterdam", after=after).astimezone(
        AMSTERDAM
    )

    assert moment.date() == dt.date(2026, 11, 21)


def test_the_nightly_sync_follows_the_tenants_clock_across_daylight_saving():
    before = next_nightly_sync(
        integration_id=3, time_zone="Europe/Amsterdam", after=dt.datetime(2026, 10, 24, 12, tzinfo=AMSTERDAM)
    )
    after = next_nightly_sync(
        integration_id=3, time_zone="Europe/Amsterdam", after=dt.datetime(2026, 10, 25, 12, tzinfo=AMSTERDAM)
    )

    assert before.astimezone(AMSTERDAM).time() == after.astimezone(AMSTERDAM).time()
    assert before.utcoffset() == after.utcoffset() == dt.timedelta(0)
    assert (after - before) == dt.timedelta(days=1, hours=1)


@pytest.mark.parametrize("window_hours", [1, 4, 6])
def test_integrations_are_spread_over_the_whole_night_window(settings, window_hours):
    settings.SYNC_NIGHT_WINDOW_HOURS = window_hours
    window = window_hours * 60

    offsets = [nightly_offset_minutes(integration_id=i) for i in range(1, 201)]

    assert all(0 <= offset < window for offset in offsets)
    # Consecutive ids (a batch of integrations created together) do not queue up minute by
    # minute at the start of the window: every quarter of the window gets a fair share.
    quarters = [sum(1 for o in offsets if q * window / 4 <= o < (q + 1) * window / 4) for q in range(4)]
    assert min(quarters) >= 30, quarters
    assert sum(1 for a, b in itertools.pairwise(offsets) if b == a + 1) < 20
