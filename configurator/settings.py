"""Django settings for CTI Configurator, read from the environment (django-environ).

Every variable is listed, with its default, in `.env.example` and the README. The defaults need
nothing installed: a SQLite file under `var/` and a file-system Celery broker. Setting
`DATABASE_URL=postgres://...` and `CELERY_BROKER_URL=redis://...` switches to the production parts.
"""

from pathlib import Path

import django_stubs_ext
import environ

# Lets admin/queryset classes be subscripted at run time, as django-stubs types them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="insecure-dev-key-change-me-in-production-0123456789")
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "configurator",
    "integrations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "configurator.urls"
WSGI_APPLICATION = "configurator.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Connection set-up costs ~80% of throughput on the match API (reference/environment.md §8).
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)
    DATABASES["default"]["OPTIONS"].setdefault(
        "init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Bootstrap and htmx are installed from the npm registry at set-up (package.json) and served
# by Django/whitenoise from node_modules; nothing is loaded from a CDN at run time.
NODE_MODULES_DIR = Path(env.str("NODE_MODULES_DIR", default=str(BASE_DIR / "node_modules")))
STATICFILES_DIRS = [
    ("vendor/bootstrap", NODE_MODULES_DIR / "bootstrap" / "dist"),
    ("vendor/htmx", NODE_MODULES_DIR / "htmx.org" / "dist"),
]
STATICFILES_DIRS = [(prefix, path) for prefix, path in STATICFILES_DIRS if path.is_dir()]
STATICFILES_DIRS.append(("app", BASE_DIR / "static" / "app"))
WHITENOISE_USE_FINDERS = True

# Secrets of integrations (API keys, passwords) are encrypted with keys derived from SECRET_KEY
# (+ SECRET_KEY_FALLBACKS for rotation) and these salts (django-fernet-encrypted-fields).
SALT_KEY = env.list("ENCRYPTION_SALT_KEYS", default=["cti-configurator-integration-secrets"])

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CTI Configurator matching API",
    "DESCRIPTION": (
        "A PBX calls the matching API once per call with the caller's number and gets back, for each "
        "CRM record that has that number, the notification to show and the rendered action links."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Matching API hardening (issue 5, part "API": bounded input, 429 for repeated bad keys) ---
# Largest request body the matching API reads (bytes; 413 beyond) and deepest JSON nesting (400).
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=64 * 1024)
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=20)
# After this many missing/wrong API keys from one client address within the window, further
# bad-key requests from it get 429 + Retry-After until the window ends (a valid key still works).
API_KEY_FAILURE_LIMIT = env.int("API_KEY_FAILURE_LIMIT", default=20)
API_KEY_FAILURE_WINDOW_SECONDS = env.int("API_KEY_FAILURE_WINDOW_SECONDS", default=300)
# The failure counts live in Django's cache: locmem is per process, so production with several
# workers should set CACHE_URL to Redis (redis://host:6379/1).
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# Celery: a file-system broker by default (no server needed); redis:// in production.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_FOLDER = VAR_DIR / "celery-broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER / "queue"),
        "data_folder_out": str(CELERY_BROKER_FOLDER / "queue"),
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# How often beat looks for integrations whose nightly (or retry) sync is due (seconds).
SYNC_DISPATCH_INTERVAL = env.int("SYNC_DISPATCH_INTERVAL", default=300)
CELERY_BEAT_SCHEDULE = {
    "dispatch-due-syncs": {
        "task": "integrations.dispatch_due_syncs",
        "schedule": float(SYNC_DISPATCH_INTERVAL),
    },
}

# Phone cache sync
SYNC_NIGHT_START_HOUR = env.int("SYNC_NIGHT_START_HOUR", default=1)  # local time of the tenant
SYNC_NIGHT_WINDOW_HOURS = env.int("SYNC_NIGHT_WINDOW_HOURS", default=4)  # spread tenants over this window
SYNC_RETRY_MINUTES = env.int("SYNC_RETRY_MINUTES", default=30)  # after a failed sync
SYNC_LOCK_TIMEOUT_MINUTES = env.int("SYNC_LOCK_TIMEOUT_MINUTES", default=120)  # a crashed sync frees its lock
CONNECTOR_HTTP_TIMEOUT = env.float("CONNECTOR_HTTP_TIMEOUT", default=30.0)  # seconds

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # One line per CRM request is too much at INFO during a sync of thousands of pages.
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}
