"""Who may do what: one predicate per rule. Services ask them before writing anything and refuse with a
French `ApplicationError`, so that no page, command or the coming API can skip a rule; templates ask the same
predicates through the `may` filter (`{% if user|may:"work_cases" %}`) to show only what the person may do.
`actor=None` is the system (scenarios, commands, data migrations), never a person at a page: each service
says whether the system may act.

The predicates answer for a role; which rows the person may see stays the one rule of `visible_to(user)`,
which the services check beside them (a decision on a case of another creditor is refused by both).

The account rules (S1): agency admins manage every account; a creditor admin manages their own creditor's
staff, with creditor roles only and within their own structures; nobody else manages accounts."""

from amiable.accounts.models import CREDITOR_ROLES, Role, User
from amiable.core.exceptions import ApplicationError

REASSIGNERS = frozenset({Role.SUPERVISOR, Role.AGENCY_ADMIN})
DECIDERS = frozenset({Role.CREDITOR_APPROVER, Role.CREDITOR_ADMIN})


def can_work_cases(user) -> bool:
    """Agency staff work the cases: letters, e-mails, SMS, calls, events, internal notes, questions to the
    creditor and answers to its requests; only they can be given a case."""
    return bool(getattr(user, "is_agency", False))


def can_reassign(user) -> bool:
    """Supervisors and agency admins give cases to other agents and look at any agent's day."""
    return can_work_cases(user) and user.role in REASSIGNERS


def can_close_cases(user) -> bool:
    """Supervisors and agency admins end a case or bring it back: they declare it irrecoverable (and sign its
    certificate), return it at the end of the contract, lift a suspension and reopen an irrecoverable case."""
    return can_work_cases(user) and user.role in REASSIGNERS


def can_view_client_funds(user) -> bool:
    """Supervisors and agency admins read the client-funds account (what is held for each creditor and each
    debtor, the journal): the agency's accounting of other people's money. Agents see the money of each
    case on its page."""
    return can_work_cases(user) and user.role in REASSIGNERS


def can_ask_agency(user, creditor_id: int | None = None) -> bool:
    """Creditor staff ask the agency (questions, statements, meetings) and pick a meeting's date — for
    their own creditor when one is named."""
    if not getattr(user, "is_creditor_user", False):
        return False
    return creditor_id is None or user.creditor_id == creditor_id


def can_decide(user, creditor_id: int | None = None) -> bool:
    """Creditor approvers and admins take their creditor's decisions and recall its cases; collaborators
    only see them."""
    return can_ask_agency(user, creditor_id) and user.role in DECIDERS


def can_upload_batch(user, creditor=None) -> bool:
    """Agency staff transmit batches for any creditor; creditor staff for their own creditor only, and not
    when limited to some structures (a batch covers all of them). Without a creditor: for some creditor."""
    if can_work_cases(user):
        return True
    if not getattr(user, "is_creditor_user", False) or user.allowed_structure_ids is not None:
        return False
    return creditor is None or creditor.pk == user.creditor_id


def require(allowed: bool, message: str) -> None:
    """Refuse, with the French message, what a predicate does not allow."""
    if not allowed:
        raise ApplicationError(message)


PREDICATES = {
    "work_cases": can_work_cases,
    "reassign": can_reassign,
    "close_cases": can_close_cases,
    "view_client_funds": can_view_client_funds,
    "ask_agency": can_ask_agency,
    "decide": can_decide,
    "upload_batch": can_upload_batch,
}

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
