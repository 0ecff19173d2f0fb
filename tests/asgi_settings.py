"""Settings of the ASGI servers the agents' tests start as subprocesses (tests/asgi_server.py).

The test settings (same keys, so sessions made in the test process are valid), on the database
the test process uses (`CTI_TEST_DATABASE_URL`, set by the launcher), with the test process's fast
password hasher, and the Redis channel layer when `CTI_TEST_CHANNEL_LAYER_URL` is set (else the
in-memory one).
"""

import os

from configurator.settings_test import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
_layer_url = os.environ.get("CTI_TEST_CHANNEL_LAYER_URL", "")
if _layer_url:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [_layer_url], "prefix": "cti-agents-test"},
        }
    }
