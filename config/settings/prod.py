"""Production: secrets and hosts from the environment, HTTPS only, HSTS, secure cookies."""

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403
from config.settings.env import env_bool, env_int, env_list, env_str

# A development switch only: debtors are never called or written to outside the contract's days and hours.
if env_bool("AMIABLE_CONTACT_POLICY_OFF", False):
    raise ImproperlyConfigured(
        "AMIABLE_CONTACT_POLICY_OFF est réservé au développement : la production respecte toujours les jours et "
        "heures de contact. Retirez cette variable."
    )

DEBUG = False
SECRET_KEY = env_str("DJANGO_SECRET_KEY")  # no default: refuse to start without one
# The previous keys during a rotation: sessions, reset links and the staged uploads encrypted with them stay
# readable until they expire (docs/operations.md « Rotation des clés OpenPGP »).
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS", [])
# No default either: a lost or leaked key-encryption key loses or exposes the audit trail's personal data.
AMIABLE_AUDIT_KEY = env_str("AMIABLE_AUDIT_KEY")
if AMIABLE_AUDIT_KEY.startswith("dev-only") or len(AMIABLE_AUDIT_KEY) < 32:
    raise ImproperlyConfigured("AMIABLE_AUDIT_KEY doit être une clé aléatoire d'au moins 32 caractères.")

SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_NAME = "__Host-sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken"
# Mail to staff goes over TLS: STARTTLS unless the relay speaks implicit TLS (DJANGO_EMAIL_USE_SSL, port 465).
EMAIL_USE_SSL = env_bool("DJANGO_EMAIL_USE_SSL", False)
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", not EMAIL_USE_SSL)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured(
        "DJANGO_EMAIL_USE_TLS et DJANGO_EMAIL_USE_SSL s'excluent : choisissez STARTTLS (TLS) ou TLS implicite (SSL)."
    )
# Every account must have a second factor in production (S1); set false only for a staged roll-out.
AMIABLE_REQUIRE_2FA = env_bool("AMIABLE_REQUIRE_2FA", True)
