"""Who may manage whose account (S1). Services call these checks, so that no page, command or future API can
skip them: agency admins manage every account; a creditor admin manages their own creditor's staff, with
creditor roles only and within their own structures; nobody else manages accounts. `actor=None` is the
system (commands, data migrations), never a person at a page."""

from amiable.accounts.models import CREDITOR_ROLES, User
from amiable.core.exceptions import ApplicationError

NOT_A_MANAGER = "Vous n'avez pas le droit de gérer les comptes."
OTHER_CREDITOR = "Vous ne pouvez gérer que les comptes de votre créancier."
AGENCY_ROLE = "Un administrateur du créancier ne peut attribuer que les rôles du créancier."
OUTSIDE_STRUCTURES = "Vous ne pouvez attribuer que les structures auxquelles vous avez vous-même accès."


def check_manager(actor) -> None:
    if actor is None:
        return
    if not getattr(actor, "can_manage_accounts", False):
        raise ApplicationError(NOT_A_MANAGER)


def _check_structures(actor, structures) -> None:
    """A creditor admin limited to some structures cannot open wider access than their own."""
    limit = actor.allowed_structure_ids
    if limit is None:
        return
    if not structures or any(s.pk not in limit for s in structures):
        raise ApplicationError(OUTSIDE_STRUCTURES)


def check_can_grant(actor, *, role: str, creditor, structures) -> None:
    """The actor may give this role, at this creditor, over these structures."""
    check_manager(actor)
    if actor is None or actor.is_agency_admin:
        return
    if role not in CREDITOR_ROLES:
        raise ApplicationError(AGENCY_ROLE)
    if creditor is None or creditor.pk != actor.creditor_id:
        raise ApplicationError(OTHER_CREDITOR)
    _check_structures(actor, list(structures))


def check_can_manage(actor, user: User) -> None:
    """The actor may act on this existing account."""
    check_manager(actor)
    if actor is None or actor.is_agency_admin:
        return
    if user.role not in CREDITOR_ROLES or user.creditor_id != actor.creditor_id:
        raise ApplicationError(OTHER_CREDITOR)
    if actor.allowed_structure_ids is not None:
        _check_structures(actor, list(user.structures.all()))


def check_not_self(actor, user: User, message: str) -> None:
    """Nobody changes their own access: it keeps an admin from locking themselves (or the last admin) out."""
    if actor is not None and actor.pk == user.pk:
        raise ApplicationError(message)
