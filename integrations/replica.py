"""Reading the match API's phone cache from a PostgreSQL streaming replica when there is one.

With `DATABASE_REPLICA_URL` set, `configurator.settings` defines the database alias "replica".
`read_alias()` sends the call's one query (integrations.matching) there while the replica's
replay lag is at most `REPLICA_MAX_LAG_SECONDS`, else to "default" (the primary). The lag is
measured at most once a second per process, on the replica: 0 when everything received is
replayed (`pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()`), else the age of the last
replayed transaction (`now() - pg_last_xact_replay_timestamp()`; PostgreSQL docs, "System
Administration Functions", recovery information functions). A replica that cannot be reached
counts as lagging. Writes and everything else use "default".
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

logger = logging.getLogger(__name__)

REPLICA_ALIAS = "replica"
# How often (seconds) one process measures the replica's lag.
CHECK_INTERVAL = 1.0

LAG_QUERY = (
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0 "
    "WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
    "ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END"
)


class _Choice:
    """The alias this process reads from, and when (`time.monotonic()`) it was last decided."""

    alias: str = DEFAULT_DB_ALIAS
    checked: float = float("-inf")


_choice = _Choice()
_lock = threading.Lock()


def replica_lag_seconds() -> float | None:
    """The replica's replay lag in seconds, or None when it cannot be asked."""
    try:
        with connections[REPLICA_ALIAS].cursor() as cursor:
            cursor.execute(LAG_QUERY)
            row = cursor.fetchone()
    except DatabaseError:
        logger.warning("the read replica cannot be reached; the match API reads from the primary")
        connections[REPLICA_ALIAS].close()
        return None
    return float(row[0]) if row else None


def read_alias() -> str:
    """The database alias the match API's query reads from: "replica" when one is configured
    and its lag is at most `REPLICA_MAX_LAG_SECONDS`, else "default"."""
    if REPLICA_ALIAS not in settings.DATABASES:
        return DEFAULT_DB_ALIAS
    if time.monotonic() - _choice.checked < CHECK_INTERVAL:
        return _choice.alias
    with _lock:
        if time.monotonic() - _choice.checked < CHECK_INTERVAL:
            return _choice.alias
        lag = replica_lag_seconds()
        current = lag is not None and lag <= settings.REPLICA_MAX_LAG_SECONDS
        alias = REPLICA_ALIAS if current else DEFAULT_DB_ALIAS
        if alias != _choice.alias:
            logger.info("the match API now reads from %s (replica lag %s s)", alias, lag)
        _choice.alias, _choice.checked = alias, time.monotonic()
    return alias
