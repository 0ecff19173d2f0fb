"""Settings of the test suite: fixed test-only keys; nothing comes from .env or the caller's environment.

settings.py reads every variable through django-environ; here its source is a fixed mapping, so a
developer's exported variables or .env cannot change what the tests run against. DATABASE_URL is
the one exception: `make test` runs the suite a second time on PostgreSQL.
"""

import os

import environ

environ.Env.read_env = classmethod(lambda cls, *args, **kwargs: None)  # no .env
environ.Env.ENVIRON = {
    "DEBUG": "false",
    "SECRET_KEY": "test-only-secret-key-not-for-production-0123456789-abcdefghijklmnop",
    # Fernet.generate_key() once; test-only.
    "FIELD_ENCRYPTION_KEYS": "6fEWhnBpIYtYuE3uE5wqQwGy3F_cvxT2eSjUBmj7Rsg=",
    # The test client and the browser tests' live server speak plain http; everything else stays
    # as in production (secure cookies, HSTS, CSP).
    "SECURE_SSL_REDIRECT": "false",
    **({"DATABASE_URL": os.environ["DATABASE_URL"]} if "DATABASE_URL" in os.environ else {}),
}

from configurator.settings import *  # noqa: E402, F403
