"""Local development and the demo (`make run`): SQLite in var/, e-mails written to var/outbox."""

from config.settings.base import *  # noqa: F403
from config.settings.base import VAR_DIR
from config.settings.env import env_bool, env_str

DEBUG = env_bool("DJANGO_DEBUG", True)
EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = VAR_DIR / "outbox"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve static files from the apps directly, without collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# `AMIABLE_CONTACT_POLICY_OFF=1 make run`: the demo may send e-mails and SMS and record calls at any hour or day
# (the contact rule's days and hours only; the first letter, do-not-contact, the caps and the legal checks of
# the wording still apply). Production refuses to start with it.
AMIABLE_CONTACT_POLICY_OFF = env_bool("AMIABLE_CONTACT_POLICY_OFF", False)
