"""Tracker settings. Every value that differs between machines comes from the
environment (12-factor), with defaults that work for `make run` on a laptop."""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from pythonjsonlogger.core import RESERVED_ATTRS

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
# A fixed key is tolerable only in development; production must provide one.
SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key" if DEBUG else environ.Env.NOTSET)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "tracker.apps.TrackerAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "django_htmx",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "tracker",
    "accounts",
    "issues",
    "reports",
]

MIDDLEWARE = [
    # First: binds the request id before anything logs, and times the whole stack.
    "tracker.request_log.RequestLogMiddleware",
    # The time through the stack and the SQL statements per request.
    "tracker.metrics.http.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tracker.lazy_messages.LazyMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # An htmx request of someone signed out gets 401, not the login page in its region.
    "tracker.signed_out.SignedOutMiddleware",
    "tracker.csp_headers.CSPMiddleware",
    # After the others, so that it turns a login refused for a locked-out client
    # into the lockout page.
    "axes.middleware.AxesMiddleware",
    # Last: per-view request counts and latency (the view's own time).
    "tracker.metrics.http.ViewMetricsMiddleware",
]

ROOT_URLCONF = "tracker.urls"
WSGI_APPLICATION = "tracker.wsgi.application"
ASGI_APPLICATION = "tracker.asgi.application"

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
                "tracker.context_processors.nav",
            ],
            # Used by nearly every page and partial, so loaded everywhere.
            "builtins": [
                "django.contrib.humanize.templatetags.humanize",
                "issues.templatetags.issue_tags",
            ],
        },
    },
]

# --- Data stores -------------------------------------------------------------

DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:54329/tracker")
}
# Django's backend, with a check of pooled connections that costs no round trip.
DATABASES["default"]["ENGINE"] = "tracker.postgresql"
DATABASES["default"].setdefault("OPTIONS", {})
# Under ASGI every request runs its sync code in a thread of its own, and there
# are as many threads as the peak of concurrent requests: a persistent connection
# (CONN_MAX_AGE) per thread would keep that many open. The ASGI entry point
# (tracker/asgi.py) turns on Django's psycopg pool instead:
# DATABASE_POOL_MAX_SIZE connections per process, shared by its requests.
# Commands, Celery and WSGI keep a connection per thread; there CONN_MAX_AGE > 0
# pays off in long-running processes.
if env.bool("DATABASE_POOL", default=False):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=10),
        # How long a request waits for a free connection before it fails.
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
# A database restart must cost at most one failed request, not a process restart.
# Pooled connections are checked by tracker.postgresql (a poll of the socket)
# instead of by the pool (a round trip per request).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = "pool" not in DATABASES["default"]["OPTIONS"]
# PostgreSQL's JIT compiles any query it estimates as costly, which for the
# reports and a search over a million issues spends more time compiling (100s of
# ms) than running; Tracker's queries are short and index-driven. The ranked
# search sorts every match of a common word (100,000 of a million issues): in
# PostgreSQL's default 4 MB it spills to temporary files, 70-110 ms against
# 45-55 ms in 16 MB.
DATABASES["default"]["OPTIONS"]["options"] = (
    DATABASES["default"]["OPTIONS"].get("options", "")
    + " -c jit=off -c work_mem="
    + env("DATABASE_WORK_MEM", default="16MB")
).strip()
# Lookups by a key and the writes of a create, an edit or a comment are kept
# prepared on their connection (tracker.db.Prepared with server_prepared,
# tracker.db.Insert and Update): psycopg prepares only with a threshold set
# (Django sets none, for PgBouncer's transaction mode before 1.21). Django's own
# queries bind on the client and are never prepared, so a threshold no count
# reaches changes nothing for them. DATABASE_PREPARED=0 turns all of it off.
if env.bool("DATABASE_PREPARED", default=True):
    DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", 2**31 - 1)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:63799/0")

# The API's rate-limit counters must be shared by every web process, hence Redis.
# Short timeouts: when Redis is away, throttling gives up (tracker.throttling)
# instead of holding the request.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "throttle": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env("THROTTLE_CACHE_URL", default=REDIS_URL),
        "KEY_PREFIX": "throttle",
        "OPTIONS": {
            "socket_connect_timeout": 0.5,
            "socket_timeout": 0.5,
            # Django's caches are per request under ASGI: without a shared pool
            # every API request would open a new connection to Redis.
            "pool_class": "tracker.redis_pool.SharedConnectionPool",
        },
    },
}

# --- Accounts ----------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "issues:list"
LOGOUT_REDIRECT_URL = "accounts:login"
# Django's database sessions, read by a statement written once (tracker.sessions).
SESSION_ENGINE = "tracker.sessions"
# Argon2 for new and re-hashed passwords; the others still verify older hashes.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
# Axes first: it refuses a locked-out client before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login lockout (django-axes): LOGIN_FAILURE_LIMIT wrong passwords for one email
# from one address lock that pair out for LOGIN_COOLOFF_MINUTES, on the login page,
# the admin's login and POST /api/auth/token/ alike. Keying on the pair, not the
# email alone, stops a stranger from locking someone out from everywhere.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Retrying while locked out does not push the end of the lockout further away,
# so the time the lockout page names stays true.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Both the login form and the token endpoint pass the email as `username`; it is
# compared lower-cased, as the login itself is case-insensitive.
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "accounts.lockout.client_username"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# Failed attempts live in the database (axes' AccessAttempt); successful logins
# are not logged, so nothing grows without bound.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_DISABLE_ACCESS_LOG = True

# --- Internationalisation, static and media files ----------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# English only, with no translations: without the translation machinery each
# gettext is a plain lookup. Django's naturaltime, when the issue list used it
# (two a row), took 94 µs with it and 10 µs without.
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / ".data" / "static")
STATICFILES_DIRS = [BASE_DIR / "static"]
# Production serves collected, hashed files; STATIC_MANIFEST=0 serves the source
# tree instead (development, and the browser tests' server, which skip collectstatic).
STATIC_MANIFEST = env.bool("STATIC_MANIFEST", default=not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
# Media is never served from a public URL: attachments go through a
# permission-checked view, so there is deliberately no MEDIA_URL route.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / ".data" / "media")
MEDIA_URL = "/media/"
BACKUP_DIR = env.path("BACKUP_DIR", default=BASE_DIR / "backups")  # manage.py backup/restore
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
ATTACHMENT_ALLOWED_TYPES = env.list(
    "ATTACHMENT_ALLOWED_TYPES",
    default=[
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
        "text/csv",
        "application/json",
        "application/zip",
        "application/gzip",
    ],
)
# CSV import (issues.importer): files over IMPORT_ASYNC_ROWS rows run as a Celery
# task on IMPORT_QUEUE (empty: Celery's default queue), IMPORT_BATCH_SIZE rows per
# transaction; at most IMPORT_MAX_ERRORS row errors are kept for the report. A
# running import without a heartbeat (one per batch) for IMPORT_STALE_SECONDS has
# lost its worker and is marked failed (issues.importer.abandoned).
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=20 * 1024 * 1024)
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=100_000)
IMPORT_ASYNC_ROWS = env.int("IMPORT_ASYNC_ROWS", default=2_000)
IMPORT_BATCH_SIZE = env.int("IMPORT_BATCH_SIZE", default=5_000)
IMPORT_MAX_ERRORS = env.int("IMPORT_MAX_ERRORS", default=10_000)
IMPORT_QUEUE = env("IMPORT_QUEUE", default="")
IMPORT_STALE_SECONDS = env.int("IMPORT_STALE_SECONDS", default=120)
# Lists count their rows exactly up to LIST_COUNT_CAP and show "10,000+" beyond
# (tracker.paging): an exact count of a million rows costs more than the page.
LIST_COUNT_CAP = env.int("LIST_COUNT_CAP", default=10_000)
# A search's matches are counted up to SEARCH_COUNT_CAP ("1,000+"): no index
# counts them, so counting 10,000 matches of a word one issue in ten has reads
# 100,000 search rows (20 ms at a million issues, more than ranking them).
SEARCH_COUNT_CAP = env.int("SEARCH_COUNT_CAP", default=1_000)
# A search narrowed by another filter ("error" among the open issues) up to
# FILTERED_SEARCH_COUNT_CAP ("100+"): the other filter is checked match by match.
FILTERED_SEARCH_COUNT_CAP = env.int("FILTERED_SEARCH_COUNT_CAP", default=100)
# The ASGI server closes a keep-alive connection after about this many requests
# (0: never), so that a few busy clients do not stay on one worker while the
# others idle (tracker.keepalive).
KEEPALIVE_REQUESTS = env.int("KEEPALIVE_REQUESTS", default=100)

# --- Mail --------------------------------------------------------------------

vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="tracker@localhost")
# Notification mail (issues.notifications) is sent by a Celery task that beat
# runs every NOTIFICATIONS_INTERVAL_SECONDS on NOTIFICATIONS_QUEUE (empty:
# Celery's default queue); its links start with SITE_URL.
NOTIFICATIONS_QUEUE = env("NOTIFICATIONS_QUEUE", default="")
NOTIFICATIONS_INTERVAL_SECONDS = env.float("NOTIFICATIONS_INTERVAL_SECONDS", default=5.0)
SITE_URL = env("SITE_URL", default="http://localhost:8000")

# --- Background work ---------------------------------------------------------

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
if CELERY_BROKER_URL.startswith("redis://"):
    # kombu's Redis transport, keeping a client per channel (tracker.broker).
    CELERY_BROKER_TRANSPORT = "tracker.broker:Transport"
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Fault behaviour (README, "Faults survived"):
# - acks_late: a task is acknowledged when it has finished, so one lost with its
#   whole worker (SIGKILL, machine gone) goes back to the queue once the visibility
#   timeout has passed. Every task is safe to run twice: the stats are an upsert,
#   an import skips the rows its file already produced, a mail digest at worst
#   goes out twice.
# - reject_on_worker_lost stays off: a task whose pool process dies under it (the
#   OOM killer) is marked failed rather than requeued at once, since requeueing a
#   task that kills its process would loop. The stats task is repaired by the next
#   beat run anyway.
# - visibility_timeout must exceed the longest task (a 100,000-row import), or
#   Redis hands a running task to a second worker.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Requests enqueue tasks (mail, imports) and must not hang when Redis is away: a
# refused connection fails within a second, a silent one within the timeouts.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
# Nothing waits for the results of mail and import tasks (a job's state is in its
# ImportJob row). Sending a task whose result is kept first subscribes the sender
# to that result in Redis, which with Redis down retries for about 20 s before the
# send even starts; the tasks that are waited for say so themselves.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
STATS_INTERVAL_MINUTES = env.int("STATS_INTERVAL_MINUTES", default=30)
CELERY_BEAT_SCHEDULE = {
    "aggregate-daily-stats": {
        "task": "reports.tasks.aggregate_daily_stats",
        "schedule": STATS_INTERVAL_MINUTES * 60,
    },
    "send-pending-mail": {
        "task": "issues.send_pending_mail",
        "schedule": NOTIFICATIONS_INTERVAL_SECONDS,
        "options": {"queue": NOTIFICATIONS_QUEUE} if NOTIFICATIONS_QUEUE else {},
    },
    "reap-abandoned-imports": {
        "task": "issues.reap_abandoned_imports",
        "schedule": 60,
    },
    # The whole-history resolution latency, too costly per request (reports.snapshots).
    "refresh-report-snapshots": {
        "task": "reports.tasks.refresh_report_snapshots",
        "schedule": STATS_INTERVAL_MINUTES * 60,
    },
}

# --- API ---------------------------------------------------------------------

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate challenge makes anonymous requests a 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "tracker.api.Pagination",
    "EXCEPTION_HANDLER": "tracker.api.exception_handler",
    "DEFAULT_METADATA_CLASS": "tracker.api.Metadata",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "tracker.api.BrowsableAPIRenderer",  # DRF's, with the one CSP relaxation it needs
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Per user when signed in, per client address otherwise; over the rate: 429
    # with Retry-After. Rates are "<count>/<second|minute|hour|day>"; DRF keeps a
    # timestamp per request in the window, so prefer short windows to huge counts.
    "DEFAULT_THROTTLE_CLASSES": [
        "tracker.throttling.AnonRateThrottle",
        "tracker.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_RATE_ANON", default="60/minute"),
        "user": env("API_RATE_USER", default="600/minute"),
    },
    # The client address is REMOTE_ADDR (which uvicorn sets from X-Forwarded-For
    # for the proxies FORWARDED_ALLOW_IPS trusts); never a header a client can forge.
    "NUM_PROXIES": 0,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tracker API",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "IssueStatusEnum": "issues.models.Status",
        "RoleEnum": "accounts.models.Role",
    },
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # issues.converters.IssueNumberConverter: a whole number of at most 18 digits.
    "PATH_CONVERTER_OVERRIDES": {
        "issue_number": {"type": "integer", "minimum": 0, "maximum": 10**18 - 1}
    },
    "DESCRIPTION": "Issues, comments, labels, attachments and the timeline. Authenticate "
    "with `Authorization: Token <key>` (POST /api/auth/token/) or a browser session.",
}

# --- Production hardening (all on when DEBUG is off) ---------------------------

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Health checks and scrapes come from inside the network, over HTTP.
SECURE_REDIRECT_EXEMPT = [r"^health/$", r"^metrics$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): scripts, styles and everything else from
# our own origin only; no inline script or style anywhere (label colours and the
# like are set through the CSSOM by static/js/tracker.js).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- Metrics and logs -----------------------------------------------------------

# /metrics (tracker.metrics.access): readable from METRICS_ALLOWED_NETWORKS (CIDRs)
# or with "Authorization: Bearer <METRICS_TOKEN>". Networks unset or empty: loopback
# only, or none once a token is set.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=[])

LOG_LEVEL = env("LOG_LEVEL", default="INFO")
# json: one JSON object per line (production); text: readable lines (development).
LOG_FORMAT = env("LOG_FORMAT", default="") or ("text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "tracker.log_context.ContextFilter"}},
    "formatters": {
        "text": {
            "()": "tracker.log_context.TextFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(context)s%(message)s",
        },
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": ["levelname", "name", "message"],
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",
            # uvicorn adds a copy of its message with terminal colours.
            "reserved_attrs": [*RESERVED_ATTRS, "color_message"],
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Through the root handler only (Django's default adds a DEBUG-only one of its own).
        "django": {"handlers": [], "level": LOG_LEVEL},
        # uvicorn's own lines in our format; its access line would repeat ours
        # (tracker.request), so it is off.
        "uvicorn": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        # Not a line per process start; failed logins and lockouts (axes.handlers) still log.
        "axes.apps": {"level": "WARNING"},
    },
}
