"""Test runs: fast hashing, e-mails kept in memory, tasks run immediately; DATABASE_URL picks the engine."""

from config.settings.base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve static files from the apps directly, without collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The second factor is optional in tests whatever the environment says; tests that need it turn it on.
AMIABLE_REQUIRE_2FA = False
# The contact rule's days and hours hold in tests whatever the environment says; tests that need it turn it off.
AMIABLE_CONTACT_POLICY_OFF = False
# A logged-in session is saved again once a day rather than once a minute: a query-count test whose setup takes
# over a minute on a busy machine would otherwise count the session's save. The idle-timeout tests set 60.
AMIABLE_SESSION_TOUCH_SECONDS = 24 * 3600
