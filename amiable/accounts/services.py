"""Writes on user accounts; role and scope changes are audited."""

import hashlib

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from amiable.accounts.lockout import lockout_username
from amiable.accounts.models import AGENCY_ROLES, CREDITOR_ROLES, Role, User
from amiable.accounts.permissions import check_can_manage, check_not_self
from amiable.accounts.sessions import sessions_end
from amiable.audit.services import audit_record
from amiable.core.exceptions import ApplicationError


def _check_scope(*, role: str, creditor, structures) -> None:
    if role not in Role.values:
        raise ApplicationError(f"Rôle inconnu : « {role} ».")
    if role in CREDITOR_ROLES and creditor is None:
        raise ApplicationError("Un utilisateur du créancier doit être rattaché à un créancier.")
    if role in AGENCY_ROLES and creditor is not None:
        raise ApplicationError("Un membre de l'agence ne peut pas être rattaché à un créancier.")
    for structure in structures:
        if creditor is None or structure.creditor_id != creditor.pk:
            raise ApplicationError(f"La structure {structure.code} n'appartient pas au créancier de l'utilisateur.")


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None,
    role: str,
    actor,
    first_name: str = "",
    last_name: str = "",
    creditor=None,
    structures=(),
) -> User:
    """Create a personal account; the password must pass the validators (12 characters minimum…)."""
    email = User.objects.normalize_email(email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ApplicationError(f"Adresse e-mail invalide : « {email} ».") from exc
    structures = list(structures)
    _check_scope(role=role, creditor=creditor, structures=structures)
    if User.objects.filter(email__iexact=email).exists():
        raise ApplicationError(f"Un compte existe déjà pour {email}.")
    user = User(
        email=email,
        role=role,
        first_name=first_name,
        last_name=last_name,
        creditor=creditor,
        all_structures=not structures,  # no structure chosen: all of them, said explicitly
    )
    if password is not None:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ApplicationError(" ".join(exc.messages)) from exc
    user.set_password(password)
    user.save()
    user.structures.set(structures)
    audit_record(
        actor=actor,
        verb="user.created",
        target=user,
        creditor_pk=creditor.pk if creditor else None,
        after={
            "email": email,
            "role": role,
            "creditor": creditor.slug if creditor else None,
            "structures": [s.code for s in structures],
        },
    )
    return user


@transaction.atomic
def user_set_role(*, user: User, role: str, actor, creditor=None, structures=()) -> User:
    """Change what a person may do and see."""
    structures = list(structures)
    creditor = creditor if creditor is not None else (user.creditor if role in CREDITOR_ROLES else None)
    _check_scope(role=role, creditor=creditor, structures=structures)
    before = {
        "role": user.role,
        "creditor": user.creditor.slug if user.creditor else None,
        "structures": sorted(user.structures.values_list("code", flat=True)),
    }
    user.role = role
    user.creditor = creditor
    user.all_structures = not structures
    user.save(update_fields=["role", "creditor", "all_structures"])
    user.structures.set(structures)
    user.__dict__.pop("allowed_structure_ids", None)
    audit_record(
        actor=actor,
        verb="user.role_changed",
        target=user,
        creditor_pk=creditor.pk if creditor else None,
        before=before,
        after={
            "role": role,
            "creditor": creditor.slug if creditor else None,
            "structures": sorted(s.code for s in structures),
        },
    )
    return user


@transaction.atomic
def user_deactivate(*, user: User, actor) -> User:
    """Close an account for good without deleting it (the audit trail still names it). Only someone who may
    manage the account, and never on oneself."""
    check_can_manage(actor, user)
    check_not_self(actor, user, "Vous ne pouvez pas désactiver votre propre compte.")
    if not user.is_active:
        return user
    user.is_active = False
    user.save(update_fields=["is_active"])
    sessions_end(user_ids=[user.pk])
    audit_record(
        actor=actor,
        verb="user.deactivated",
        target=user,
        creditor_pk=user.creditor_id,
        before={"is_active": True},
        after={"is_active": False},
    )
    return user


RESET_THROTTLED = (
    "Trop de demandes de réinitialisation ont été faites depuis ce poste ou pour cette adresse. "
    "Réessayez dans une heure ; si vous ne recevez toujours rien, contactez votre référent."
)


def password_reset_throttle(*, email: str, ip_address: str | None) -> str:
    """Count a password-reset request per address and per client address; past the limits, the French refusal
    (audited), else "". The same message whether the address has an account or not: it reveals nothing."""
    window = settings.AMIABLE_PASSWORD_RESET_WINDOW_MINUTES * 60
    email = (email or "").strip().lower()
    keys = [
        (f"pwreset:email:{hashlib.sha256(email.encode()).hexdigest()}", settings.AMIABLE_PASSWORD_RESET_PER_ADDRESS),
        (f"pwreset:ip:{ip_address or '-'}", settings.AMIABLE_PASSWORD_RESET_PER_CLIENT),
    ]
    refused = False
    for key, limit in keys:
        cache.add(key, 0, timeout=window)  # the window starts at the first request
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr: a new window
            cache.set(key, 1, timeout=window)
            count = 1
        refused = refused or count > limit
    if not refused:
        return ""
    audit_record(
        actor=None,
        verb="auth.password_reset_throttled",
        target=("auth.login", email[:200] or "-", email[:200] or "(vide)"),
        ip_address=ip_address,
    )
    return RESET_THROTTLED


def login_lockout_lift(*, user: User, ip_address: str | None) -> int:
    """A person who proved they hold the address (a successful password reset) may log in again at once: the
    failed attempts that locked the account are forgotten, from every client address. Audited."""
    removed = axes_reset(username=lockout_username(None, {"username": user.email}))
    if removed:
        audit_record(
            actor=user,
            verb="auth.lockout_lifted",
            target=user,
            creditor_pk=user.creditor_id,
            after={"failed_attempts_forgotten": removed},
            ip_address=ip_address,
        )
    return removed
