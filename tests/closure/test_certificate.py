"""The certificate of irrecoverability read back from its PDF (C10, C36): the case's identity, the exact
amounts, the reason and its evidence, and every step of the case, each once, in the order it happened — with
what is not a step (tasks, the creditor's messages) left out; a PDF/A-3b stored once with its hash. And the
case closes without commission (C24)."""

import hashlib
import io
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from pypdf import PdfReader

from amiable.audit.models import AuditEvent
from amiable.cases.models import TaskKind
from amiable.cases.services import comment_add, task_open
from amiable.casework.services import event_record, investigation_record
from amiable.closure.certificates import certificate_steps
from amiable.closure.services import case_declare_irrecoverable
from amiable.contact.messaging import email_send, sms_send
from amiable.contact.services import call_record
from amiable.core.dates import month_bounds
from amiable.invoicing.models import InvoicedItem
from amiable.invoicing.services import invoices_build
from amiable.payments.services import payment_record
from tests.work_fixtures import DEBTOR_EMAIL, DEBTOR_PHONE, first_letter_sent

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=PARIS)


def squash(text: str) -> str:
    return " ".join(text.replace("\u202f", " ").replace("\u00a0", " ").split())


def pdf_text(data: bytes) -> str:
    return squash(" ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages))


@pytest.fixture
def worked_case(case_factory, users, django_capture_on_commit_callbacks):
    """A case worked by every channel over five weeks (a week between contacts, within the contact rule)."""
    with time_machine.travel(at(date(2026, 10, 5), 9), tick=False):
        case = case_factory(ack=date(2026, 10, 5), email=DEBTOR_EMAIL, phone=DEBTOR_PHONE, principal="300.00")
    with time_machine.travel(at(date(2026, 10, 6)), tick=False):
        first_letter_sent(case, at=at(date(2026, 10, 6)))
    with time_machine.travel(at(date(2026, 10, 13)), tick=False), django_capture_on_commit_callbacks(execute=True):
        email_send(case=case, actor=users.agent)
    with time_machine.travel(at(date(2026, 10, 20)), tick=False):
        call_record(case=case, actor=users.agent, number=DEBTOR_PHONE, outcome="no_answer", notes="Note interne")
    with time_machine.travel(at(date(2026, 10, 27)), tick=False), django_capture_on_commit_callbacks(execute=True):
        sms_send(case=case, actor=users.agent)
    with time_machine.travel(at(date(2026, 10, 28)), tick=False):
        payment_record(case=case, amount="100.00", collected_on=date(2026, 10, 28), method="cheque", actor=users.agent)
        comment_add(case=case, author=users.collaborator, body="Message confidentiel du créancier")
    with time_machine.travel(at(date(2026, 11, 3)), tick=False):
        event_record(
            case=case, kind="insolvency", occurred_on=date(2026, 11, 2), details="Revenus : RSA", actor=users.agent
        )
    with time_machine.travel(at(date(2026, 11, 4)), tick=False):
        task, _ = task_open(case=case, kind=TaskKind.ADDRESS_INVESTIGATION, reason="Vérifier", due_on=None)
        investigation_record(task=task, actor=users.agent, sources="Annuaire, Pages blanches", result="Rien de neuf")
    case.refresh_from_db()
    return case


def test_the_certificate_lists_every_step_in_order_with_exact_amounts(worked_case, users):
    with time_machine.travel(at(date(2026, 11, 10)), tick=False):
        certificate = case_declare_irrecoverable(
            case=worked_case,
            reason="insolvency",
            evidence="Situation vérifiée : revenus insaisissables, aucun bien.",
            actor=users.supervisor,
        )
    with certificate.pdf.open("rb") as handle:
        data = handle.read()
    assert hashlib.sha256(data).hexdigest() == certificate.pdf_sha256
    xmp = PdfReader(io.BytesIO(data)).xmp_metadata
    assert xmp is not None and re.search(r"pdfaid:part(=\"|>)3", xmp.stream.get_data().decode())
    text = pdf_text(data)
    # Identity: addressed to the creditor, it names the structure, the creditor's reference and the debtor.
    for part in (
        f"Certificat d'irrécouvrabilité n° {certificate.number}",
        "Caisse Primaire d'Assurance Maladie de Paris",
        worked_case.structure.name,
        worked_case.reference,
        "Mme DUPONT Marie",
        "Montant réclamé 300,00 €",
        "Montant recouvré 100,00 €",
        "Reste dû 200,00 €",
        "Motif : Insolvabilité du débiteur",
        "Situation vérifiée : revenus insaisissables, aucun bien.",
    ):
        assert part in text, part
    # Every step, in the order it happened, each with its date and outcome.
    expected = [
        "05/10/2026 à 09:00 Dossier reçu",
        "06/10/2026 à 10:00 Courrier envoyé première lettre",
        "13/10/2026 à 10:00 E-mail envoyé à marie.dupont@exemple.fr",
        "20/10/2026 à 10:00 Appel pas de réponse",
        "27/10/2026 à 10:00 SMS envoyé",
        "28/10/2026 à 10:00 Paiement 100,00 € (chèque)",
        "28/10/2026 à 10:00 Reçu de paiement émis",
        "03/11/2026 à 10:00 Événement insolvabilité le 02/11/2026",
        "04/11/2026 à 10:00 Recherche d'adresse",
        "10/11/2026 à 10:00 Changement de statut En cours → Irrécouvrable — Insolvabilité du débiteur",
        "10/11/2026 à 10:00 Fin du dossier Irrécouvrable — insolvabilité du débiteur",
    ]
    positions = []
    for step in expected:
        assert step in text, step
        positions.append(text.index(step))
    assert positions == sorted(positions)
    # Every step of the trail is there, once; what is not a step is not.
    steps = certificate_steps(case=worked_case)
    # The certificate's own event is written after its PDF.
    written = [s for s in steps if s.label != "Certificat d'irrécouvrabilité délivré"]
    assert f"Chronologie des démarches ({len(written)} étapes)" in text
    assert len(written) == len(expected) + 1  # the first letter also moved the case « En cours »
    for step in written:
        assert f"{step.at.astimezone(PARIS):%d/%m/%Y à %H:%M} {step.label}" in text
    assert AuditEvent.objects.for_case(worked_case.pk).count() > len(steps)  # tasks, ledger… left out
    for absent in ("Tâche ouverte", "Message confidentiel", "Note interne", "Écriture au compte"):
        assert absent not in text, absent


def test_a_failed_case_bears_no_commission(worked_case, users):
    """C24: the payment recovered before the case failed is not invoiced (nor any later)."""
    with time_machine.travel(at(date(2026, 11, 10)), tick=False):
        case_declare_irrecoverable(case=worked_case, reason="insolvency", evidence="Insolvable", actor=users.supervisor)
    with time_machine.travel(at(date(2026, 12, 2)), tick=False):
        invoices_build(month=month_bounds(date(2026, 10, 1))[0], actor=None)
        invoices_build(month=month_bounds(date(2026, 11, 1))[0], actor=None)
    assert not InvoicedItem.objects.filter(line__case=worked_case).exists()


def test_a_worked_case_not_declared_does_bear_commission(worked_case, users):
    """The control of the test above: the same case, still open, is invoiced for what it recovered."""
    with time_machine.travel(at(date(2026, 12, 2)), tick=False):
        invoices_build(month=month_bounds(date(2026, 10, 1))[0], actor=None)
    assert InvoicedItem.objects.filter(line__case=worked_case).count() == 1
