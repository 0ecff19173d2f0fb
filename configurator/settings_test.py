"""Settings of the test suite: fixed values, never `.env` nor the caller's environment.

`configurator.settings` reads every value through django-environ; here its source mapping
(`environ.Env.ENVIRON`) is replaced by `TEST_ENVIRONMENT` before that module runs, so a developer's
`.env`, an exported `SYNC_RETRY_MINUTES` or `CONN_MAX_AGE` cannot change what the tests see.

The one way in is `CTI_TEST_DATABASE_URL`, which `bin/test` sets for the suite's second run on a
throw-away PostgreSQL; it becomes `DATABASE_URL` (default: SQLite).
"""

from __future__ import annotations

import os
import tempfile

import environ

TEST_ENVIRONMENT: dict[str, str] = {
    "DEBUG": "false",
    # Test-only keys: never used outside the test suite.
    "SECRET_KEY": "test-secret-key-for-the-test-suite-only-not-a-real-secret-0123456789",
    # Fernet.generate_key() once; test-only.
    "FIELD_ENCRYPTION_KEYS": "6fEWhnBpIYtYuE3uE5wqQwGy3F_cvxT2eSjUBmj7Rsg=",
    # The test client and the browser tests' live server speak plain http; everything else stays
    # as in production (secure cookies, HSTS, CSP).
    "SECURE_SSL_REDIRECT": "false",
    "CELERY_BROKER_URL": "memory://",
    "LOG_LEVEL": "WARNING",
    # The demo seeding commands are tested too.
    "CTI_DEV_TOOLS": "true",
    # Call-log entries are written right after each answer, so a test reads them at once;
    # tests/test_journal_batches.py turns the batch writer on where it tests it.
    "CALL_JOURNAL_BATCH_SECONDS": "0",
}
_database_url = os.environ.get("CTI_TEST_DATABASE_URL", "")
if _database_url:
    TEST_ENVIRONMENT["DATABASE_URL"] = _database_url
# Only the replica test's child process sets this (tests/test_replica.py).
if os.environ.get("CTI_TEST_DATABASE_REPLICA_URL"):
    TEST_ENVIRONMENT["DATABASE_REPLICA_URL"] = os.environ["CTI_TEST_DATABASE_REPLICA_URL"]
    TEST_ENVIRONMENT["REPLICA_MAX_LAG_SECONDS"] = os.environ.get("CTI_TEST_REPLICA_MAX_LAG_SECONDS", "2")

environ.Env.ENVIRON = TEST_ENVIRONMENT

from configurator.settings import *  # noqa: E402,F403

# Which database the suite runs on, for tests/test_database.py.
TEST_DATABASE_VENDOR = "postgresql" if _database_url.startswith("postgres") else "sqlite"

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file (WAL, busy timeout) rather than shared-cache memory: a real Celery worker thread and
    # the test's own connection then wait for each other instead of failing with "table is
    # locked". One file per test process, removed by Django when the test database is destroyed.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"cti-tests-{os.getpid()}.sqlite3")
    }
