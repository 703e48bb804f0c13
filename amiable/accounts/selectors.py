"""Reads on accounts: whose accounts a manager sees, a person's second-factor status, an invitation link."""

from django.db.models import QuerySet
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from amiable.accounts.models import CREDITOR_ROLES, User
from amiable.accounts.tokens import invitation_token_generator


def users_manageable_by(actor) -> QuerySet[User]:
    """The one gate of the team pages: every account for an agency admin, the own creditor's staff for a
    creditor admin, nothing for anyone else."""
    if actor is None or not actor.is_authenticated or not actor.can_manage_accounts:
        return User.objects.none()
    if actor.is_agency_admin:
        return User.objects.all()
    return User.objects.filter(creditor_id=actor.creditor_id, role__in=sorted(CREDITOR_ROLES))


def team_list(*, actor, creditor_slug: str = "") -> QuerySet[User]:
    """The team page: one row per account with what it shows, in a total order. `creditor_slug` filters an
    agency admin's list ("agence" for the agency's own staff)."""
    qs = users_manageable_by(actor)
    if creditor_slug == "agence":
        qs = qs.filter(creditor__isnull=True)
    elif creditor_slug:
        qs = qs.filter(creditor__slug=creditor_slug)
    return (
        qs.select_related("creditor")
        .prefetch_related("structures")
        .order_by("creditor__name", "last_name", "first_name", "email", "pk")
    )


def team_member_get(*, actor, pk: int) -> User:
    """An account the actor may manage, never their own (that is « Mon compte »); raises User.DoesNotExist
    otherwise, so that another creditor's account answers 404 like a missing one."""
    return users_manageable_by(actor).exclude(pk=actor.pk).select_related("creditor").get(pk=pk)


def totp_device_confirmed(*, user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def recovery_codes_left(*, user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def invitation_user(*, uidb64: str, token: str) -> User | None:
    """The invited account a link opens, or None when the link is wrong, used, expired or the account closed."""
    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64)))
        user = User.objects.get(pk=pk)
    except (TypeError, ValueError, OverflowError, User.DoesNotExist):
        return None
    if not user.invitation_pending or not invitation_token_generator.check_token(user, token):
        return None
    return user
