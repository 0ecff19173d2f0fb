"""When an integration's nightly sync runs.

Each integration syncs once a night at a fixed minute of the tenant's night window
(`SYNC_NIGHT_START_HOUR` local time, for `SYNC_NIGHT_WINDOW_HOURS`), spread by its id so that
tenants and integrations do not all start at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo

from django.conf import settings


def nightly_offset_minutes(*, integration_id: int) -> int:
    """Minutes after the start of the night window at which this integration syncs.

    A stable hash of the id (BLAKE2b), so consecutive ids land at unrelated minutes of the
    window and the same integration keeps its minute every night.
    """
    window = max(1, settings.SYNC_NIGHT_WINDOW_HOURS) * 60
    digest = hashlib.blake2b(str(integration_id).encode(), digest_size=8).digest()
    return int(int.from_bytes(digest, "big") % window)


def next_nightly_sync(*, integration_id: int, time_zone: str, after: dt.datetime) -> dt.datetime:
    """The first nightly sync moment strictly after `after` (aware), returned in UTC.

    Computed on the tenant's wall clock (`time_zone`, IANA name), so it follows daylight saving.
    """
    zone = zoneinfo.ZoneInfo(time_zone)
    local_after = after.astimezone(zone)
    offset = dt.timedelta(minutes=nightly_offset_minutes(integration_id=integration_id))
    day = local_after.date()
    for _ in range(3):
        midnight = dt.datetime.combine(day, dt.time(settings.SYNC_NIGHT_START_HOUR), tzinfo=zone)
        candidate = midnight + offset
        if candidate > local_after:
            return candidate.astimezone(dt.UTC)
        day += dt.timedelta(days=1)
    raise AssertionError("unreachable: a night window always exists within two days")
