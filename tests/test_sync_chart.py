"""The overview's sync history chart and live progress (issue 8, item 4): cached numbers and sync
duration per run drawn as server-side SVG from the sync history; the status poll carries the sidebar
and the history along while a sync runs and stops when it ends."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse

from integrations.models import Integration, SyncMode, SyncRun, SyncRunStatus, SyncState
from integrations.services import integration_create
from integrations.sync_chart import PANEL_HEIGHT, nice_ceiling, sync_chart
from tenants.models import Tenant

START = dt.datetime(2026, 11, 2, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def book(tenant: Tenant) -> Integration:
    return integration_create(
        tenant=tenant,
        preset_slug="carddav",
        name="Address book",
        settings_values={"url": "https://dav.example.com/addressbooks/alice/contacts/"},
        start_sync=False,
    )


def run(
    integration: Integration,
    day: int,
    *,
    seconds: float | None = 10.0,
    numbers: int = 100,
    status: str = SyncRunStatus.OK,
    mode: str = SyncMode.FULL,
) -> SyncRun:
    """A sync run `day` days after START that took `seconds` (None: still running)."""
    started = START + dt.timedelta(days=day)
    return SyncRun.objects.create(
        tenant=integration.tenant,
        integration=integration,
        started_at=started,
        finished_at=None if seconds is None else started + dt.timedelta(seconds=seconds),
        status=SyncRunStatus.RUNNING if seconds is None else status,
        mode=mode,
        records=numbers,
        numbers=numbers,
        run_token=f"token-{day}",
        generation=day + 1,
    )


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [(0, 1.0), (0.3, 0.5), (1, 1.0), (7, 10.0), (12, 20.0), (230, 250.0), (1234, 2000.0)],
)
def test_the_axes_end_at_a_round_value(value: float, ceiling: float) -> None:
    assert nice_ceiling(value) == ceiling


@pytest.mark.django_db
def test_no_finished_run_gives_no_chart(book: Integration) -> None:
    assert sync_chart([]) is None
    assert sync_chart([run(book, 0, seconds=None)]) is None


@pytest.mark.django_db
def test_runs_are_drawn_oldest_first_with_bars_in_proportion_to_their_duration(book: Integration) -> None:
    runs = [
        run(book, 2, seconds=40, numbers=300),
        run(book, 0, seconds=10, numbers=100),
        run(book, 1, seconds=20),
    ]

    chart = sync_chart(runs)

    assert chart is not None
    assert [point.run.started_at.day for point in chart.runs] == [2, 3, 4]
    assert [point.seconds for point in chart.runs] == [10.0, 20.0, 40.0]
    assert chart.seconds_top == 50.0
    assert [point.bar_height for point in chart.runs] == [
        PANEL_HEIGHT * 10 / 50,
        PANEL_HEIGHT * 20 / 50,
        PANEL_HEIGHT * 40 / 50,
    ]
    assert chart.numbers_top == 500
    assert chart.runs[0].x < chart.runs[1].x < chart.runs[2].x
    # The higher the count, the higher the dot (SVG y grows downwards).
    dots = [point.dot_y for point in chart.runs]
    assert dots[0] is not None
    assert dots[2] is not None
    assert dots[2] < dots[0]
    assert chart.numbers_line.count(",") == 3


@pytest.mark.django_db
def test_only_full_runs_that_cached_a_set_get_a_point_on_the_numbers_line(book: Integration) -> None:
    runs = [
        run(book, 0, numbers=100),
        run(book, 1, numbers=3, mode=SyncMode.INCREMENTAL),  # wrote 3 numbers, the cache holds ~100
        run(book, 2, numbers=0, status=SyncRunStatus.FAILED),
        run(book, 3, numbers=20, status=SyncRunStatus.HELD),  # held: not cached
        run(book, 4, numbers=98, status=SyncRunStatus.ACCEPTED),
    ]

    chart = sync_chart(runs)

    assert chart is not None
    assert [point.numbers for point in chart.runs] == [100, None, None, None, 98]
    assert [point.dot_y is None for point in chart.runs] == [False, True, True, True, False]
    assert all(point.bar_height >= 0 for point in chart.runs)  # every run has its duration bar
    assert len(chart.numbers_line.split()) == 2


@pytest.mark.django_db
def test_at_most_the_last_twenty_runs_are_drawn(book: Integration) -> None:
    chart = sync_chart([run(book, day) for day in range(25)])
    assert chart is not None
    assert len(chart.runs) == 20
    assert chart.first.started_at == START + dt.timedelta(days=5)


@pytest.mark.django_db
def test_a_clock_that_went_backwards_gives_no_negative_bar(book: Integration) -> None:
    chart = sync_chart([run(book, 0, seconds=-5)])
    assert chart is not None
    assert chart.runs[0].seconds == 0.0
    assert chart.runs[0].bar_height == 0.0


# The overview -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_overview_draws_the_chart_from_the_sync_history(book: Integration, admin_client: Client) -> None:
    assert (
        'data-testid="sync-chart"'
        not in admin_client.get(reverse("integration-overview", args=[book.pk])).text
    )

    for day, seconds in enumerate((12.5, 30.0, 7.0)):
        run(book, day, seconds=seconds, numbers=1000 + day)
    run(book, 3, seconds=None)  # running: in the table, not yet in the chart

    page = admin_client.get(reverse("integration-overview", args=[book.pk])).text
    svg = page[
        page.index('<svg class="sync-chart"') : page.index("</svg>", page.index('<svg class="sync-chart"'))
    ]
    assert 'role="img"' in svg
    assert re.findall(r'data-seconds="([^"]+)"', svg) == ["12.5", "30.0", "7.0"]
    assert re.findall(r'data-numbers="([^"]*)"', svg) == ["1000", "1001", "1002"]
    assert len(re.findall(r"<circle ", svg)) == 3
    assert 'data-testid="seconds-top">50<' in svg
    assert "the longest took 30 s" in svg


@pytest.mark.django_db
def test_the_chart_speaks_dutch_and_keeps_decimal_points(book: Integration, admin_client: Client) -> None:
    run(book, 0, seconds=12.5, numbers=1000)
    run(book, 1, seconds=0.25, numbers=1001)
    page = admin_client.get(reverse("integration-overview", args=[book.pk]), HTTP_ACCEPT_LANGUAGE="nl").text
    svg = page[
        page.index('<svg class="sync-chart"') : page.index("</svg>", page.index('<svg class="sync-chart"'))
    ]
    assert "Synchronisatieduur (seconden)" in svg
    assert "12,5 s" in svg  # the tooltip in Dutch notation
    elements = re.findall(r"<(?:rect|circle|line|text)\b([^>]*)>", svg)
    values = [
        v
        for attrs in elements
        for v in re.findall(r'\b(?:x1?|y1?|x2|y2|width|height|cx|cy)="([^"]*)"', attrs)
    ]
    assert len(values) > 30
    for value in values:
        assert re.fullmatch(r"-?\d+(\.\d+)?", value), value
    points = re.search(r'points="([^"]*)"', svg)
    assert points is not None
    for point in points.group(1).split():
        assert re.fullmatch(r"\d+(\.\d+)?,\d+(\.\d+)?", point), point


# Live progress ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_status_poll_follows_a_sync_and_stops_when_it_ends(
    book: Integration, admin_client: Client
) -> None:
    url = reverse("integration-status", args=[book.pk])
    Integration.objects.filter(pk=book.pk).update(sync_state=SyncState.RUNNING, sync_progress=250)

    running = admin_client.get(url, headers={"HX-Request": "true"}).text
    assert 'hx-trigger="every 2s"' in running
    assert "250 records read" in running
    # The sidebar and the history come along, out of band.
    assert re.search(r'id="sidebar-integrations" hx-swap-oob="true"', running)
    assert 'data-state="syncing"' in running
    assert re.search(r'id="sync-history" hx-swap-oob="true"', running)

    run(book, 0, seconds=42, numbers=1234)
    Integration.objects.filter(pk=book.pk).update(
        sync_state=SyncState.IDLE, sync_progress=0, cached_numbers=1234, last_sync_at=START
    )
    ended = admin_client.get(url, headers={"HX-Request": "true"}).text
    assert 'hx-trigger="every 2s"' not in ended  # the poll stops
    assert 'data-state="synced"' in ended
    assert "1234 numbers" in ended  # the sidebar's count
    assert 'data-testid="sync-chart"' in ended
    assert 'data-numbers="1234"' in ended


@pytest.mark.django_db
def test_another_tenants_status_is_not_found(other_tenant: Tenant, admin_client: Client) -> None:
    theirs = integration_create(
        tenant=other_tenant,
        preset_slug="carddav",
        name="Theirs",
        settings_values={"url": "https://dav.example.com/addressbooks/bob/contacts/"},
        start_sync=False,
    )
    response = admin_client.get(
        reverse("integration-status", args=[theirs.pk]), headers={"HX-Request": "true"}
    )
    assert response.status_code == 404
    assert "Theirs" not in response.text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("seconds", "english", "dutch"),
    [
        (3.5, "3.5 s", "3,5 s"),
        (42, "42 s", "42 s"),
        (125, "2 min 5 s", "2 min 5 s"),
        (7380, "2 h 3 min", "2 u 3 min"),
    ],
)
def test_the_history_table_says_how_long_each_run_took(
    book: Integration, admin_client: Client, seconds: float, english: str, dutch: str
) -> None:
    run(book, 0, seconds=seconds)
    run(book, 1, seconds=None)
    url = reverse("integration-overview", args=[book.pk])
    durations = re.findall(r'data-testid="run-duration">([^<]*)<', admin_client.get(url).text)
    assert durations == ["—", english]
    durations = re.findall(
        r'data-testid="run-duration">([^<]*)<', admin_client.get(url, HTTP_ACCEPT_LANGUAGE="nl").text
    )
    assert durations == ["—", dutch]
