"""Settings for tradeplatform: one module, read from the environment (django-environ).

Every value has a development default, except the secrets: with ``DEBUG`` off the
platform refuses to start without ``SECRET_KEY`` and ``BROKER_PUBLIC_KEY``.
A ``<NAME>_FILE`` variable (Docker secrets) is read in place of ``<NAME>``.

While a development stack runs (`make run`: scripts/devstack.py), ``var/services.env``
(or ``SERVICES_ENV_FILE``) holds the URLs of its embedded PostgreSQL and Redis and
``DEBUG=1``; a variable that is not set in the environment is taken from there, so
`python manage.py run_candle …` in another terminal works against that stack. The
environment always wins, and the file exists only while the stack runs (production has
no var/: see .dockerignore).
"""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
SERVICES_ENV = Path(env.str("SERVICES_ENV_FILE", default=str(BASE_DIR / "var" / "services.env")))
if SERVICES_ENV.exists():
    environ.Env.read_env(SERVICES_ENV, overwrite=False)


def _secret(name: str, *, dev_default: str) -> str:
    """Read a secret from NAME or NAME_FILE; only DEBUG may fall back to a default."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        return Path(path).read_text().strip()
    value = env.str(name, default="")
    if value:
        return value
    if DEBUG:
        return dev_default
    raise ImproperlyConfigured(f"{name} must be set when DEBUG is off")


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = _secret("SECRET_KEY", dev_default="dev-only-insecure-secret-key-change-me-0123456789")
# Broker credentials are sealed to a public key (accounts.crypto): every process holds the
# public key and seals; only the orders worker is given the private keys, newest first
# (rotation), so the web and the strategy workers can never open a credential.
DEV_BROKER_PUBLIC_KEY = "z2VV0LVzH8kgHDVylmIao4U3QqZjuo4uPe206ac/DHU="
BROKER_PUBLIC_KEY = _secret("BROKER_PUBLIC_KEY", dev_default=DEV_BROKER_PUBLIC_KEY)
if not DEBUG and BROKER_PUBLIC_KEY == DEV_BROKER_PUBLIC_KEY:
    raise ImproperlyConfigured("BROKER_PUBLIC_KEY is the development key; DEBUG is off")
_private_keys_file = env.str("BROKER_PRIVATE_KEYS_FILE", default="")
BROKER_PRIVATE_KEYS = (
    Path(_private_keys_file).read_text().split()
    if _private_keys_file
    else env.list("BROKER_PRIVATE_KEYS", default=[])
)
# The development key pair's private half (make run gives it to the orders worker only).
DEV_BROKER_PRIVATE_KEY_FILE = BASE_DIR / "scripts" / "dev-broker-private.key"
if not DEBUG and DEV_BROKER_PRIVATE_KEY_FILE.read_text().strip() in BROKER_PRIVATE_KEYS:
    raise ImproperlyConfigured("BROKER_PRIVATE_KEYS holds the development key; DEBUG is off")
# Fernet keys of the credentials stored before the sealed box: only migration 0002 of
# accounts reads them (to seal those rows); not needed once it has run.
FIELD_ENCRYPTION_KEYS = env.list(
    "FIELD_ENCRYPTION_KEYS",
    default=["ZGV2LW9ubHktZmllbGQta2V5LTAxMjM0NTY3ODlhYmM="] if DEBUG else [],
)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # django.contrib.admin with our site: the platform's sections first (admin_site.py).
    "tradeplatform.admin_site.PlatformAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "django_celery_beat",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # The project's apps, lowest floor first (imports run one way: accounts, marketdata <-
    # strategies <- subscriptions <- executions <- backtests).
    "accounts",
    "marketdata",
    "strategies",
    "subscriptions",
    "executions",
    "backtests",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns an admin-site lockout into the error envelope.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tradeplatform.urls"
WSGI_APPLICATION = "tradeplatform.wsgi.application"
APPEND_SLASH = False

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
                "executions.worker_guard.admin_context",
            ],
        },
    },
]

# PostgreSQL only (one query path). Without DATABASE_URL (and no development stack
# running) a local server's `tradeplatform` database.
DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/tradeplatform"),
}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must name a PostgreSQL database (postgres://…)")
# Persistent connections (checked before reuse): a new PostgreSQL connection per request
# cost more than the strategy list itself (bench/RESULTS.md). 0 closes after each request.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# libpq waits forever for a host that drops packets; a request should fail fast (503).
DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
    "connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=5)
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    # No IGNORE_EXCEPTIONS: a lost Redis must surface as an error, never as a silent
    # cache miss or, worse, a lock that looks acquired.
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "tp",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": 2,
            "SOCKET_TIMEOUT": 2,
            # JSON, never pickle: whoever can write a cache key must not run code here.
            "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
        },
    },
}

AUTH_USER_MODEL = "accounts.User"
# django-axes first: it refuses a locked-out email before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# Dates and times as people read them here: ISO-like, 24 hours, the zone named
# ("2026-01-15 15:00:00 UTC"), in the admin and every template (tradeplatform/formats).
FORMAT_MODULE_PATH = ["tradeplatform.formats"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "tradeplatform.renderers.CamelCaseJSONRenderer",
        "tradeplatform.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "tradeplatform.parsers.StrictCamelCaseJSONParser",
        "djangorestframework_camel_case.parser.CamelCaseFormParser",
        "djangorestframework_camel_case.parser.CamelCaseMultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "tradeplatform.api.EnvelopePagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "tradeplatform.api.exception_handler",
    # Money goes out as JSON numbers: the SPA calls .toFixed() on it.
    "COERCE_DECIMAL_TO_STRING": False,
    "DEFAULT_THROTTLE_RATES": {
        "auth": env.str("THROTTLE_AUTH", default="10/min"),
        "strategy_upload": env.str("THROTTLE_STRATEGY_UPLOAD", default="30/hour"),
        # /api/broker/futures-balance: a stale look may wait on the orders worker.
        "balance": env.str("THROTTLE_BALANCE", default="30/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # How many reverse proxies stand in front of gunicorn. Throttles key on the client
    # address: with 0 it is REMOTE_ADDR, with N the N-th X-Forwarded-For entry from the
    # right (the one our own proxy wrote). Left unset, DRF would key on the whole header,
    # which any client can fill with a new value per request to escape every throttle.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "DEFAULT_SCHEMA_CLASS": "tradeplatform.schema.EnvelopeAutoSchema",
}

# OpenAPI 3 at /api/schema/, Swagger UI at /api/docs/, Redoc at /api/redoc/; the UIs'
# assets come from drf-spectacular-sidecar (served by us, no CDN).
SPECTACULAR_SETTINGS = {
    "TITLE": "tradeplatform API",
    "DESCRIPTION": (
        "Upload trading strategies, subscribe to them with your capital and risk settings, "
        "and follow their trades. JSON in camelCase; every error is "
        '`{"error": message, "details"?: {field: [messages]}}`; every list takes `page` and '
        "`limit` and answers `{<things>: [...], pagination: {page, limit, total, pages}}`. "
        "Authenticate with `Authorization: Bearer <token>` from POST /auth/login."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Nothing from outside: no validator badge from validator.swagger.io, no web fonts
    # (templates/drf_spectacular/redoc.html drops drf-spectacular's Google Fonts links).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_UI_SETTINGS": {
        "theme": {
            "typography": {
                "fontFamily": "system-ui, -apple-system, 'Segoe UI', sans-serif",
                "headings": {"fontFamily": "system-ui, -apple-system, 'Segoe UI', sans-serif"},
                "code": {"fontFamily": "ui-monospace, Menlo, Consolas, monospace"},
            }
        }
    },
    "COMPONENT_SPLIT_REQUEST": True,
    # Three models have a `status` with different choices: name the backtest's.
    "ENUM_NAME_OVERRIDES": {"BacktestStatusEnum": "backtests.models.Backtest.Status"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "drf_spectacular.contrib.djangorestframework_camel_case.camelize_serializer_fields",
        "tradeplatform.schema.strip_trailing_slashes",
    ],
}

# Keys inside a strategy's `params` and an execution's `signal` are the author's own: they
# cross the wire untouched, neither camelized nor underscored.
JSON_CAMEL_CASE = {
    "JSON_UNDERSCOREIZE": {
        "no_underscore_before_number": False,
        "ignore_fields": ("params", "signal"),
        "ignore_keys": None,
    },
}

# Per-user quotas: an account cannot fill the database or the engine's candle fan-out.
MAX_STRATEGIES_PER_USER = env.int("MAX_STRATEGIES_PER_USER", default=50)
MAX_SUBSCRIPTIONS_PER_USER = env.int("MAX_SUBSCRIPTIONS_PER_USER", default=100)

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": _secret("JWT_SIGNING_KEY", dev_default=SECRET_KEY),
    "USER_ID_FIELD": "id",
    # Our access tokens, and the revocable session tokens of the original SPA's sign-in
    # (accounts.tokens.SessionToken).
    "AUTH_TOKEN_CLASSES": (
        "rest_framework_simplejwt.tokens.AccessToken",
        "accounts.tokens.SessionToken",
    ),
}

# The original system's SPA (tradeplatform.spa): its sign-in keeps one token for the whole
# browser session (its NextAuth session lasts 24 hours) and never refreshes it; the broker
# its key form connects (`paper`, or a ccxt exchange id); the balance a paper account shows.
SPA_SESSION_HOURS = env.int("SPA_SESSION_HOURS", default=24)
SPA_BROKER = env.str("SPA_BROKER", default="paper")
SPA_PAPER_BALANCE = Decimal(env.str("SPA_PAPER_BALANCE", default="100000"))

# Celery: Redis is the broker. The time limit stays well below the broker's visibility
# timeout, so a task is never redelivered while it still runs; late acks are safe only
# because a (strategy, candle close) execution is unique in the database.
CELERY_BROKER_URL = REDIS_URL
# JSON only: a message someone pushed into Redis is data, never a pickle to load.
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=120)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 10
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Celery's Django fix-up closes the database connection around every task unless this is
# set; tradeplatform/celery.py recycles connections by CONN_MAX_AGE instead.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=10_000)

# The strategy sandbox (executions.sandbox): which backend and its per-execution limits.
# Every backend applies the whole confinement (README, "The strategy sandbox"); "warm"
# (a confined forking server per worker process, a few ms per run) is the default,
# "warm-bwrap" adds bubblewrap around it (the Docker image). SANDBOX_ALLOW_UNCONFINED
# runs strategies with rlimits and seccomp only, for a developer's own code on a machine
# without user namespaces or Landlock: never with DEBUG off.
SANDBOX_ALLOW_UNCONFINED = env.bool("SANDBOX_ALLOW_UNCONFINED", default=False)
if SANDBOX_ALLOW_UNCONFINED and not DEBUG:
    raise ImproperlyConfigured("SANDBOX_ALLOW_UNCONFINED is refused when DEBUG is off")
SANDBOX_BACKEND = env.str("SANDBOX_BACKEND", default="warm")
if SANDBOX_ALLOW_UNCONFINED:
    SANDBOX_BACKEND = "unconfined"
elif SANDBOX_BACKEND == "unconfined":
    raise ImproperlyConfigured("SANDBOX_BACKEND=unconfined needs SANDBOX_ALLOW_UNCONFINED=1")
SANDBOX_WALL_SECONDS = env.float("SANDBOX_WALL_SECONDS", default=5.0)
SANDBOX_CPU_SECONDS = env.int("SANDBOX_CPU_SECONDS", default=5)
SANDBOX_MEMORY_MB = env.int("SANDBOX_MEMORY_MB", default=512)
# How far from the platform's price (the signal candle's close) a strategy's stopLoss and
# takeProfit may lie, as a fraction of it (executions.trading.signal_parser); farther is a
# FAILED signal.
SIGNAL_PRICE_BAND = Decimal(env.str("SIGNAL_PRICE_BAND", default="0.5"))
# Backtests run on their own queue (a worker started with -Q backtests, see Procfile), so
# a long replay never holds up a candle close; their own time limit; a cap on their size.
CELERY_TASK_ROUTES = {
    "executions.run_backtest": {"queue": "backtests"},
    # The orders worker alone holds the broker private key (BROKER_PRIVATE_KEYS).
    "executions.orders_submit": {"queue": "orders"},
    "executions.order_sync": {"queue": "orders"},
    "executions.credential_reconcile": {"queue": "orders"},
    "executions.orders_reconcile": {"queue": "orders"},
    "executions.balance_refresh": {"queue": "orders"},
}
BACKTEST_TIME_LIMIT = env.int("BACKTEST_TIME_LIMIT", default=1800)
BACKTEST_MAX_CANDLES = env.int("BACKTEST_MAX_CANDLES", default=200_000)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Market data (marketdata.providers): where candles come from. "synthetic" is a
# deterministic offline market; "ccxt" reads MARKET_DATA_EXCHANGE's public OHLCV; "csv"
# reads MARKET_DATA_CSV_DIR/<SYMBOL>-<RESOLUTION>.csv.
MARKET_DATA_PROVIDER = env.str("MARKET_DATA_PROVIDER", default="synthetic")
MARKET_DATA_EXCHANGE = env.str("MARKET_DATA_EXCHANGE", default="binance")
MARKET_DATA_CSV_DIR = env.path("MARKET_DATA_CSV_DIR", default=BASE_DIR / "var" / "candles")
# ccxt clients (market data and brokers): request timeout, extra configuration merged into
# every client (JSON), and an origin that replaces the exchange's (a local stand-in).
CCXT_TIMEOUT_MS = env.int("CCXT_TIMEOUT_MS", default=10_000)
CCXT_OPTIONS = env.json("CCXT_OPTIONS", default={})
CCXT_API_URL = env.str("CCXT_API_URL", default="")
# Orders (executions.orders): requests per second per exchange id shared by every orders
# worker (executions.ratelimit; ccxt's own rate when an exchange is not named), and the
# fee rate of the paper exchange's fills.
ORDERS_RATE_LIMITS = env.json("ORDERS_RATE_LIMITS", default={})
# How many orders-queue tasks talk to one exchange at a time, over every orders-worker
# thread and process (executions.ratelimit.exchange_slot; below the worker's 16 threads,
# so an exchange that hangs leaves threads to the others), and how soon a task that found
# them all taken is tried again.
ORDERS_EXCHANGE_CONCURRENCY = env.int("ORDERS_EXCHANGE_CONCURRENCY", default=12)
ORDERS_EXCHANGE_RETRY_SECONDS = env.float("ORDERS_EXCHANGE_RETRY_SECONDS", default=0.5)
# Seconds before an unanswered order is looked up again, how many
# lookups in a row, how many that find nothing before an unacknowledged order is sent
# again (same client order id); how old a NEW order must be for reconciliation to send it.
ORDERS_LOOKUP_DELAY_SECONDS = env.float("ORDERS_LOOKUP_DELAY_SECONDS", default=2.0)
ORDERS_LOOKUP_ROUNDS = env.int("ORDERS_LOOKUP_ROUNDS", default=5)
ORDERS_NOT_FOUND_CONFIRMATIONS = env.int("ORDERS_NOT_FOUND_CONFIRMATIONS", default=3)
ORDERS_STALE_NEW_SECONDS = env.int("ORDERS_STALE_NEW_SECONDS", default=120)
PAPER_FEE_RATE = Decimal(env.str("PAPER_FEE_RATE", default="0"))
# Exchange account balances (executions.balances): the currency shown (the settle/quote
# currency of the markets traded); a snapshot younger than the max age is answered as it
# is; an older one asks the orders worker for a refresh, at most one per credential per
# interval, and the request that asked waits up to BALANCE_WAIT_SECONDS for it.
BALANCE_CURRENCY = env.str("BALANCE_CURRENCY", default="USDT")
BALANCE_MAX_AGE_SECONDS = env.int("BALANCE_MAX_AGE_SECONDS", default=60)
BALANCE_REFRESH_INTERVAL_SECONDS = env.int("BALANCE_REFRESH_INTERVAL_SECONDS", default=30)
BALANCE_WAIT_SECONDS = env.float("BALANCE_WAIT_SECONDS", default=3.0)

SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Lockout after repeated failed logins (django-axes), keyed on the email alone: an
# attacker who rotates IP addresses still gets AXES_FAILURE_LIMIT guesses per account per
# cool-off, and nobody can lock every user out from one IP (the `auth` throttle bounds
# what one IP may try). The price: anyone can lock one known account for 15 minutes, the
# usual trade-off. Attempts live in PostgreSQL (visible and deletable in the admin, or
# `manage.py axes_reset_username`), not in Redis, which the platform treats as volatile.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_USERNAME_FORM_FIELD = "email"
AXES_USERNAME_CALLABLE = "accounts.lockout.username_from_request"
AXES_RESET_ON_SUCCESS = True
# A guess during the lockout neither counts nor extends it: the lock lasts the cool-off.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
# Successful logins are not journaled row by row (the table would only grow).
AXES_DISABLE_ACCESS_LOG = True
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "email"]
# axes.W006 warns that a lockout without the IP can be dodged by rotating User-Agents or
# cookies; an email key ignores both. Per-IP bursts are the `auth` throttle's job.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
