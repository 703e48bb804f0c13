"""A creditor's cases worked through the real services, with distinctive marker values in every kind of
personal data, for the end-of-contract export and erasure tests."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from amiable.cases.models import Case, CaseStatus
from amiable.cases.services import case_transition, comment_add, contact_point_add
from amiable.casework.services import event_record
from amiable.closure.models import DocumentReturn
from amiable.closure.services import (
    case_declare_irrecoverable,
    case_reopen,
    case_suspension_lift,
    document_return_mark,
)
from amiable.contact import messaging
from amiable.contact.services import call_record
from amiable.invoicing.services import invoices_build
from amiable.payments.services import payment_record
from amiable.remittances.services import remittances_build, remittances_complete
from tests.factories import make_case
from tests.work_fixtures import case_factory, cpam_setup, first_letter_sent  # noqa: F401

PARIS = ZoneInfo("Europe/Paris")
# A Tuesday morning: every channel of the contact rule is open.
NOW = datetime(2026, 10, 13, 10, 0, tzinfo=PARIS)

# Values found nowhere else: after the erasure none may remain in any table or file (lower case).
MARKERS = {
    "last_name": "quaxorly",
    "first_name": "blimpette",
    "email": "vrombinou",
    "phone": "698765432",
    "phone_display": "98 76 54 32",
    "address": "frimousquet",
    "city": "trifouillis-les-marqueurs",
    "comment": "snarfibule",
    "call_notes": "glorpatine",
    "event_details": "wibblonge",
    # reasons and notes typed by a person
    "status_reason": "zorglubine",
    "lift_reason": "plixatrone",
    "reopen_reason": "grumpfelade",
    "return_note": "nolatrixe",
}
OTHER_MARKER = "autrenomdefamille"


@dataclass
class World:
    case: Case
    other_case: Case
    payment: object
    reopened_case: Case


@pytest.fixture(autouse=True)
def _export_dir(settings, tmp_path):
    """Exports go to a temporary folder outside the media, as in production (AMIABLE_EXPORT_DIR)."""
    settings.AMIABLE_EXPORT_DIR = tmp_path / "exports"


@pytest.fixture
def traveller():
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture
def world(request, reference, users, traveller, django_capture_on_commit_callbacks) -> World:
    """One CPAM case worked in every way (letter, e-mail, call with notes, comment, event, full payment with
    its receipt, remittance with its files, invoice), ended by its payment; one case of the other creditor."""
    request.getfixturevalue("cpam_setup")  # the CPAM's letters and scenario
    agent = users.agent
    case = make_case(
        structure=reference.cdop,
        last_name="Quaxorly",
        first_name="Blimpette",
        principal="150.00",
        received_on=date(2026, 10, 5),
        assigned_agent=agent,
    )
    debtor = case.debtor
    contact_point_add(
        debtor=debtor, kind="email", value="pouet.vrombinou@example.org", quality="valid", source="Fichier", actor=agent
    )
    contact_point_add(debtor=debtor, kind="phone", value="+33698765432", quality="valid", source="Fichier", actor=agent)
    contact_point_add(
        debtor=debtor,
        kind="address",
        line1="8 allée Frimousquet",
        postal_code="75011",
        city="Trifouillis-les-Marqueurs",
        quality="valid",
        source="Recherche",
        actor=agent,
        case=case,
    )
    Case.objects.filter(pk=case.pk).update(acknowledged_on=date(2026, 10, 5))
    case.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        first_letter_sent(case)
        case.refresh_from_db()
        comment_add(case=case, author=agent, body="Le débiteur dit snarfibule au téléphone.")
        call_record(case=case, actor=agent, number="+33698765432", outcome="reached", notes="Notes glorpatine")
        event_record(
            case=case, kind="vulnerability", occurred_on=date(2026, 10, 12), details="Situation wibblonge", actor=agent
        )
        messaging.email_send(case=case, actor=agent)
        case_transition(case=case, to=CaseStatus.SUSPENDED, actor=agent, reason="Contestation zorglubine")
        case_suspension_lift(case=case, reason="Levée plixatrone", actor=users.supervisor)
        case.refresh_from_db()
        payment = payment_record(
            case=case,
            amount=case.balance,
            collected_on=date(2026, 9, 28),
            method="transfer",
            reference="VIR QUAXORLY BLIMPETTE",
            actor=agent,
        )
        remittances_build(week_of=date(2026, 10, 5), actor=None)
        remittances_complete(actor=None)
        invoices_build(month=date(2026, 9, 1), actor=None)
    # A case declared irrecoverable, reopened with a typed reason (its certificate revoked), declared again and
    # its documents given back with a note.
    reopened = make_case(structure=reference.cdop, last_name="Rouvertnom", principal="60.00", assigned_agent=agent)
    evidence = "Annuaires consultés : aucune adresse."
    with django_capture_on_commit_callbacks(execute=True):
        case_declare_irrecoverable(case=reopened, reason="untraceable", evidence=evidence, actor=users.supervisor)
        case_reopen(case=reopened, reason="Débiteur retrouvé grumpfelade", actor=users.supervisor)
        case_declare_irrecoverable(case=reopened, reason="insolvency", evidence=evidence, actor=users.supervisor)
        document_return_mark(
            document_return=DocumentReturn.objects.get(case=reopened, returned_on__isnull=True),
            returned_on=NOW.date(),
            note="Remis en main propre nolatrixe",
            actor=agent,
        )
    other_case = make_case(structure=reference.other_structure, last_name="Autrenomdefamille", principal="80.00")
    case.refresh_from_db()
    reopened.refresh_from_db()
    assert case.status == "paid" and case.balance == Decimal("0.00")
    assert reopened.status == CaseStatus.CLOSED
    return World(case=case, other_case=other_case, payment=payment, reopened_case=reopened)


def later(traveller, days: int = 1) -> None:
    traveller.shift(timedelta(days=days))
