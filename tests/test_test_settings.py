"""The suite's settings are fixed: neither `.env` nor the caller's environment reaches them.

Before, `.env` was read on every settings import and an exported `SYNC_RETRY_MINUTES` or
`CONN_MAX_AGE` changed what the tests saw (issue 5, finding 9).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, environ
read = []
environ.Env.read_env = classmethod(lambda cls, *args, **kwargs: read.append(str(args)))
import django, os
os.environ["DJANGO_SETTINGS_MODULE"] = "configurator.settings_test"
django.setup()
from django.conf import settings
print(json.dumps({
    "read_env_calls": read,
    "SYNC_RETRY_MINUTES": settings.SYNC_RETRY_MINUTES,
    "OUTBOUND_ALLOW_PRIVATE_ADDRESSES": settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES,
    "DEBUG": settings.DEBUG,
    "SECRET_KEY_FROM_ENV": settings.SECRET_KEY == "from-the-environment-" * 3,
    "DATABASE_ENGINE": settings.DATABASES["default"]["ENGINE"],
}))
"""


def test_exported_variables_and_dotenv_do_not_reach_the_test_settings(tmp_path):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "SYNC_RETRY_MINUTES": "1",
        "OUTBOUND_ALLOW_PRIVATE_ADDRESSES": "true",
        "DEBUG": "true",
        "SECRET_KEY": "from-the-environment-" * 3,
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/nothing",
    }

    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["read_env_calls"] == []  # .env is never read
    assert seen["SYNC_RETRY_MINUTES"] == 30
    assert seen["OUTBOUND_ALLOW_PRIVATE_ADDRESSES"] is False
    assert seen["DEBUG"] is False
    assert seen["SECRET_KEY_FROM_ENV"] is False
    assert seen["DATABASE_ENGINE"] == "django.db.backends.sqlite3"


def test_only_cti_test_database_url_passes_through(tmp_path):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "CTI_TEST_DATABASE_URL": "postgres://nobody@127.0.0.1:1/cti",
    }

    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["DATABASE_ENGINE"] == (
        "django.db.backends.postgresql"
    )
