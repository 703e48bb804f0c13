"""The end of a case: what any ending records and stops (paid, recalled, irrecoverable, end of contract), the
supervisor's moves (declare irrecoverable, end of contract, lift a suspension, reopen), their refusals with
nothing written, who may make them, idempotence, and the return of the documents."""

import hashlib
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from amiable.approvals.models import ApprovalStatus
from amiable.approvals.services import approval_request
from amiable.audit.models import AuditEvent
from amiable.cases.models import Action, Case, CaseStatus, Task, TaskStatus
from amiable.cases.services import case_transition, task_open
from amiable.casework.services import event_record
from amiable.closure import services as closure_services
from amiable.closure.models import CaseClosure, Certificate, ClosureKind, DocumentReturn
from amiable.closure.services import (
    case_declare_irrecoverable,
    case_end_of_contract,
    case_reopen,
    case_suspension_lift,
    certificates_issue_bulk,
    document_return_mark,
)
from amiable.contact.models import MessageStatus, OutboxMessage, PromiseStatus, PromiseToPay
from amiable.contact.services import promises_check
from amiable.core.dates import add_months
from amiable.core.exceptions import ApplicationError
from amiable.creditor_requests.services import case_recall
from amiable.notifications.models import Notification
from amiable.payments.models import PlanStatus
from amiable.payments.plans import plan_propose
from amiable.payments.services import payment_record, payment_reverse
from tests.factories import make_case, make_user, pay_in_full
from tests.work_fixtures import first_letter_sent

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(reference):
    return make_case(structure=reference.cdop, reference="FIN-0001", principal="300.00")


def declare(case, actor, **kwargs):
    kwargs.setdefault("reason", "untraceable")
    kwargs.setdefault("evidence", "Annuaires, réseaux sociaux, dernier employeur : aucune adresse.")
    return case_declare_irrecoverable(case=case, actor=actor, **kwargs)


def _written():
    return (
        AuditEvent.objects.count(),
        CaseClosure.objects.count(),
        Certificate.objects.count(),
        DocumentReturn.objects.count(),
        list(Case.objects.order_by("pk").values_list("status", flat=True)),
    )


# --- any ending ---------------------------------------------------------------------------------------------


def test_paid_in_full_records_a_closure_and_opens_the_documents_return(case, users):
    task_open(case=case, kind="call", reason="Appeler", due_on=None)
    pay_in_full(case, actor=users.agent)
    closure = CaseClosure.objects.get(case=case)
    assert (closure.kind, closure.reason, closure.decided_by) == (ClosureKind.PAID, "", users.agent)
    returned = DocumentReturn.objects.get(case=case)
    today = timezone.localdate()
    assert returned.ended_on == today
    assert returned.due_on == add_months(today, 2)  # the terms' documents_return_months
    assert returned.items[0]["reference"] == "FIN-0001"  # the claim as received (no batch here)
    assert not Task.objects.filter(case=case, status=TaskStatus.OPEN).exists()
    event = AuditEvent.objects.get(verb="closure.recorded", case_pk=case.pk)
    assert event.after["stopped"]["tasks"] == 1


def test_a_reversal_reopens_a_paid_case_and_withdraws_its_documents_return(case, users):
    pay_in_full(case, actor=users.agent)
    payment = case.payments.get()
    payment_reverse(payment=payment, reversed_on=timezone.localdate(), reason="Chèque impayé", actor=users.agent)
    closure = CaseClosure.objects.get(case=case)
    assert closure.reopened_at is not None and "Chèque impayé" in closure.reopen_reason
    assert not DocumentReturn.objects.filter(case=case).exists()
    pay_in_full(Case.objects.get(pk=case.pk), actor=users.agent)  # paid again: a new closure, a new return
    assert CaseClosure.objects.filter(case=case).count() == 2
    assert DocumentReturn.objects.filter(case=case, returned_on__isnull=True).count() == 1


def test_a_recall_records_its_closure_and_cancels_plans_decisions_and_messages(case_factory, users):
    case = case_factory(ack=date(2026, 10, 5), email="marie@exemple.fr")
    first_letter_sent(case)
    approval = approval_request(case=case, kind="court_action", proposal="Assigner", actor=users.agent)
    plan = plan_propose(case=case, rhythm="monthly", count=3, first_due_on=timezone.localdate(), actor=users.agent)
    action = Action.objects.create(case=case, channel="email", at=timezone.now(), summary="E-mail de relance")
    message = OutboxMessage.objects.create(
        case=case, action=action, channel="email", to="marie@exemple.fr", text="Relance"
    )
    receipt_mail = OutboxMessage.objects.create(
        case=case, channel="email", to="marie@exemple.fr", text="Votre reçu", kind="receipt"
    )
    case_recall(case=case, reason="Payé au centre", actor=users.approver)
    closure = CaseClosure.objects.get(case=case)
    assert (closure.kind, closure.evidence) == (ClosureKind.RECALLED, "Payé au centre")
    approval.refresh_from_db()
    plan.refresh_from_db()
    message.refresh_from_db()
    receipt_mail.refresh_from_db()
    assert approval.status == ApprovalStatus.CANCELLED
    assert plan.status == PlanStatus.CANCELLED
    assert message.status == MessageStatus.CANCELLED  # a recovery message no longer goes
    assert receipt_mail.status == MessageStatus.QUEUED  # a document owed to the debtor still goes


def test_pending_promises_of_an_ended_case_are_cancelled_and_never_chased(case, users):
    promise = PromiseToPay.objects.create(case=case, amount="10.00", due_on=date(2026, 1, 5))
    broken = PromiseToPay.objects.create(case=case, amount="20.00", due_on=date(2026, 1, 2), status="broken")
    declare(case, users.supervisor)
    assert promises_check(today=date(2026, 12, 1)) == 0
    promise.refresh_from_db()
    broken.refresh_from_db()
    assert promise.status == PromiseStatus.CANCELLED
    assert broken.status == PromiseStatus.BROKEN  # what happened to it stays
    assert not Task.objects.filter(case=case, kind="callback").exists()
    event = AuditEvent.objects.get(verb="promise.cancelled")
    assert (event.case_pk, event.actor) == (case.pk, users.supervisor)
    assert event.after["reason"] == "Dossier irrécouvrable"
    closure_event = AuditEvent.objects.filter(verb="closure.recorded", case_pk=case.pk).latest("pk")
    assert closure_event.after["stopped"]["promises"] == 1


def test_a_recall_cancels_pending_promises(case, users):
    promise = PromiseToPay.objects.create(case=case, amount="10.00", due_on=timezone.localdate() + timedelta(days=5))
    case_transition(case=case, to=CaseStatus.RECALLED, actor=users.creditor_admin, reason="Retrait")
    promise.refresh_from_db()
    assert promise.status == PromiseStatus.CANCELLED


def test_the_payment_that_settles_a_case_keeps_its_promise_and_cancels_the_rest(case, users):
    today = timezone.localdate()
    covered = PromiseToPay.objects.create(case=case, amount="300.00", due_on=today + timedelta(days=3))
    beyond = PromiseToPay.objects.create(case=case, amount="50.00", due_on=today + timedelta(days=9))

    pay_in_full(case, actor=users.agent)

    covered.refresh_from_db()
    beyond.refresh_from_db()
    case.refresh_from_db()
    assert case.status == CaseStatus.PAID
    assert (covered.status, beyond.status) == (PromiseStatus.KEPT, PromiseStatus.CANCELLED)


# --- declaring irrecoverable ---------------------------------------------------------------------------------


def test_declaring_issues_the_certificate_and_closes_the_case(case, users):
    payment_record(case=case, amount="100.00", collected_on=timezone.localdate(), method="cheque", actor=users.agent)
    certificate = declare(case, users.supervisor, reason="insolvency", evidence="Revenus : RSA seul.")
    case.refresh_from_db()
    assert case.status == CaseStatus.IRRECOVERABLE
    assert certificate.number == f"CI-{timezone.localdate().year}-000001"
    assert (certificate.claimed_amount, certificate.recovered_amount, certificate.remaining_amount) == (
        Decimal("300.00"),
        Decimal("100.00"),
        Decimal("200.00"),
    )
    assert certificate.pdf.name.endswith(f"{certificate.number}.pdf") and len(certificate.pdf_sha256) == 64
    closure = certificate.closure
    assert (closure.kind, closure.reason, closure.evidence) == ("irrecoverable", "insolvency", "Revenus : RSA seul.")
    assert any(item["reference"] == certificate.number for item in DocumentReturn.objects.get(case=case).items)
    assert AuditEvent.objects.filter(verb="certificate.issued", case_pk=case.pk).count() == 1
    assert Notification.objects.filter(kind="certificate_issued", recipient=users.creditor_admin).exists()
    assert not Notification.objects.filter(kind="certificate_issued", recipient=users.other_admin).exists()


def test_declaring_twice_does_not_make_two_certificates(case, users):
    first = declare(case, users.supervisor)
    events = AuditEvent.objects.count()
    again = declare(case, users.supervisor)
    assert again.pk == first.pk
    assert Certificate.objects.count() == 1
    assert AuditEvent.objects.count() == events


def test_the_evidence_file_is_stored_with_its_hash(case, users):
    content = b"%PDF-1.4 justificatif"
    upload = SimpleUploadedFile("avis d'imposition.pdf", content, content_type="application/pdf")
    certificate = declare(case, users.supervisor, evidence_file=upload)
    closure = certificate.closure

    assert closure.evidence_file_sha256 == hashlib.sha256(content).hexdigest()
    with closure.evidence_file.open("rb") as handle:
        assert handle.read() == content


def _media_files(folder: str) -> list[str]:
    root = Path(settings.MEDIA_ROOT) / folder
    return sorted(str(p.relative_to(settings.MEDIA_ROOT)) for p in root.rglob("*") if p.is_file())


def test_a_declaration_that_fails_late_leaves_no_file(case, users, monkeypatch):
    def unreachable(*args, **kwargs):
        raise RuntimeError("notifications indisponibles")

    # The creditor's notification is the last step, after the evidence and the certificate are written.
    monkeypatch.setattr(closure_services, "_tell_creditor", unreachable)
    upload = SimpleUploadedFile("jugement.pdf", b"%PDF-1.4 jugement", content_type="application/pdf")

    with pytest.raises(RuntimeError):
        declare(case, users.supervisor, evidence_file=upload)

    assert _media_files("certificates") == [] and _media_files("closure") == []
    assert not Certificate.objects.exists() and not CaseClosure.objects.exists()
    # The number was rolled back too: the next declaration takes it, and stores its file.
    monkeypatch.undo()
    certificate = declare(case, users.supervisor)
    assert _media_files("certificates") == [certificate.pdf.name]


def test_new_evidence_replaces_the_old_file_once_committed(case, users, django_capture_on_commit_callbacks):
    case_transition(case=case, to=CaseStatus.IRRECOVERABLE, actor=users.agent, reason="Décès")
    closure = CaseClosure.objects.get(case=case)
    closure.evidence_file.save("acte-de-deces.pdf", ContentFile(b"%PDF-1.4 acte"))
    old_name = closure.evidence_file.name
    upload = SimpleUploadedFile("jugement.pdf", b"%PDF-1.4 jugement", content_type="application/pdf")

    with django_capture_on_commit_callbacks(execute=True):
        certificate = declare(case, users.supervisor, reason="deceased", evidence_file=upload)

    closure.refresh_from_db()
    assert closure.evidence_file.name != old_name and certificate.closure_id == closure.pk
    assert _media_files("closure") == [closure.evidence_file.name]  # the old file went with the commit
    with closure.evidence_file.open("rb") as handle:
        assert handle.read() == b"%PDF-1.4 jugement"


def test_replaced_evidence_stays_when_the_declaration_fails(case, users, monkeypatch):
    case_transition(case=case, to=CaseStatus.IRRECOVERABLE, actor=users.agent, reason="Décès")
    closure = CaseClosure.objects.get(case=case)
    closure.evidence_file.save("acte-de-deces.pdf", ContentFile(b"%PDF-1.4 acte"))
    monkeypatch.setattr(closure_services, "_tell_creditor", lambda *a, **k: 1 / 0)
    upload = SimpleUploadedFile("jugement.pdf", b"%PDF-1.4 jugement", content_type="application/pdf")

    with pytest.raises(ZeroDivisionError):
        declare(case, users.supervisor, reason="deceased", evidence_file=upload)

    closure.refresh_from_db()
    assert _media_files("closure") == [closure.evidence_file.name] and _media_files("certificates") == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reason": "bogus"}, "Choisissez le motif d'irrécouvrabilité."),
        ({"evidence": "   "}, "Décrivez le justificatif de l'irrécouvrabilité (démarches, pièces, constats)."),
        ({"evidence": "x" * 5001}, "Le justificatif dépasse 5 000 caractères."),
    ],
)
def test_a_declaration_without_reason_or_evidence_is_refused_and_writes_nothing(case, users, kwargs, message):
    before = _written()
    with pytest.raises(ApplicationError) as excinfo:
        declare(case, users.supervisor, **kwargs)
    assert excinfo.value.message == message
    assert _written() == before


@pytest.mark.parametrize("role", ["agent", "collaborator", "creditor_admin"])
def test_only_supervisors_and_admins_declare(case, users, role):
    before = _written()
    with pytest.raises(ApplicationError) as excinfo:
        declare(case, getattr(users, role))
    assert excinfo.value.message == (
        "Seuls les superviseurs et administrateurs de l'agence peuvent déclarer un dossier irrécouvrable."
    )
    assert _written() == before
    declare(case, users.agency_admin)  # an agency admin may


def test_a_paid_case_cannot_be_declared_irrecoverable(case, users):
    pay_in_full(case, actor=users.agent)
    before = _written()
    with pytest.raises(ApplicationError) as excinfo:
        declare(case, users.supervisor)
    assert excinfo.value.message == "Le dossier FIN-0001 est « soldé » : il ne peut pas être déclaré irrécouvrable."
    assert _written() == before


def test_a_case_made_irrecoverable_elsewhere_gets_its_certificate_on_declaration(case, users):
    case_transition(case=case, to=CaseStatus.IRRECOVERABLE, actor=users.agent, reason="Introuvable")
    closure = CaseClosure.objects.get(case=case)
    assert (closure.reason, closure.evidence) == ("other", "Introuvable")
    certificate = declare(case, users.supervisor, reason="untraceable")
    closure.refresh_from_db()
    assert certificate.closure_id == closure.pk and closure.reason == "untraceable"


def test_bulk_declaration_reports_a_failing_case_and_issues_the_others(reference, users):
    cases = [make_case(structure=reference.cdop) for _ in range(3)]
    pay_in_full(cases[1], actor=users.agent)
    other = make_case(structure=reference.other_structure)
    outcome = certificates_issue_bulk(
        case_ids=[c.pk for c in cases] + [other.pk, 999999],
        reason="untraceable",
        evidence="Recherches infructueuses",
        actor=users.supervisor,
    )
    assert sorted(c.case_id for c in outcome.issued) == [cases[0].pk, cases[2].pk, other.pk]
    assert len({c.number for c in outcome.issued}) == 3
    assert [ref for ref, _ in outcome.failed] == [cases[1].reference, "n° 999999"]
    assert "soldé" in outcome.failed[0][1]


# --- the other moves ------------------------------------------------------------------------------------------


def test_end_of_contract_returns_the_case_as_a_recall(case, users):
    case = case_end_of_contract(case=case, reason="Fin du marché au 31/12", actor=users.supervisor)
    assert case.status == CaseStatus.RECALLED and case.recalled_at == case.status_changed_at
    closure = CaseClosure.objects.get(case=case)
    assert (closure.kind, closure.evidence) == (ClosureKind.END_OF_CONTRACT, "Fin du marché au 31/12")
    assert DocumentReturn.objects.filter(case=case).exists()


def test_end_of_contract_refusals(case, users):
    before = _written()
    with pytest.raises(ApplicationError) as excinfo:
        case_end_of_contract(case=case, reason="  ", actor=users.supervisor)
    assert excinfo.value.message == "Indiquez le motif de la restitution du dossier."
    with pytest.raises(ApplicationError) as excinfo:
        case_end_of_contract(case=case, reason="Fin", actor=users.agent)
    assert excinfo.value.message == (
        "Seuls les superviseurs et administrateurs de l'agence peuvent restituer un dossier en fin de contrat."
    )
    assert _written() == before


def test_lifting_a_suspension_resumes_the_case_or_its_plan(case_factory, users):
    case = case_factory(ack=date(2026, 10, 5))
    event_record(case=case, kind="death", occurred_on=timezone.localdate(), details="", actor=users.agent)
    case.refresh_from_db()
    assert case.status == CaseStatus.SUSPENDED
    before = _written()
    with pytest.raises(ApplicationError) as excinfo:
        case_suspension_lift(case=case, reason="", actor=users.supervisor)
    assert excinfo.value.message == "Indiquez le motif de la levée de la suspension."
    with pytest.raises(ApplicationError):
        case_suspension_lift(case=case, reason="Erreur", actor=users.agent)
    assert _written() == before
    case = case_suspension_lift(case=case, reason="Décès enregistré par erreur", actor=users.supervisor)
    assert case.status == CaseStatus.IN_PROGRESS
    assert AuditEvent.objects.filter(verb="case.suspension_lifted", case_pk=case.pk).exists()
    with pytest.raises(ApplicationError) as excinfo:
        case_suspension_lift(case=case, reason="Encore", actor=users.supervisor)
    assert excinfo.value.message == f"Le dossier {case.reference} n'est pas suspendu (en cours)."


def test_lifting_a_suspension_goes_back_to_the_running_plan(case_factory, users):
    case = case_factory(ack=date(2026, 10, 5))
    first_letter_sent(case)
    plan = plan_propose(case=case, rhythm="monthly", count=3, first_due_on=timezone.localdate(), actor=users.agent)
    assert plan.status == PlanStatus.ACTIVE
    case_transition(case=case, to=CaseStatus.SUSPENDED, actor=users.agent, reason="Contestation")
    case = case_suspension_lift(case=case, reason="Contestation levée", actor=users.supervisor)
    assert case.status == CaseStatus.PAYMENT_PLAN


def test_reopening_revokes_the_certificate_and_withdraws_the_return(case, users):
    certificate = declare(case, users.supervisor)
    case = case_reopen(case=case, reason="Débiteur retrouvé", actor=users.supervisor)
    assert case.status == CaseStatus.IN_PROGRESS
    certificate.refresh_from_db()
    assert certificate.revoked_at is not None and certificate.revoke_reason == "Réouverture : Débiteur retrouvé"
    closure = certificate.closure
    closure.refresh_from_db()
    assert closure.reopened_by == users.supervisor and closure.reopened_at is not None
    assert not DocumentReturn.objects.filter(case=case).exists()
    assert Notification.objects.filter(kind="case_reopened", recipient=users.creditor_admin).exists()
    again = declare(case, users.supervisor)  # declared again: a new closure, a new certificate
    assert again.pk != certificate.pk and Certificate.objects.filter(case=case).count() == 2


def test_reopen_refusals_write_nothing(case, users, reference):
    before = _written()
    with pytest.raises(ApplicationError) as excinfo:
        case_reopen(case=case, reason="Retrouvé", actor=users.supervisor)
    assert excinfo.value.message == "Seul un dossier irrécouvrable se rouvre : le dossier FIN-0001 est « nouveau »."
    assert _written() == before
    declare(case, users.supervisor)
    make_case(structure=reference.cdop, reference="FIN-0001")  # the creditor sent the claim again meanwhile
    before = _written()
    with pytest.raises(ApplicationError) as excinfo:
        case_reopen(case=case, reason="Retrouvé", actor=users.supervisor)
    assert excinfo.value.message == (
        "Un dossier ouvert porte déjà la référence FIN-0001 : rouvrir celui-ci en ferait deux."
    )
    with pytest.raises(ApplicationError):
        case_reopen(case=case, reason="Retrouvé", actor=users.agent)
    assert _written() == before


# --- the documents' return ----------------------------------------------------------------------------------


def test_marking_the_documents_returned_closes_the_case(case, users):
    declare(case, users.supervisor)
    returned = DocumentReturn.objects.get(case=case)
    today = timezone.localdate()
    before = _written()
    for day, message in [
        (today + timedelta(days=1), "La date de restitution ne peut pas être dans le futur."),
        (today - timedelta(days=1), f"La date de restitution précède la fin du dossier ({today:%d/%m/%Y})."),
    ]:
        with pytest.raises(ApplicationError) as excinfo:
            document_return_mark(document_return=returned, returned_on=day, actor=users.agent)
        assert excinfo.value.message == message
    with pytest.raises(ApplicationError):
        document_return_mark(document_return=returned, returned_on=today, actor=users.creditor_admin)
    assert _written() == before
    document_return_mark(document_return=returned, returned_on=today, note="Remis en main propre", actor=users.agent)
    case.refresh_from_db()
    returned.refresh_from_db()
    assert case.status == CaseStatus.CLOSED
    assert (returned.returned_on, returned.returned_by, returned.note) == (today, users.agent, "Remis en main propre")
    event = AuditEvent.objects.get(verb="documents.returned")
    assert event.after["on_time"] is True
    with pytest.raises(ApplicationError) as excinfo:
        document_return_mark(document_return=returned, returned_on=today, actor=users.agent)
    assert excinfo.value.message == f"Les pièces du dossier FIN-0001 sont déjà restituées (le {today:%d/%m/%Y})."


def test_the_items_list_the_batch_and_every_document(reference, users, gnupg_home):
    from amiable.intake.models import BatchSource
    from amiable.intake.services import batch_import
    from amiable.letters.defaults import letter_templates_ensure
    from amiable.letters.services import letter_issue

    letter_templates_ensure(creditor=reference.cpam)
    outcome = batch_import(
        creditor=reference.cpam,
        content=(
            b"reference;structure;nom;prenom;solde;adresse1;code_postal;ville\n"
            b"LOT-FIN-1;CDOP;Martin;Luc;12,00;1 rue A;75011;Paris\n"
        ),
        filename="lot.csv",
        source=BatchSource.CREDITOR_UPLOAD,
        actor=users.creditor_admin,
    )
    case = Case.objects.get(reference="LOT-FIN-1")
    letter = letter_issue(case=case, kind="first", actor=users.agent)
    payment_record(case=case, amount="12.00", collected_on=timezone.localdate(), method="cheque", actor=users.agent)
    references = [item["reference"] for item in DocumentReturn.objects.get(case=case).items]
    assert references[:2] == [outcome.batch.number, letter.number]
    assert "ligne 1" in DocumentReturn.objects.get(case=case).items[0]["label"]
    returned = document_return_mark(
        document_return=DocumentReturn.objects.get(case=case), returned_on=timezone.localdate(), actor=users.agent
    )
    receipt = case.receipts.get()
    assert [item["reference"] for item in returned.items] == [outcome.batch.number, letter.number, receipt.number]


def test_other_creditors_staff_are_not_notified(case, users):
    other_user = make_user("creditor_admin", creditor=users.other_admin.creditor)
    declare(case, users.supervisor)
    assert not Notification.objects.filter(recipient=other_user).exists()
