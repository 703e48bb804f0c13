"""Audit every login, logout, failure and lockout (S1)."""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from amiable.accounts.middleware import session_touch
from amiable.audit.services import audit_record


def _ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        session_touch(request.session)
    audit_record(actor=user, verb="auth.login", target=user, creditor_pk=user.creditor_id, ip_address=_ip(request))


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit_record(actor=user, verb="auth.logout", target=user, creditor_pk=user.creditor_id, ip_address=_ip(request))


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username") or credentials.get("email") or "")[:200]
    audit_record(
        actor=None,
        verb="auth.login_failed",
        target=("auth.login", username or "-", username or "(vide)"),
        ip_address=_ip(request),
    )


@receiver(user_locked_out)
def _locked_out(sender, request, username, ip_address, **kwargs):
    audit_record(
        actor=None,
        verb="auth.locked_out",
        target=("auth.login", username or "-", username or "(vide)"),
        ip_address=ip_address,
    )
