"""Django settings for CTI Configurator, read from the environment (django-environ).

Every variable is listed, with its default, in `.env.example` and the README. The defaults need
nothing installed: a SQLite file under `var/` and a file-system Celery broker. Setting
`DATABASE_URL=postgres://...` and `CELERY_BROKER_URL=redis://...` switches to the production parts.
"""

import os
from pathlib import Path

import django_stubs_ext
import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

# Lets admin/queryset classes be subscripted at run time, as django-stubs types them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# `.env` fills in what the real environment does not set. The test settings
# (configurator/settings_test.py) replace `Env.ENVIRON` by a fixed mapping first; then neither
# `.env` nor the caller's environment is read.
if environ.Env.ENVIRON is os.environ:
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)
# No default outside DEBUG: a published default key lets anyone forge sessions and (formerly)
# decrypt integration secrets from a database dump. `make run` generates both keys in var/secrets.env.
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment (or .env) to a long random value, made "
            'with: python -c "import secrets; print(secrets.token_urlsafe(50))" '
            "(`make run` writes one to var/secrets.env). Only DEBUG=true runs with a development default."
        )
    SECRET_KEY = "insecure-dev-key-only-for-debug-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105
# Keys that were ever published (README, .env.example) are refused like a missing one.
_PUBLISHED_SECRET_KEYS = {
    "insecure-dev-key-change-me-in-production-0123456789",
    "insecure-dev-key-only-for-debug-0123456789-abcdefghijklmnopqrstuvwxyz",
}
if not DEBUG and SECRET_KEY in _PUBLISHED_SECRET_KEYS:
    raise ImproperlyConfigured(
        "SECRET_KEY is a published development key. Set it to a long random value, made with: "
        'python -c "import secrets; print(secrets.token_urlsafe(50))"'
    )
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Security: secrets, sign-in limits, CSP, HTTPS, Django admin (issue 5, security part) ---
# Integration secrets (CRM passwords, API keys) are encrypted with their own Fernet keys, newest
# first; older keys only decrypt (rotation: prepend a new key, run `manage.py secrets_reencrypt`,
# then drop the old one). Not derived from SECRET_KEY.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is not set. Set it to one or more comma-separated Fernet keys "
            '(newest first), made with: python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())" (`make run` writes one to var/secrets.env). '
            "Only DEBUG=true runs with a development default."
        )
    FIELD_ENCRYPTION_KEYS = ["ZGV2LW9ubHktZmllbGQta2V5LWZvci1kZWJ1Zy0wMDA="]  # DEBUG only, published
for _key in FIELD_ENCRYPTION_KEYS:
    try:
        Fernet(_key)
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe base64-encoded "
            'bytes); make one with: python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"'
        ) from exc

# Brute-force limits on sign-in (django-axes): the UI sign-in and the Django admin sign-in.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)  # failures before the lockout
AXES_COOLOFF_MINUTES = env.int("AXES_COOLOFF_MINUTES", default=15)
AXES_COOLOFF_TIME = AXES_COOLOFF_MINUTES / 60  # hours, as django-axes reads a number
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]  # per account and address
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "configurator.views.sign_in_locked_out"
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # the lockout ends when the message says
AXES_USERNAME_FORM_FIELD = "username"
AXES_VERBOSE = False
# The address is REMOTE_ADDR (axes' default); behind a proxy, see django-axes' AXES_IPWARE_* settings.

# Content Security Policy (django-csp 4): no inline script or style anywhere, no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# HTTPS and cookies. Outside DEBUG the app expects HTTPS; `make run` (plain http on 127.0.0.1)
# turns the redirect and secure cookies off explicitly in bin/run.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    # Only behind a TLS-terminating proxy that sets (and strips from clients) X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True

# The Django admin's path (providers' staff only); not the well-known /admin/.
ADMIN_URL_PATH = env.str("ADMIN_URL_PATH", default="django-admin/").strip("/") + "/"

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
    "axes",
    "csp",
    "auditlog",
    "configurator",
    "tenants",
    "integrations",
    "agents",
]
# The demo seeding commands (devtools/): for development and `make run`, never for production.
CTI_DEV_TOOLS = env.bool("CTI_DEV_TOOLS", default=DEBUG)
if CTI_DEV_TOOLS:
    INSTALLED_APPS.append("devtools")

# The UI's middleware is wrapped (configurator.middleware.UIOnly) so that machine endpoints (the
# match API, PBX event URLs) skip it: no language, user, CSP or messages for a PBX.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language from the set_language cookie, else the browser's Accept-Language (English, Dutch).
    "configurator.middleware.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "configurator.middleware.AuthenticationMiddleware",
    "configurator.middleware.AuditlogMiddleware",
    "configurator.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "configurator.middleware.CSPMiddleware",
    "configurator.middleware.HtmxMiddleware",
    # Collects call-log entries during a request and writes them after the answer was sent.
    "integrations.journal.CallJournalMiddleware",
    # Sends call events to the agents' live page after the answer was sent (agents/live.py).
    "agents.live.AgentEventsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into the sign-in page's message
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out sign-ins
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "configurator.urls"
WSGI_APPLICATION = "configurator.wsgi.application"
# The agents' live page needs WebSockets: served by an ASGI server (uvicorn in bin/run).
ASGI_APPLICATION = "configurator.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Audit log (django-auditlog): who created, changed, disabled, enabled, deleted or revoked an
# integration, a script, an API key or a tenant's settings. Changes are stored as JSON values and
# foreign keys by name, so entries stay readable after the related row is deleted. Secrets are
# never stored (configurator/audit.py masks them).
AUDITLOG_STORE_JSON_CHANGES = True
AUDITLOG_USE_FK_STRING_REPRESENTATION = True
AUDITLOG_DISABLE_ON_RAW_SAVE = True
# The middleware would take the address from any client's X-Forwarded-For header; not recorded.
AUDITLOG_DISABLE_REMOTE_ADDR = True

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Connection set-up costs ~80% of throughput on the match API (reference/environment.md §8).
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # psycopg prepares a server-bound query the Nth time a connection runs it; Django's own
    # queries are bound on the client and never prepared, so this only plans the match API's cache
    # query once per connection (integrations.matching._prepared_cursor). 0: never (a PgBouncer in
    # transaction mode without prepared-statement support).
    _prepare_threshold = env.int("DATABASE_PREPARE_THRESHOLD", default=5)
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = _prepare_threshold or None
else:
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)
    DATABASES["default"]["OPTIONS"].setdefault(
        "init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )
# A PostgreSQL streaming replica for the match API's reads (integrations/replica.py): while its
# replay lag is at most REPLICA_MAX_LAG_SECONDS the call's query goes there, else to the primary.
if env.str("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"].get("CONN_MAX_AGE", 0)
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["replica"].setdefault("OPTIONS", {})["prepare_threshold"] = (
        DATABASES["default"].get("OPTIONS", {}).get("prepare_threshold")
    )
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=2.0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
# The admin UI speaks English and Dutch: the browser's Accept-Language chooses, the frame's switch
# overrides (django.views.i18n.set_language, a cookie). The catalog is locale/nl/LC_MESSAGES/django.po,
# compiled by bin/setup (`manage.py compilemessages`). The JSON API's messages for PBXs stay English.
LANGUAGES = [("en", "English"), ("nl", "Nederlands")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates and numbers follow the active language (Django's locale formats), adjusted in
# configurator/formats/<lang>/formats.py; times are in the tenant's time zone (app_base.html).
FORMAT_MODULE_PATH = ["configurator.formats"]
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

# Before FIELD_ENCRYPTION_KEYS, integration secrets were encrypted with keys derived from
# SECRET_KEY (+ SECRET_KEY_FALLBACKS) and these salts; only `secrets_reencrypt --legacy` uses them.
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
    # The catalog's incremental and live_lookup share one enum.
    "ENUM_NAME_OVERRIDES": {"SupportLevelEnum": ["yes", "no", "configurable"]},
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
# A web process remembers a valid API key this long (seconds; 0: check every call). A key revoked
# in another process stops working here within this time (integrations.api_key_cache).
API_KEY_CACHE_SECONDS = env.int("API_KEY_CACHE_SECONDS", default=10)
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
# Issue 9, call journal: every match request and call event is logged per tenant (on by
# default; a tenant may turn it off), kept CALL_JOURNAL_DAYS (a tenant may choose), purged every
# CALL_JOURNAL_PURGE_INTERVAL seconds.
CALL_JOURNAL_ENABLED = env.bool("CALL_JOURNAL_ENABLED", default=True)
CALL_JOURNAL_DAYS = env.int("CALL_JOURNAL_DAYS", default=30)
CALL_JOURNAL_PURGE_INTERVAL = env.int("CALL_JOURNAL_PURGE_INTERVAL", default=3600)
# Call-log entries of finished requests are written in batches by a thread of each web process,
# every CALL_JOURNAL_BATCH_SECONDS (0: each request's entries right after its answer), at most
# CALL_JOURNAL_BATCH_MAX waiting (integrations.journal._BatchWriter).
CALL_JOURNAL_BATCH_SECONDS = env.float("CALL_JOURNAL_BATCH_SECONDS", default=0.1)
CALL_JOURNAL_BATCH_MAX = env.int("CALL_JOURNAL_BATCH_MAX", default=500)
# Helper processes a full sync reads its phone numbers with, besides its own (0: in the sync's
# process only); started only for syncs of more than a few thousand numbers
# (integrations.number_readers).
SYNC_NUMBER_READERS = env.int("SYNC_NUMBER_READERS", default=1)
CELERY_BEAT_SCHEDULE = {
    "dispatch-due-syncs": {
        "task": "integrations.dispatch_due_syncs",
        "schedule": float(SYNC_DISPATCH_INTERVAL),
    },
    "purge-call-journal": {
        "task": "integrations.purge_call_journal",
        "schedule": float(CALL_JOURNAL_PURGE_INTERVAL),
    },
}

# Phone cache sync
SYNC_NIGHT_START_HOUR = env.int("SYNC_NIGHT_START_HOUR", default=1)  # local time of the tenant
SYNC_NIGHT_WINDOW_HOURS = env.int("SYNC_NIGHT_WINDOW_HOURS", default=4)  # spread tenants over this window
SYNC_RETRY_MINUTES = env.int("SYNC_RETRY_MINUTES", default=30)  # after a failed sync
SYNC_LOCK_TIMEOUT_MINUTES = env.int("SYNC_LOCK_TIMEOUT_MINUTES", default=120)  # a crashed sync frees its lock

# Issue 5, sync hardening: shrink guard, heartbeat, retries, time limits, history.
# A sync whose cache drops by more than this share of the previous one AND by more than
# SYNC_HOLD_MIN_DROP numbers (or to zero from anything) is held for the admin to accept.
SYNC_HOLD_MAX_DROP_RATIO = env.float("SYNC_HOLD_MAX_DROP_RATIO", default=0.5)
SYNC_HOLD_MIN_DROP = env.int("SYNC_HOLD_MIN_DROP", default=50)
# A running sync without a heartbeat for this long is failed and retried.
SYNC_HEARTBEAT_STALE_MINUTES = env.float("SYNC_HEARTBEAT_STALE_MINUTES", default=10.0)
# Celery limits of one sync task (seconds): soft ends the sync as failed, hard kills the worker.
SYNC_SOFT_TIME_LIMIT_SECONDS = env.int("SYNC_SOFT_TIME_LIMIT_SECONDS", default=3600)
SYNC_TIME_LIMIT_SECONDS = env.int("SYNC_TIME_LIMIT_SECONDS", default=3900)
# Retries of 5xx, timeouts and connection resets inside a sync: count and first back-off (doubling).
SYNC_HTTP_RETRIES = env.int("SYNC_HTTP_RETRIES", default=3)
SYNC_HTTP_BACKOFF_SECONDS = env.float("SYNC_HTTP_BACKOFF_SECONDS", default=1.0)
# A 429/503 Retry-After up to this long is waited out in the sync; longer ends it until then.
SYNC_RETRY_AFTER_MAX_WAIT_SECONDS = env.int("SYNC_RETRY_AFTER_MAX_WAIT_SECONDS", default=60)
# Sync history rows older than this are deleted by the dispatcher.
SYNC_HISTORY_DAYS = env.int("SYNC_HISTORY_DAYS", default=90)

# --- Phone book upload (issue 6): integrations/connectors/phonebook.py
# Largest phone book file (CSV or vCard) an admin may upload, in bytes.
PHONEBOOK_MAX_UPLOAD_BYTES = env.int("PHONEBOOK_MAX_UPLOAD_BYTES", default=20 * 1024 * 1024)

# HTTP connector base (issue 6): integrations/connectors/http_base.py
# HTTP requests one sync (or connection test) may make, retries included; more ends the sync
# (old cache kept, next try the next night): a guard against CRMs that page forever.
SYNC_MAX_REQUESTS = env.int("SYNC_MAX_REQUESTS", default=10_000)

# Incremental sync (issue 6): integrations/sync.py, integrations/services.py
# Minutes between incremental syncs of an integration whose connector can list changed records
# (LDAP, REST with a modified-since parameter); 0 turns them off. The nightly full sync still runs.
SYNC_INCREMENTAL_INTERVAL_MINUTES = env.int("SYNC_INCREMENTAL_INTERVAL_MINUTES", default=60)
# --- Live lookup (issue 6 item 6): integrations in "live" mode ask the CRM on each call.
# Total seconds one live lookup may take (no retries); past it the match says "timeout".
LIVE_LOOKUP_TIMEOUT_SECONDS = env.float("LIVE_LOOKUP_TIMEOUT_SECONDS", default=2.0)
# Seconds a live lookup's answer is kept per (integration, E.164 caller number).
LIVE_LOOKUP_CACHE_SECONDS = env.int("LIVE_LOOKUP_CACHE_SECONDS", default=60)
# Scripts the server runs (integrations.server_scripts): seconds one request may take, attempts
# in all (5xx, 429, timeouts and connection errors are retried), and the back-off base in seconds
# (doubling per attempt: 10, 20, 40, ...).
SERVER_SCRIPT_TIMEOUT_SECONDS = env.float("SERVER_SCRIPT_TIMEOUT_SECONDS", default=5.0)
SERVER_SCRIPT_MAX_ATTEMPTS = env.int("SERVER_SCRIPT_MAX_ATTEMPTS", default=5)
SERVER_SCRIPT_BACKOFF_SECONDS = env.float("SERVER_SCRIPT_BACKOFF_SECONDS", default=10.0)
# Unreadable CRM numbers kept per integration for the overview (integrations.models.UnreadableNumber).
UNREADABLE_NUMBERS_MAX = env.int("UNREADABLE_NUMBERS_MAX", default=1000)
# OAuth 2.0 for connectors (issue 6): integrations/oauth.py, integrations/oauth_views.py
# Base URL of the OAuth callback as the CRM must call it ("https://cti.example.com"); "" builds it
# from the request (set it behind proxies that rewrite the host or scheme).
OAUTH_REDIRECT_BASE_URL = env.str("OAUTH_REDIRECT_BASE_URL", default="")
# An access token expiring within this many seconds is refreshed before use.
OAUTH_REFRESH_MARGIN_SECONDS = env.int("OAUTH_REFRESH_MARGIN_SECONDS", default=60)
CONNECTOR_HTTP_TIMEOUT = env.float("CONNECTOR_HTTP_TIMEOUT", default=30.0)  # seconds
# Seconds an admin's "Test connection" (the wizard, the edit screen) and the wizard's sample record
# fetch may take in all, every request together; past it: "The CRM did not answer within 10 seconds".
CONNECTION_TEST_TIMEOUT_SECONDS = env.float("CONNECTION_TEST_TIMEOUT_SECONDS", default=10.0)
# PBX event formats (issue 9 item 4): integrations/pbx/
# A signed PBX event (Placetel, sipgate: no timestamp) seen again within this many seconds is a
# replay and refused (409); 0 turns the check off.
PBX_REPLAY_WINDOW_SECONDS = env.int("PBX_REPLAY_WINDOW_SECONDS", default=600)
# sipgate.io's public key (PEM; "\n" for line breaks) that X-Sipgate-Signature is verified with;
# empty: the key sipgate publishes (integrations/pbx/sipgate.py).
PBX_SIPGATE_PUBLIC_KEY = env.str("PBX_SIPGATE_PUBLIC_KEY", default="")

# Outbound HTTP guard (issue 5, SSRF): integrations/outbound.py
# Allow connections to loopback, RFC 1918, CGNAT and IPv6 unique-local addresses (an on-premises
# CRM; `make run`'s demo CardDAV server on 127.0.0.1). Link-local/metadata stays refused.
OUTBOUND_ALLOW_PRIVATE_ADDRESSES = env.bool("OUTBOUND_ALLOW_PRIVATE_ADDRESSES", default=False)
# Largest response body read from a CRM, as received and after gzip/deflate decoding (bytes).
OUTBOUND_MAX_RESPONSE_BYTES = env.int("OUTBOUND_MAX_RESPONSE_BYTES", default=50 * 1024 * 1024)
# Longest one request may take in total: connect, TLS, send, headers and body (seconds).
OUTBOUND_REQUEST_TOTAL_TIMEOUT = env.float("OUTBOUND_REQUEST_TOTAL_TIMEOUT", default=120.0)

# Agents' live notifications (issue 11): agents/. The channel layer carries each call event from
# the web process that received it to every open agent page. Empty: an in-memory layer, which only
# reaches pages connected to the same process (one web process, as `make run` starts); with several
# web processes set a Redis URL ("redis://host:6379/2").
CHANNEL_LAYER_URL = env.str("CHANNEL_LAYER_URL", default="")
if CHANNEL_LAYER_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [CHANNEL_LAYER_URL], "prefix": "cti-agents"},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# An agent's list of calls keeps the calls of today (the tenant's day); older ones are deleted
# after this many days.
AGENT_CALLS_KEEP_DAYS = env.int("AGENT_CALLS_KEEP_DAYS", default=7)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # One line per CRM request is too much at INFO during a sync of thousands of pages.
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}
