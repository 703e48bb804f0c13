"""Tenant isolation, exhaustively (S2): every URL of the application is requested, with GET and POST, by
a user of another creditor against the CPAM's objects, and by a structure-limited CPAM user against
another structure's objects. Each answers 404 or 403, shows nothing of the object, and changes nothing.

A URL added later without an entry in OBJECTS fails this test: isolation is never assumed."""

import io
import re
from datetime import timedelta

import openpyxl
import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from amiable.approvals.models import ApprovalRequest
from amiable.approvals.services import approval_request
from amiable.audit.models import AuditEvent
from amiable.banking.services import statement_import
from amiable.cases.models import Action, Case, Comment, ContactPoint
from amiable.closure.models import CaseClosure, Certificate, DocumentReturn
from amiable.closure.services import case_declare_irrecoverable
from amiable.contact.models import MessageStatus, OutboxMessage, PromiseToPay
from amiable.creditor_requests.models import CreditorRequest, MeetingSlot
from amiable.creditor_requests.services import meeting_propose, request_create
from amiable.intake.models import Batch, BatchSource, ImportJob
from amiable.intake.services import batch_import
from amiable.invoicing.models import Invoice
from amiable.letters.print_batch import print_batch_build
from amiable.letters.services import letter_issue
from amiable.notifications.models import Notification
from amiable.payments.plans import plan_propose
from amiable.payments.services import payment_record
from amiable.remittances.models import Remittance, RemittanceLine
from amiable.reporting.models import FollowUpMeeting, QuarterlyReport
from tests.banking.records import balance, cfonb, movement
from tests.factories import PASSWORD, make_case
from tests.invoicing.pages_data import written_invoice
from tests.remittances.pages_data import written_remittance

CSV = (
    b"reference;structure;nom;prenom;solde;adresse1;code_postal;ville\n"
    b"LOT-ISO-1;CDOP;Victime;Lot;12,00;1 rue A;75011;Paris\n"
)

# For each named URL taking parameters: which of the victim's objects fills them.
OBJECTS = {
    "case_detail": {"pk": "case"},
    "comment_post": {"pk": "case"},
    "case_request_post": {"pk": "case"},
    "approval_ask": {"pk": "case"},
    "case_recall": {"pk": "case"},
    "approval_decide": {"pk": "approval"},
    "request_answer": {"pk": "request"},
    "meeting_slots": {"pk": "meeting"},
    "meeting_confirm": {"pk": "slot"},
    "intake:batch": {"pk": "batch"},
    "intake:document": {"pk": "batch", "kind": "pdf"},
    "intake:job": {"pk": "job"},
    "intake:job_confirm": {"pk": "job"},
    "intake:job_cancel": {"pk": "job"},
    "accounts:team_member": {"pk": "colleague"},
    "accounts:team_member_deactivate": {"pk": "colleague"},
    "accounts:team_member_resend": {"pk": "colleague"},
    "accounts:team_member_reset_2fa": {"pk": "colleague"},
    "letters:preview": {"case_pk": "case", "kind": "first"},
    "letters:issue": {"case_pk": "case"},
    "letters:download": {"letter_pk": "letter"},
    # The print runs' files name debtors of every creditor: agency staff only (403 for any creditor user).
    "letters:print_file": {"stem": "print_stem", "ext": "pdf"},
    "payments:receipt_download": {"pk": "receipt"},
    "payments:record": {"pk": "case"},
    "payments:declare": {"pk": "case"},
    "payments:reverse": {"pk": "case", "payment_pk": "payment"},
    "payments:refund": {"pk": "case"},
    "work:case_assign": {"pk": "case"},
    "work:case_actions": {"pk": "case"},
    "work:call": {"pk": "case"},
    "work:promise_kept": {"pk": "case", "promise_pk": "promise"},
    "work:event": {"pk": "case"},
    "work:returned_mail": {"pk": "case"},
    "work:investigation": {"pk": "case"},
    "work:do_not_contact": {"pk": "case"},
    "work:message_preview": {"pk": "case", "channel": "email"},
    "work:message_send": {"pk": "case", "channel": "sms"},
    "work:outbox_retry": {"pk": "message"},
    "work:contact_point_add": {"pk": "case"},
    "work:contact_point_correct": {"pk": "case", "point_pk": "contact_point"},
    "work:contact_point_verify": {"pk": "case", "point_pk": "contact_point"},
    "payments:plan_form": {"case_pk": "case"},
    "payments:plan_preview": {"case_pk": "case"},
    "payments:plan_propose": {"case_pk": "case"},
    "payments:settlement_propose": {"case_pk": "case"},
    "payments:plan_pdf": {"pk": "plan"},
    "payments:statement": {"pk": "case"},
    "payments:statement_pdf": {"pk": "case"},
    "payments:statement_document": {"pk": "statement"},
    "banking:statement": {"pk": "bank_statement"},
    "banking:statement_file": {"pk": "bank_statement"},
    "banking:assign": {"pk": "bank_entry"},
    "banking:link": {"pk": "bank_entry"},
    "banking:dismiss": {"pk": "bank_entry"},
    "remittances:detail": {"pk": "remittance"},
    "remittances:executed": {"pk": "remittance"},
    "remittances:file": {"pk": "remittance", "kind": "pdf"},
    "invoicing:detail": {"pk": "invoice"},
    "invoicing:paid": {"pk": "invoice"},
    "invoicing:pdf": {"pk": "invoice"},
    "portal_remittance": {"pk": "remittance"},
    "portal_remittance_file": {"pk": "remittance", "kind": "pdf"},
    "portal_invoice": {"pk": "invoice"},
    "portal_invoice_pdf": {"pk": "invoice"},
    "meetings:detail": {"pk": "follow_up_meeting"},
    "meetings:minutes": {"pk": "follow_up_meeting"},
    "meetings:pack_build": {"pk": "follow_up_meeting"},
    "meetings:file": {"pk": "follow_up_meeting", "kind": "pdf"},
    "portal_meeting": {"pk": "follow_up_meeting"},
    "portal_meeting_file": {"pk": "follow_up_meeting", "kind": "minutes"},
    "reporting:quarterly_file": {"pk": "quarterly_report"},
    "portal_report_file": {"pk": "quarterly_report"},
    "closure:certificate_pdf": {"pk": "certificate"},
    "closure:evidence": {"pk": "closure"},
    "closure:return_mark": {"pk": "document_return"},
    "closure:declare": {"pk": "case"},
    "closure:lift": {"pk": "case"},
    "closure:reopen": {"pk": "ended_case"},
    "closure:end_of_contract": {"pk": "case"},
    "portal_certificate_pdf": {"pk": "certificate"},
}
# Named URLs taking parameters that carry no object of a creditor (a signed one-time link).
NOT_OBJECT_URLS = {"accounts:invitation_accept", "password_reset_confirm"}


def _patterns(patterns, prefix="", namespace=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if route.startswith("admin/"):
                continue
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _patterns(pattern.url_patterns, route, inner)
        elif isinstance(pattern, URLPattern):
            yield route, f"{namespace}{pattern.name}" if pattern.name else None


# Objects of the whole creditor, not of a structure: a structure-limited colleague may reach them.
CREDITOR_WIDE = {"colleague", "meeting", "slot"}


def _secrets(victim: dict, attacker_name: str) -> list[str]:
    if attacker_name == "csr_only":
        return [s for s in victim["secrets"] if s != "Réunion secrète"]
    return victim["secrets"]


def _fill(route: str, values: dict) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), route)


@pytest.fixture
def victim(reference, users, gnupg_home):
    """CPAM objects of the CDOP structure, each reachable by a URL."""
    reference.cpam.referent = users.supervisor
    reference.cpam.save()
    case = make_case(
        structure=reference.cdop, reference="ISO-VICTIME-1", last_name="Victime", assigned_agent=users.agent
    )
    approval = approval_request(case=case, kind="exchange", proposal="Proposition secrète", actor=users.agent)
    question = request_create(kind="question", body="Question secrète", actor=users.creditor_admin, case=case)
    financial_statement = request_create(kind="statement", body="", actor=users.creditor_admin, case=case).statement
    meeting = request_create(kind="meeting", body="Réunion secrète", actor=users.creditor_admin)
    [slot] = meeting_propose(request=meeting, slots=[timezone.now() + timedelta(days=1)], actor=users.agent)
    outcome = batch_import(
        creditor=reference.cpam,
        content=CSV,
        filename="lot.csv",
        source=BatchSource.CREDITOR_UPLOAD,
        actor=users.creditor_admin,
    )
    job = ImportJob.objects.create(
        creditor=reference.cpam, source=BatchSource.CREDITOR_UPLOAD, requested_by=users.creditor_admin, filename="x.csv"
    )
    letter = letter_issue(case=case, kind="first", actor=users.agent)
    plan = plan_propose(case=case, rhythm="monthly", count=3, first_due_on=timezone.localdate(), actor=users.agent)
    promise = PromiseToPay.objects.create(case=case, amount="10.00", due_on=timezone.localdate())
    payment = payment_record(
        case=case, amount="5.00", collected_on=timezone.localdate(), method="cheque", actor=users.agent
    )
    action = Action.objects.create(case=case, channel="email", at=timezone.now(), summary="E-mail de relance")
    message = OutboxMessage.objects.create(
        case=case,
        action=action,
        channel="email",
        to="victime@exemple.fr",
        text="Relance",
        status=MessageStatus.FAILED,
        attempts=1,
        error="refusé",
    )
    yesterday = f"{timezone.localdate() - timedelta(days=1):%d%m%y}"
    bank_statement = statement_import(
        content=cfonb(
            balance("01", "0", day=yesterday),
            movement("12.00", "VIR ISO-VICTIME-1", day=yesterday),
            movement("13.00", "VERSEMENT", day=yesterday),
            balance("07", "25.00", day=yesterday),
        ),
        filename="releve.txt",
        actor=users.agent,
    ).statement
    remittance = written_remittance(structure=reference.cdop, weeks_ago=0, total=payment.amount)
    RemittanceLine.objects.create(remittance=remittance, payment=payment, amount=payment.amount)
    invoice = written_invoice(structure=reference.cdop, cases=[case])
    # A follow-up meeting covers every structure of the CPAM: neither another creditor nor a structure-limited
    # colleague reaches it, its pack or its minutes.
    follow_up = FollowUpMeeting.objects.create(
        creditor=reference.cpam, label="Réunion à 1 mois", due_on=timezone.localdate(), minutes="Compte rendu secret"
    )
    follow_up.pack_pdf.save("secret.pdf", ContentFile(b"%PDF dossier secret"), save=False)
    follow_up.minutes_file.save("secret.pdf", ContentFile(b"%PDF compte rendu secret"), save=True)
    # A workbook covers all the creditor's structures: the CSR-limited colleague does not see it either.
    quarterly = QuarterlyReport(
        creditor=reference.cpam,
        quarter="2026-Q3",
        period_start="2026-07-01",
        period_end="2026-09-30",
        built_at=timezone.now(),
    )
    quarterly.xlsx.save("statistiques-iso.xlsx", ContentFile(b"PK classeur"), save=False)
    quarterly.save()
    ended_case = make_case(structure=reference.cdop, reference="ISO-VICTIME-2", last_name="Victime")
    certificate = case_declare_irrecoverable(
        case=ended_case,
        reason="untraceable",
        evidence="Justificatif secret",
        evidence_file=SimpleUploadedFile("piece.pdf", b"%PDF-1.4 secret"),
        actor=users.supervisor,
    )
    return {
        "follow_up_meeting": follow_up.pk,
        "quarterly_report": quarterly.pk,
        "ended_case": ended_case.pk,
        "certificate": certificate.pk,
        "closure": certificate.closure_id,
        "document_return": DocumentReturn.objects.get(case=ended_case).pk,
        "remittance": remittance.pk,
        "invoice": invoice.pk,
        "bank_statement": bank_statement.pk,
        "bank_entry": bank_statement.entries.get(status="to_review").pk,
        "payment": payment.pk,
        "promise": promise.pk,
        "letter": letter.pk,
        "plan": plan.pk,
        "receipt": payment.receipts.get().pk,
        "message": message.pk,
        "contact_point": ContactPoint.objects.create(
            debtor=case.debtor, kind="phone", value="+33699887766", source="Fichier du créancier"
        ).pk,
        "print_stem": print_batch_build(day=timezone.localdate()).pdf_name.removeprefix("print/").removesuffix(".pdf"),
        "case": case.pk,
        "approval": approval.pk,
        "request": question.pk,
        "statement": financial_statement.pk,
        "meeting": meeting.pk,
        "slot": slot.pk,
        "batch": outcome.batch.pk,
        "job": job.pk,
        "colleague": users.collaborator.pk,
        "secrets": [
            "ISO-VICTIME-1",
            "Proposition secrète",
            "Question secrète",
            "Réunion secrète",
            outcome.batch.number,
            plan.number,
            remittance.number,
            invoice.number,
            "Compte rendu secret",
            "dossier secret",
            certificate.number,
            "ISO-VICTIME-2",
            "Justificatif secret",
        ],
    }


def _state():
    return (
        Case.objects.filter(status="recalled").count(),
        Comment.objects.count(),
        ApprovalRequest.objects.exclude(status="pending").count(),
        PromiseToPay.objects.exclude(status="pending").count(),
        CreditorRequest.objects.exclude(status="open").count(),
        MeetingSlot.objects.filter(confirmed=True).count(),
        OutboxMessage.objects.exclude(status=MessageStatus.FAILED).count(),
        Batch.objects.count(),
        Remittance.objects.exclude(status="prepared").count(),
        Invoice.objects.exclude(status="prepared").count(),
        FollowUpMeeting.objects.filter(minutes="Compte rendu secret", pack_built_at__isnull=True).count(),
        AuditEvent.objects.exclude(verb__startswith="auth.").count(),
        CaseClosure.objects.filter(reopened_at__isnull=True).count(),
        Certificate.objects.filter(revoked_at__isnull=True).count(),
        DocumentReturn.objects.filter(returned_on__isnull=False).count(),
        sorted(ContactPoint.objects.values_list("pk", "quality", "value")),
    )


POST_DATA = {
    "body": "intrusion",
    "kind": "question",
    "proposal": "intrusion",
    "reason": "intrusion",
    "confirm": "on",
    "decision": "accept",
    "comment": "intrusion",
    "answer": "intrusion",
    "slot1": "2030-01-01T10:00",
    "role": "creditor_admin",
    "number": "+33612345678",
    "outcome": "reached",
    "occurred_on": "2026-11-02",
    "value": "on",
    # A date the remittance and invoice services would accept: only the gate may stop the POST.
    "executed_on": timezone.localdate().isoformat(),
    "paid_on": timezone.localdate().isoformat(),
}


@pytest.mark.parametrize("attacker_name", ["other_admin", "csr_only"])
def test_every_url_refuses_another_tenants_objects(client, users, victim, attacker_name):
    # The CSR-limited user reaches neither the CDOP case and its requests nor batches (all structures).
    client.force_login(getattr(users, attacker_name))
    before = _state()
    failures, covered = [], 0
    for route, name in _patterns(get_resolver().url_patterns):
        params = re.findall(r"<(?:\w+:)?(\w+)>", route)
        if not params:
            continue
        if name in NOT_OBJECT_URLS:
            continue
        if name not in OBJECTS:
            failures.append(f"{route} ({name}): no isolation mapping — add it to OBJECTS")
            continue
        if attacker_name == "csr_only" and OBJECTS[name].get("pk") in CREDITOR_WIDE:
            continue  # the limited user's own creditor's objects: governed by role, tested elsewhere
        values = {k: victim.get(v, v) for k, v in OBJECTS[name].items()}
        url = "/" + _fill(route, values)
        for method in ("get", "post"):
            response = getattr(client, method)(url, POST_DATA if method == "post" else None)
            covered += 1
            if response.status_code == 405:
                continue
            if response.status_code not in (403, 404):
                failures.append(f"{method.upper()} {url} ({name}): {response.status_code}")
            body = (
                response.content.decode(errors="replace") if response.get("Content-Type", "").startswith("text") else ""
            )
            for secret in _secrets(victim, attacker_name):
                if secret in body:
                    failures.append(f"{method.upper()} {url} ({name}): shows « {secret} »")
    assert not failures, "\n".join(failures)
    reachable = [n for n, o in OBJECTS.items() if attacker_name != "csr_only" or o.get("pk") not in CREDITOR_WIDE]
    assert covered == 2 * len(reachable)  # GET and POST of every mapped URL were requested
    assert _state() == before
    assert not Notification.objects.filter(body__contains="intrusion").exists()


@pytest.mark.parametrize("attacker_name", ["other_admin", "csr_only"])
def test_lists_searches_and_exports_show_nothing_of_another_tenant(client, users, victim, attacker_name):
    client.force_login(getattr(users, attacker_name))
    pages = [
        "/",
        "/dossiers/",
        "/dossiers/?q=ISO-VICTIME",
        "/dossiers/?q=Victime",
        "/demandes/",
        "/validations/",
        "/notifications/",
        "/portail/reversements/",
        "/portail/factures/",
        "/portail/echeances/",
        "/echeances/",
        "/portail/reunions/",
        "/portail/statistiques/",
        "/portail/certificats/",
        "/portail/restitutions/",
    ]
    if attacker_name == "other_admin":
        pages += ["/lots/", "/compte/equipe/", "/lots/transmettre/modele.csv"]
    for url in pages:
        response = client.get(url)
        assert response.status_code in (200, 403), url
        body = response.content.decode()
        for secret in _secrets(victim, attacker_name):
            assert secret not in body, f"{url} shows « {secret} »"
    export = client.get("/etat-des-creances.xlsx")
    assert export.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(export.content)).worksheets[0]
    cells = {str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None}
    assert "ISO-VICTIME-1" not in cells


PUBLIC_URLS = {
    "login",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "accounts:invitation_accept",
    "logout",
}


def test_every_url_asks_an_anonymous_visitor_to_log_in(client, victim):
    """No page but the login and password-reset ones answers a visitor who is not logged in."""
    failures = []
    for route, name in _patterns(get_resolver().url_patterns):
        if name in PUBLIC_URLS:
            continue
        values = {k: victim.get(v, v) for k, v in OBJECTS.get(name, {}).items()}
        url = "/" + _fill(route, values)
        for method in ("get", "post"):
            response = getattr(client, method)(url, POST_DATA if method == "post" else None)
            if response.status_code == 405:
                continue
            location = response.get("Location", "")
            if not (response.status_code == 302 and location.startswith("/connexion/")) and response.status_code != 404:
                failures.append(f"{method.upper()} {url} ({name}): {response.status_code} {location}")
    assert not failures, "\n".join(failures)


def _creditor_urls(victim) -> list[str]:
    """Every URL of the victim's objects, the lists, the export and the upload page."""
    urls = ["/", "/dossiers/", "/dossiers/?q=Victime", "/lots/", "/lots/transmettre/", "/etat-des-creances.xlsx"]
    for route, name in _patterns(get_resolver().url_patterns):
        if name in OBJECTS:
            urls.append("/" + _fill(route, {k: victim.get(v, v) for k, v in OBJECTS[name].items()}))
    return urls


def _still_let_in(client, urls) -> list[str]:
    let_in = []
    for url in urls:
        response = client.get(url)
        if response.status_code == 405:
            response = client.post(url, POST_DATA)
        if not (response.status_code == 302 and response["Location"].startswith("/connexion/")):
            let_in.append(f"{url}: {response.status_code}")
    return let_in


def test_deactivating_a_creditor_logs_out_all_its_staff_at_once(client, users, victim, reference):
    from django.contrib.sessions.models import Session

    from amiable.creditors.services import creditor_save

    _log_in(client, users.creditor_admin)
    assert client.get("/lots/transmettre/").status_code == 200
    other = Client()
    _log_in(other, users.other_admin)
    assert Session.objects.count() == 2

    creditor_save(slug=reference.cpam.slug, is_active=False, actor=users.agency_admin)

    assert Session.objects.count() == 1  # the CPAM admin's session is gone, the other creditor's stays
    assert not _still_let_in(client, _creditor_urls(victim))
    assert other.get("/dossiers/").status_code == 200
    refused = client.post("/connexion/", {"username": users.creditor_admin.email, "password": PASSWORD})
    assert refused.status_code == 200 and "_auth_user_id" not in client.session


def _log_in(client, user) -> None:
    response = client.post("/connexion/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]


def test_a_deactivated_creditors_staff_is_refused_on_every_request(client, users, victim, reference):
    """Even with a session left over (the creditor switched off without the service): the check is on every
    request, not only at login."""
    client.force_login(users.creditor_admin)
    type(reference.cpam).objects.filter(pk=reference.cpam.pk).update(is_active=False)
    failures = _still_let_in(client, _creditor_urls(victim))
    assert not failures, "\n".join(failures)
