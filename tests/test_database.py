"""`make test` runs the suite twice; this checks the second run really is on PostgreSQL."""

import pytest
from django.conf import settings
from django.db import connection


@pytest.mark.django_db
def test_the_tests_run_on_the_database_in_database_url():
    expected = getattr(settings, "TEST_DATABASE_VENDOR", "unset")  # from CTI_TEST_DATABASE_URL (bin/test)

    assert connection.vendor == expected
    if expected == "postgresql":
        assert connection.settings_dict["CONN_MAX_AGE"] == 600  # persistent connections are on
