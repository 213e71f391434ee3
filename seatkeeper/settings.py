"""Seatkeeper's one settings module.

Everything an operator sets comes from environment variables (see README, "Configuration").
Defaults run the whole platform on one machine with no setup: SQLite and every runtime file
under `var/`, a database-backed task queue, mail written to files. A malformed value stops the
process at start with ImproperlyConfigured naming the variable.
"""

from __future__ import annotations

import secrets
from decimal import Decimal, InvalidOperation
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from seatkeeper.core.email_url import mailer_from_url
from seatkeeper.core.env import env_bool, env_int, env_list, env_str, env_url
from seatkeeper.core.files import private_file, private_sqlite

PACKAGE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(env_str("SEATKEEPER_VAR_DIR", str(Path.cwd() / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _generated_secret(file_name: str, make) -> str:
    """Read a secret kept in var/, creating it once (mode 0600) when absent."""
    path = VAR_DIR / file_name
    fresh = not path.exists()
    private_file(path)
    if fresh:
        path.write_text(make(), encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()


DEBUG = env_bool("SEATKEEPER_DEBUG", False)
SECRET_KEY = env_str("SEATKEEPER_SECRET_KEY") or _generated_secret(
    "secret_key", lambda: secrets.token_urlsafe(50)
)
if len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("SEATKEEPER_SECRET_KEY must be at least 32 characters long")

# Vendor secrets (provider account client secrets, refresh tokens) are encrypted at rest with
# this Fernet key. Losing it means re-entering those secrets, so production sets it explicitly.
ENCRYPTION_KEY = env_str("SEATKEEPER_ENCRYPTION_KEY") or _generated_secret(
    "encryption_key", lambda: Fernet.generate_key().decode()
)
try:
    Fernet(ENCRYPTION_KEY)
except ValueError as error:
    raise ImproperlyConfigured(
        "SEATKEEPER_ENCRYPTION_KEY must be 32 url-safe base64-encoded bytes (a Fernet key)"
    ) from error

ALLOWED_HOSTS = env_list(
    "SEATKEEPER_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("SEATKEEPER_CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_url(
    "SEATKEEPER_SITE_URL",
    f"http://127.0.0.1:{env_int('SEATKEEPER_PORT', 8000, minimum=1, maximum=65535)}",
    schemes={"http", "https"},
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_filters",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "django_tasks_db",
    "seatkeeper.core",
    "seatkeeper.accounts",
    "seatkeeper.activity",
    "seatkeeper.providers",
    "seatkeeper.catalog",
    "seatkeeper.pricing",
    "seatkeeper.subscriptions",
    "seatkeeper.billing",
    "seatkeeper.discovery",
    "seatkeeper.people",
    "seatkeeper.ui",
    "seatkeeper.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "seatkeeper.accounts.middleware.UserLanguageMiddleware",
    "seatkeeper.accounts.middleware.PrivatePagesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Must be last: counts failed logins and locks out after AXES_FAILURE_LIMIT.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "seatkeeper.urls"
WSGI_APPLICATION = "seatkeeper.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "seatkeeper.ui.context_processors.navigation",
            ],
            # Money, numbers and dates in the reader's language, in every template.
            "builtins": ["seatkeeper.ui.templatetags.formats"],
        },
    }
]

# --- Database --------------------------------------------------------------------------------
DATABASE_URL = env_url(
    "DATABASE_URL",
    f"sqlite:///{VAR_DIR / 'seatkeeper.sqlite3'}",
    schemes={"sqlite", "postgres", "postgresql", "pgsql"},
)
_database = dj_database_url.parse(
    DATABASE_URL, conn_max_age=env_int("SEATKEEPER_DB_CONN_MAX_AGE", 60)
)
if _database["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions make the web process and the worker queue for the write lock instead
    # of failing with "database is locked" half-way through a transaction; WAL lets readers run
    # beside one writer.
    _database["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    _database["CONN_MAX_AGE"] = 0
    if _database["NAME"] and _database["NAME"] != ":memory:":
        private_sqlite(Path(_database["NAME"]))
else:
    _database.setdefault("OPTIONS", {})
    _database["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Task queue -------------------------------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", None, schemes={"redis", "rediss"})
if REDIS_URL:
    # Scaled out: the same task code on RQ workers over Redis, on as many machines as needed.
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 900}}
    INSTALLED_APPS.append("django_rq")
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "seatkeeper",
        }
    }
else:
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    # Nothing shared lives in this cache on one machine: state that several processes must agree
    # on (rate limits, schedules, locks) is in the database.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Worker leases (seatkeeper.core.workers): how often a worker renews its lease, and how long
# without renewal before it counts as dead and its claims go to the other workers.
WORKER_HEARTBEAT_SECONDS = env_int("SEATKEEPER_WORKER_HEARTBEAT_SECONDS", 10, minimum=1)
WORKER_LIVENESS_SECONDS = env_int("SEATKEEPER_WORKER_LIVENESS_SECONDS", 60, minimum=2)

# --- Authentication ---------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "seatkeeper.accounts.backends.OrganisationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24  # one day, also the lifetime of an invitation link

# Login throttling (django-axes): lock a username+address pair after 5 failures for 15 minutes.
AXES_FAILURE_LIMIT = env_int("SEATKEEPER_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# --- Security ---------------------------------------------------------------------------------
SECURE_HTTPS = env_bool("SEATKEEPER_HTTPS", False)
SESSION_COOKIE_SECURE = SECURE_HTTPS
CSRF_COOKIE_SECURE = SECURE_HTTPS
SECURE_SSL_REDIRECT = SECURE_HTTPS and env_bool("SEATKEEPER_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = 31536000 if SECURE_HTTPS else 0
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE_HTTPS else None
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 60 * 60 * 12
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.SELF],
}

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# --- Static files -----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Finders let the web process serve assets straight from the installed packages when
# collectstatic has not run (tests, a first start); `seatkeeper serve` collects them first.
WHITENOISE_USE_FINDERS = True

# --- E-mail -----------------------------------------------------------------------------------
EMAIL_URL = env_url(
    "EMAIL_URL",
    f"file://{VAR_DIR / 'mail'}",
    schemes={"file", "smtp", "smtp+tls", "smtps", "console", "locmem"},
)
MAILERS = {"default": mailer_from_url(EMAIL_URL)}
DEFAULT_FROM_EMAIL = env_str("SEATKEEPER_FROM_EMAIL", "Seatkeeper <seatkeeper@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Provisioning -----------------------------------------------------------------------------
# How long a change meant for a renewed term waits for the vendor to show that term before it
# fails and the people concerned are e-mailed.
SEATKEEPER_RENEWAL_WAIT_HOURS = env_int("SEATKEEPER_RENEWAL_WAIT_HOURS", 72, minimum=1)


# --- Reconciliation ---------------------------------------------------------------------------
# How far the vendor's amount for a subscription and period may be from our partner cost and
# still count as matched: within the absolute amount (in the line's currency) OR within the
# percentage of the vendor's amount. Rounding of the vendor's sub-cent prices stays below both.
def _env_decimal(name: str, default: str) -> Decimal:
    raw = env_str(name, default)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name} must be a decimal number, not {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise ImproperlyConfigured(f"{name} must be a number of zero or more")
    return value


SEATKEEPER_RECONCILIATION_TOLERANCE_AMOUNT = _env_decimal(
    "SEATKEEPER_RECONCILIATION_TOLERANCE_AMOUNT", "0.01"
)
SEATKEEPER_RECONCILIATION_TOLERANCE_PERCENT = _env_decimal(
    "SEATKEEPER_RECONCILIATION_TOLERANCE_PERCENT", "0"
)

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "seatkeeper.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "seatkeeper.api.schema.SeatkeeperAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "seatkeeper.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "seatkeeper.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Seatkeeper API",
    "DESCRIPTION": "Cloud licence and subscription management. Authenticate with "
    "`Authorization: Token <your API token>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and the docs show every operation: for signed-in users and tokens only.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets used by several components under one field name get one name of their own.
    "ENUM_NAME_OVERRIDES": {
        "OperationStateEnum": "seatkeeper.subscriptions.models.OperationState",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("SEATKEEPER_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
    },
}
