"""Managing colleagues' accounts from the team pages (S1): invitations, access changes, second-factor reset.
Every function checks who may do it (accounts.permissions) before writing, and audits what it changed.

Kept apart from services.py, whose functions are the unchecked building blocks these call."""

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from amiable.accounts.models import CREDITOR_ROLES, User
from amiable.accounts.permissions import check_can_grant, check_can_manage, check_not_self
from amiable.accounts.services import user_create, user_set_role
from amiable.accounts.tokens import invitation_token_generator
from amiable.audit.services import audit_record
from amiable.core.exceptions import ApplicationError


def _invitation_link(user: User, base_url: str | None) -> str:
    path = reverse(
        "accounts:invitation_accept",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": invitation_token_generator.make_token(user),
        },
    )
    return f"{(base_url or settings.AMIABLE_SITE_URL).rstrip('/')}{path}"


def _send_invitation(*, user: User, actor, base_url: str | None) -> None:
    context = {
        "user": user,
        "inviter": actor,
        "link": _invitation_link(user, base_url),
        "days": settings.AMIABLE_INVITATION_DAYS,
    }
    subject = render_to_string("accounts/invitation_subject.txt", context).strip()
    body = render_to_string("accounts/invitation_email.txt", context)
    try:
        send_mail(subject, body, None, [user.email])
    except OSError as exc:  # SMTP errors included: the whole invitation is undone, the admin can retry
        raise ApplicationError(
            f"L'e-mail d'invitation n'a pas pu être envoyé à {user.email} : réessayez plus tard."
        ) from exc


@transaction.atomic
def user_invite(
    *,
    email: str,
    role: str,
    creditor,
    structures,
    first_name: str,
    last_name: str,
    actor,
    base_url: str | None = None,
) -> User:
    """Open an account without a password for a colleague and e-mail them a one-time link to choose it.
    `base_url` is the site address for the link (the page's own; AMIABLE_SITE_URL otherwise)."""
    structures = list(structures)
    check_can_grant(actor, role=role, creditor=creditor, structures=structures)
    user = user_create(
        email=email,
        password=None,  # unusable until the invitee chooses one through the link
        role=role,
        actor=actor,
        first_name=(first_name or "").strip(),
        last_name=(last_name or "").strip(),
        creditor=creditor,
        structures=structures,
    )
    audit_record(
        actor=actor,
        verb="user.invited",
        target=user,
        creditor_pk=user.creditor_id,
        after={"email": user.email, "role": role, "valid_days": settings.AMIABLE_INVITATION_DAYS},
    )
    _send_invitation(user=user, actor=actor, base_url=base_url)
    return user


@transaction.atomic
def user_invitation_resend(*, user: User, actor, base_url: str | None = None) -> User:
    """Send a new invitation link; the earlier links stop working (the password placeholder they cover is
    replaced)."""
    check_can_manage(actor, user)
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_active:
        raise ApplicationError("Ce compte est désactivé : aucune invitation ne peut lui être envoyée.")
    if user.has_usable_password():
        raise ApplicationError("Ce compte est déjà activé : la personne peut utiliser « Mot de passe oublié ».")
    user.set_unusable_password()
    user.save(update_fields=["password"])
    audit_record(
        actor=actor,
        verb="user.invitation_resent",
        target=user,
        creditor_pk=user.creditor_id,
        after={"email": user.email, "valid_days": settings.AMIABLE_INVITATION_DAYS},
    )
    _send_invitation(user=user, actor=actor, base_url=base_url)
    return user


@transaction.atomic
def user_activate(*, user: User, token: str, password: str) -> User:
    """The invitee chooses their password through the link; the link then stops working. Audited
    `user.activated`, the invitee being the actor."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.invitation_pending or not invitation_token_generator.check_token(user, token):
        raise ApplicationError("Ce lien d'invitation n'est plus valable : il a déjà servi ou il a expiré.")
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ApplicationError(" ".join(exc.messages)) from exc
    user.set_password(password)
    user.save(update_fields=["password"])
    audit_record(actor=user, verb="user.activated", target=user, creditor_pk=user.creditor_id)
    return user


@transaction.atomic
def user_update_access(*, user: User, role: str, structures, actor, creditor=None) -> User:
    """Change a colleague's role and structure limits, within what the actor may grant. `creditor` defaults to
    the account's own for creditor roles. Audited `user.role_changed` with before and after."""
    structures = list(structures)
    check_can_manage(actor, user)
    check_not_self(actor, user, "Vous ne pouvez pas modifier votre propre rôle ni vos propres structures.")
    if creditor is None and role in CREDITOR_ROLES:
        creditor = user.creditor
    check_can_grant(actor, role=role, creditor=creditor, structures=structures)
    unchanged = (
        role == user.role
        and (creditor.pk if creditor else None) == user.creditor_id
        and {s.pk for s in structures} == set(user.structures.values_list("pk", flat=True))
    )
    if unchanged:
        return user
    return user_set_role(user=user, role=role, actor=actor, creditor=creditor, structures=structures)


@transaction.atomic
def user_reset_2fa(*, user: User, actor) -> User:
    """Remove a person's authenticator and recovery codes (lost phone): they enrol again at their next login.
    Agency admins only; audited with before and after."""
    if actor is not None and not actor.is_agency_admin:
        raise ApplicationError("Seul un administrateur de l'agence peut réinitialiser la double authentification.")
    before = {
        "two_factor_enabled": user.two_factor_enabled,
        "recovery_codes": StaticToken.objects.filter(device__user=user).count(),
    }
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    User.objects.filter(pk=user.pk).update(two_factor_enabled=False)
    user.two_factor_enabled = False
    audit_record(
        actor=actor,
        verb="user.2fa_reset",
        target=user,
        creditor_pk=user.creditor_id,
        before=before,
        after={"two_factor_enabled": False, "recovery_codes": 0},
    )
    return user
