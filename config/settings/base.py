"""Settings shared by every environment; environment-specific modules override them."""

from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

from config.settings.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("AMIABLE_VAR_DIR", str(BASE_DIR / "var")))

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "dev-only-insecure-key-change-me-0123456789abcdefghijklmnop")
DEBUG = False
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "amiable.core",
    "amiable.audit",
    "amiable.accounts",
    "amiable.creditors",
    "amiable.notifications",
    "amiable.cases",
    "amiable.intake",
    "amiable.compliance",
    "amiable.letters",
    "amiable.contact",
    "amiable.casework",
    "amiable.scenarios",
    "amiable.approvals",
    "amiable.creditor_requests",
    "amiable.ledger",
    "amiable.payments",
    "amiable.banking",
    "amiable.remittances",
    "amiable.invoicing",
    "amiable.closure",
    "amiable.reporting",
    "amiable.portal",
    "amiable.web",
    "amiable.ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Pushes back a logged-in session's end once a minute (the idle timeout), not on every request.
    "amiable.accounts.middleware.SessionTouchMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Cache-Control: no-store, private on every response to a logged-in person and on every download.
    "amiable.accounts.middleware.NoStoreMiddleware",
    # After authentication: marks the session verified by a second factor, then sends a user who still owes
    # one to the verification (or, when AMIABLE_REQUIRE_2FA, enrolment) page.
    "django_otp.middleware.OTPMiddleware",
    "amiable.accounts.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # A view that meets SQLite's write lock (a large import storing its rows) answers « Base de données occupée ».
    "amiable.web.errors.DatabaseBusyMiddleware",
    # After the CSRF check, the login and the messages: a second submit of a form's one-time token creates nothing.
    "amiable.core.once.OnceMiddleware",
    # AxesMiddleware must stay last: it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "amiable" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "amiable.web.context_processors.amiable",
            ],
            "builtins": [
                "amiable.core.templatetags.french",
                "amiable.core.templatetags.once",
                "amiable.accounts.templatetags.permissions",
            ],
        },
    }
]
# Django's form renderer, with the common widgets written in Python rather than through their templates (faster).
FORM_RENDERER = "amiable.core.form_rendering.FormRenderer"

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'amiable.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the task worker use the file at the same time.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, reading the user's creditor with the user and refusing a deactivated creditor's staff.
    "amiable.accounts.backends.AmiableBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 2

# Lockout (django-axes): N failures for one account from one address lock it for a while.
AXES_FAILURE_LIMIT = env_int("AMIABLE_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("AMIABLE_LOCKOUT_MINUTES", 30) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "amiable.accounts.lockout.lockout_username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Wrong second-factor codes count as failed logins; never keep the code typed in the failure records.
AXES_SENSITIVE_PARAMETERS = ["otp_token"]

# Password-reset requests: at most so many per address and per client address (IP) in the window, then refused
# with a message that does not tell whether the address has an account.
AMIABLE_PASSWORD_RESET_PER_ADDRESS = env_int("AMIABLE_PASSWORD_RESET_PER_ADDRESS", 3)
AMIABLE_PASSWORD_RESET_PER_CLIENT = env_int("AMIABLE_PASSWORD_RESET_PER_CLIENT", 10)
AMIABLE_PASSWORD_RESET_WINDOW_MINUTES = env_int("AMIABLE_PASSWORD_RESET_WINDOW_MINUTES", 60)

# Second factor (S1): TOTP authenticator apps through django-otp, recovery codes as static tokens.
# When required, every account without an authenticator is sent to enrolment (True in production).
AMIABLE_REQUIRE_2FA = env_bool("AMIABLE_REQUIRE_2FA", False)
OTP_TOTP_ISSUER = "Amiable"
# Invitations: days a link to choose one's password stays valid.
AMIABLE_INVITATION_DAYS = env_int("AMIABLE_INVITATION_DAYS", 7)

SESSION_COOKIE_AGE = env_int("AMIABLE_SESSION_IDLE_MINUTES", 30) * 60
# The age above becomes an idle timeout: SessionTouchMiddleware saves a logged-in session again (so pushes its end
# back) once this many seconds have passed since it last did, not on every request.
SESSION_SAVE_EVERY_REQUEST = False
AMIABLE_SESSION_TOUCH_SECONDS = env_int("AMIABLE_SESSION_TOUCH_SECONDS", 60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

LANGUAGE_CODE = "fr-fr"
LANGUAGES = [("fr", "Français")]
# French labels for the third-party models of the administration (django-axes, django-tasks).
LOCALE_PATHS = [BASE_DIR / "amiable" / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "amiable" / "static"]
MEDIA_ROOT = Path(env_str("AMIABLE_MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Shared between the web server and the task worker (import progress); use Redis or Memcached when the
# processes run on several machines.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "cache"),
    }
}
# Stored documents (letters, acknowledgements, statements, receipts…) carry debtors' personal data: readable by
# the application's own system user only, in folders only it can enter.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
# Uploaded batch files stay in memory, never in a temporary file on disk (they may be in clear); a file over
# FILE_UPLOAD_MAX_MEMORY_SIZE reaches its form marked too large, which names the limit.
FILE_UPLOAD_HANDLERS = ["amiable.core.uploads.BoundedMemoryFileUploadHandler"]

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("DJANGO_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("DJANGO_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("DJANGO_EMAIL_USE_SSL", False)
# A relay that stops answering must not hold a delivery (and its worker) for ever: the attempt fails and is retried.
EMAIL_TIMEOUT = env_int("DJANGO_EMAIL_TIMEOUT", 30)
EMAIL_FILE_PATH = VAR_DIR / "outbox"
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "Amiable <ne-pas-repondre@amiable.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Strict CSP: everything from the app itself, no inline script or style, no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # The words of a search (often a debtor's name) are masked in every logged request line.
    "filters": {"redact_search": {"()": "amiable.core.logging.RedactSearchFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact_search"]}},
    "root": {"handlers": ["console"], "level": env_str("AMIABLE_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "axes": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# Domain settings.
AMIABLE_DEMO_PASSWORD = "Amiable-demo-2026"

# Batches (intake): the GnuPG home holding the agency's private key, which decrypts creditors' files.
AMIABLE_GNUPG_HOME = Path(env_str("AMIABLE_GNUPG_HOME", str(VAR_DIR / "gnupg")))
AMIABLE_GPG_BINARY = env_str("AMIABLE_GPG_BINARY", "gpg")
# Largest batch file accepted, in megabytes.
AMIABLE_BATCH_MAX_MB = env_int("AMIABLE_BATCH_MAX_MB", 100)
FILE_UPLOAD_MAX_MEMORY_SIZE = (AMIABLE_BATCH_MAX_MB + 1) * 1024 * 1024
# Access log of creditor staff (L11): retention in months before `purge_access_log` removes entries.
AMIABLE_ACCESS_LOG_MONTHS = env_int("AMIABLE_ACCESS_LOG_MONTHS", 12)
# Daily print files (names and addresses of the day's letters): days kept before `purge_print_files` removes them.
AMIABLE_PRINT_KEEP_DAYS = env_int("AMIABLE_PRINT_KEEP_DAYS", 30)
# Key-encryption key of the audit trail's personal data (audit.personal): wraps the per-creditor and
# per-debtor data keys that the erasure of a creditor's data destroys. Required in production.
AMIABLE_AUDIT_KEY = env_str("AMIABLE_AUDIT_KEY", "dev-only-audit-key-change-me")
# Where end-of-contract exports are written (outside MEDIA_ROOT: the creditor's copy, not the app's files).
AMIABLE_EXPORT_DIR = Path(env_str("AMIABLE_EXPORT_DIR", str(VAR_DIR / "exports")))
# Public address of the site, for links in e-mails.
AMIABLE_SITE_URL = env_str("AMIABLE_SITE_URL", "http://127.0.0.1:8000")
# SMS to debtors: a class with send(to=, text=); the default keeps messages in the outbox only.
# The contact rule's days and hours, switched off only by the dev settings' AMIABLE_CONTACT_POLICY_OFF (the demo).
AMIABLE_CONTACT_POLICY_OFF = False
AMIABLE_SMS_SENDER = env_str("AMIABLE_SMS_SENDER", "amiable.contact.messaging.OutboxSmsSender")
