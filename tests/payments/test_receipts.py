"""Receipts (C17, L4, CPCE R124-6): a gap-free number even when the payment rolls back, a PDF/A read back, the
e-mail with the PDF attached through a real SMTP server (outside the contact rule), the print run otherwise,
the cancelling document of a reversal, and the download for who may see the case only."""

import email
import hashlib
import io
import re
from datetime import date, datetime, time, timedelta
from email import policy
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.db import transaction
from django.utils import timezone
from pypdf import PdfReader

from amiable.audit.models import AccessLogEntry, AuditEvent
from amiable.cases.models import Action, Channel, ContactPoint, Task, TaskKind
from amiable.cases.services import contact_point_add, debtor_do_not_contact_set
from amiable.compliance.legal import fold
from amiable.contact.messaging import outbox_deliver_due
from amiable.contact.models import MessageKind, MessageStatus, OutboxMessage
from amiable.core.exceptions import ApplicationError
from amiable.core.models import NumberSequence
from amiable.creditors.models import Creditor
from amiable.letters.defaults import letter_templates_ensure
from amiable.letters.models import LetterKind
from amiable.letters.print_batch import print_batch_build
from amiable.letters.services import letter_issue
from amiable.payments.models import PaymentMethod, Receipt, ReceiptKind
from amiable.payments.receipts import creditor_after_de, debtor_reason
from amiable.payments.services import payment_record, payment_reverse
from tests.contact.test_smtp import SmtpServer
from tests.factories import make_case

pytestmark = pytest.mark.django_db

EMAIL = "marie.dupont@exemple.fr"
BASIS = "Dépassement orthodontie"  # the creditor's own label: health data, never on a debtor's document


def today() -> date:
    return timezone.localdate()


def squash(text: str) -> str:
    return " ".join(text.replace("\u202f", " ").replace("\u00a0", " ").split())


def pdf_bytes(receipt: Receipt) -> bytes:
    with receipt.pdf.open("rb") as handle:
        return handle.read()


def pdf_text(data: bytes) -> str:
    return squash(" ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages))


def receipt_files() -> set[str]:
    folder = Path(settings.MEDIA_ROOT) / "receipts"
    return {p.name for p in folder.rglob("*.pdf")} if folder.exists() else set()


def numbered(prefix: str, n: int) -> str:
    return f"{prefix}-{today().year}-{n:06d}"


def add_email(case, value=EMAIL):
    contact_point_add(debtor=case.debtor, kind="email", value=value, quality="valid", source="Débiteur", actor=None)


def record(case, amount, actor, method=PaymentMethod.TRANSFER, **kw):
    return payment_record(
        case=case, amount=amount, collected_on=kw.pop("on", today()), method=method, actor=actor, **kw
    )


@pytest.fixture
def case(reference, users):
    """A case of the dental centre, whose name and whose care must never reach the debtor (L9)."""
    return make_case(structure=reference.cdop, basis=BASIS, reference="DOS-2026-0100")


@pytest.fixture
def fast_pdf(monkeypatch):
    """A stand-in for WeasyPrint where the PDF itself is not what a test looks at."""
    import amiable.payments.receipts as module

    monkeypatch.setattr(module, "letter_pdf", lambda html: b"%PDF-1.7 " + hashlib.sha256(html.encode()).digest())


# --- the receipt and its PDF -------------------------------------------------------------------------------


def test_every_payment_yields_a_receipt_read_back_from_its_pdf_a(case, users, reference):
    payment = record(case, "60.00", users.agent, on=today() - timedelta(days=2))

    receipt = Receipt.objects.get()
    assert receipt.number == numbered("RC", 1)
    assert (receipt.kind, receipt.payment, receipt.case_id) == (ReceiptKind.RECEIPT, payment, case.pk)
    assert receipt.issued_on == today()
    assert str(receipt.amount) == "60.00" and str(receipt.balance_after) == "60.50"
    assert receipt.address_lines[0] == "Mme DUPONT Marie"
    data = pdf_bytes(receipt)
    assert hashlib.sha256(data).hexdigest() == receipt.sha256
    assert receipt.pdf.name == f"receipts/{today().year}/{receipt.number}.pdf"

    # PDF/A-3b, as the letters: the archival format says so in its XMP metadata.
    reader = PdfReader(io.BytesIO(data))
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert re.search(r"pdfaid:part(=\"|>)3", xmp), xmp
    assert re.search(r"pdfaid:conformance(=\"|>)B", xmp), xmp

    text = pdf_text(data)
    for expected in (
        f"Reçu de paiement n° {receipt.number}",
        "Mme DUPONT Marie",
        "DOS-2026-0100",
        "60,00 €",
        "Virement",
        f"Date d'encaissement {(today() - timedelta(days=2)):%d/%m/%Y}",
        "Reste dû après ce paiement 60,50 €",
        "encaissée pour le compte de la Caisse Primaire d'Assurance Maladie de Paris",
        reference.cpam.name,
        "Amiable Recouvrement SAS",
        "SIRET 55208131766522",
        "Société exerçant une activité de recouvrement amiable",
    ):
        assert expected in text, expected
    # Medical secrecy: neither the structure nor the creditor's own label of the care (L9).
    folded = fold(text)
    assert fold(reference.cdop.name) not in folded
    assert fold(BASIS) not in folded and "orthodont" not in folded and "dentaire" not in folded
    event = AuditEvent.objects.get(verb="receipt.issued")
    assert event.after["number"] == receipt.number and event.after["delivery"] == "post"
    assert event.case_pk == case.pk and event.creditor_pk == reference.cpam.pk


def test_a_payment_that_settles_the_case_says_so(case, users):
    record(case, "120.50", users.agent, method=PaymentMethod.CASH)
    text = pdf_text(pdf_bytes(Receipt.objects.get()))
    assert "Espèces" in text and "Reste dû après ce paiement 0,00 €" in text
    assert "La somme due sur ce dossier est entièrement réglée." in text


def test_a_direct_payment_is_attested_as_paid_to_the_creditor_and_recorded_by_the_agency(case, users):
    record(case, "20.00", users.collaborator, method=PaymentMethod.DIRECT, source="creditor")

    receipt = Receipt.objects.get()
    text = pdf_text(pdf_bytes(receipt))
    assert f"Attestation de paiement direct au créancier n° {receipt.number}" in text
    assert "nous a déclaré avoir reçu directement de vous" in text
    assert "Amiable Recouvrement SAS ne l'a pas encaissé" in text
    assert "encaissée pour le compte" not in text  # the agency collected nothing
    assert "Reste dû après ce paiement 100,50 €" in text
    # Recorded by an agent (the debtor's proof): the creditor is not said to have declared it.
    record(case, "10.00", users.agent, method=PaymentMethod.DIRECT)
    text = pdf_text(pdf_bytes(Receipt.objects.latest("pk")))
    assert "reçu directement par le créancier, Caisse Primaire d'Assurance Maladie de Paris" in text
    assert "nous a déclaré" not in text and "ne l'a pas encaissé" in text


def test_creditor_name_after_de():
    def creditor(name, article=""):
        return Creditor(name=name, name_with_article=article)

    assert creditor_after_de(creditor("CPAM", "La CPAM de Paris")) == "de la CPAM de Paris"
    assert creditor_after_de(creditor("Centre X", "Le Centre X")) == "du Centre X"
    assert creditor_after_de(creditor("Hôpital Y", "L'Hôpital Y")) == "de l'Hôpital Y"
    assert creditor_after_de(creditor("Hospices Z", "Les Hospices Z")) == "des Hospices Z"
    assert creditor_after_de(creditor("Mutuelle W")) == "de Mutuelle W"


# --- numbering without gaps ---------------------------------------------------------------------------------


def test_numbers_have_no_gap_when_the_payments_transaction_rolls_back(case, users, fast_pdf):
    record(case, "10.00", users.agent)
    with pytest.raises(RuntimeError, match="panne"), transaction.atomic():
        record(case, "10.00", users.agent)
        assert Receipt.objects.latest("pk").number == numbered("RC", 2)
        raise RuntimeError("panne après la numérotation")
    assert NumberSequence.objects.get(name="receipt").last == 1

    record(case, "10.00", users.agent)

    assert sorted(Receipt.objects.values_list("number", flat=True)) == [numbered("RC", 1), numbered("RC", 2)]
    # The file the rolled-back payment left under number 2 is replaced, not kept beside the real one.
    assert receipt_files() == {f"{numbered('RC', 1)}.pdf", f"{numbered('RC', 2)}.pdf"}
    second = Receipt.objects.get(number=numbered("RC", 2))
    assert hashlib.sha256(pdf_bytes(second)).hexdigest() == second.sha256


def test_a_receipt_refused_after_numbering_refuses_the_payment_and_leaves_no_gap(case, users, reference):
    record(case, "10.00", users.agent)
    payments, sequence = case.payments.count(), NumberSequence.objects.get(name="receipt").last
    # A creditor's name with article that names the care centre: the receipt may not go, nor the payment.
    Creditor.objects.filter(pk=reference.cpam.pk).update(name_with_article=f"Le {reference.cdop.name}")

    with pytest.raises(ApplicationError, match=r"^Reçu refusé : il nomme la structure"):
        record(case, "10.00", users.agent)

    assert case.payments.count() == payments
    assert NumberSequence.objects.get(name="receipt").last == sequence == 1
    assert receipt_files() == {f"{numbered('RC', 1)}.pdf"}
    Creditor.objects.filter(pk=reference.cpam.pk).update(name_with_article="")
    record(case, "10.00", users.agent)
    assert Receipt.objects.latest("pk").number == numbered("RC", 2)


# --- delivery: e-mail, outside the contact rule -------------------------------------------------------------


@pytest.fixture
def smtp_server(settings):
    server = SmtpServer()
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 10
    yield server
    server.stop()


def received_pdf(envelope) -> tuple[email.message.EmailMessage, dict[str, bytes]]:
    message = email.message_from_bytes(envelope.content, policy=policy.default)
    attachments = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    return message, attachments


def test_the_receipt_is_emailed_with_its_pdf_through_a_real_smtp_server(
    case, users, smtp_server, django_capture_on_commit_callbacks
):
    add_email(case)
    # The debtor asked not to be contacted any more: a receipt is owed all the same (R124-6), it is no contact.
    debtor_do_not_contact_set(debtor=case.debtor, actor=users.agent, value=True, case=case)

    with django_capture_on_commit_callbacks(execute=True):
        record(case, "25.00", users.agent, method=PaymentMethod.CHEQUE)
        assert smtp_server.handler.envelopes == []  # nothing leaves before the commit

    receipt = Receipt.objects.get()
    assert receipt.emailed_to == EMAIL
    assert len(smtp_server.handler.envelopes) == 1
    envelope = smtp_server.handler.envelopes[0]
    assert envelope.rcpt_tos == [EMAIL]
    message, attachments = received_pdf(envelope)
    assert message["Subject"].strip() == f"Reçu de paiement {receipt.number} — dossier DOS-2026-0100"
    assert list(attachments) == [f"{receipt.number}.pdf"]
    assert hashlib.sha256(attachments[f"{receipt.number}.pdf"]).hexdigest() == receipt.sha256
    body = squash(message.get_body(("plain",)).get_content())
    assert receipt.number in body and "25,00 €" in body and "95,50 €" in body
    assert "dentaire" not in fold(body) and "orthodont" not in fold(body)
    outbox = OutboxMessage.objects.get()
    assert (outbox.kind, outbox.status, outbox.action) == (MessageKind.RECEIPT, MessageStatus.SENT, None)
    assert outbox.attachment.name == receipt.pdf.name
    # Not a recovery contact: no action, so nothing counted in the contact rule's caps (L8).
    assert not Action.objects.filter(case=case, channel=Channel.EMAIL).exists()
    assert AuditEvent.objects.get(verb="email.sent").after["document"] == f"{receipt.number}.pdf"
    assert AuditEvent.objects.get(verb="receipt.issued").after["delivery"] == "email"
    # E-mailed: not posted as well.
    assert print_batch_build(day=today()).numbers == []


def test_a_failed_receipt_email_is_retried_even_at_night_and_sent_once(
    case, users, smtp_server, django_capture_on_commit_callbacks
):
    add_email(case)
    smtp_server.handler.refuse = True
    sunday_night = timezone.make_aware(datetime.combine(date(2026, 11, 29), time(22, 30)))
    with time_machine.travel(sunday_night, tick=True) as clock:
        with django_capture_on_commit_callbacks(execute=True):
            record(case, "25.00", users.agent)
        message = OutboxMessage.objects.get()
        assert message.status == MessageStatus.FAILED
        smtp_server.handler.refuse = False
        clock.shift(timedelta(minutes=6))
        # A recovery e-mail would be put off to Monday 10:00; the receipt goes now.
        assert outbox_deliver_due()["sent"] == 1
        assert outbox_deliver_due()["sent"] == 0
    assert len(smtp_server.handler.envelopes) == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


def test_a_tampered_attachment_is_not_sent(case, users, django_capture_on_commit_callbacks):
    add_email(case)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        record(case, "25.00", users.agent)
    Path(Receipt.objects.get().pdf.path).write_bytes(b"%PDF-1.7 altered")
    for callback in callbacks:
        callback()
    message = OutboxMessage.objects.get()
    assert message.status == MessageStatus.FAILED
    assert "ne correspond plus à son empreinte" in message.error
    assert mail.outbox == []


# --- delivery: the print run --------------------------------------------------------------------------------


def test_a_receipt_not_emailed_is_merged_into_the_print_run_after_the_letters(reference, users, case):
    letter_templates_ensure(creditor=reference.cpam)
    other = make_case(structure=reference.csr, last_name="Martin")
    letter = letter_issue(case=other, kind=LetterKind.FIRST, actor=users.agent, issued_on=today())
    emailed = make_case(structure=reference.csr, last_name="Petit")
    add_email(emailed, "petit@exemple.fr")
    with time_machine.travel(timezone.now() - timedelta(days=1)):
        record(case, "30.00", users.agent)  # after yesterday's run: goes with today's
    record(emailed, "5.00", users.agent)
    posted = Receipt.objects.get(case=case)

    run = print_batch_build(day=today(), actor=users.agent)

    assert run.numbers == [letter.number, posted.number]
    assert run.documents == {"receipts": [posted.number]}
    reader = PdfReader(Path(settings.MEDIA_ROOT) / run.pdf_name)
    assert [item.title for item in reader.outline] == [letter.number, posted.number]
    assert posted.number in squash(reader.pages[1].extract_text())
    manifest = (Path(settings.MEDIA_ROOT) / run.manifest_name).read_text(encoding="utf-8-sig")
    assert f"{posted.number};DOS-2026-0100;Mme DUPONT Marie;{' / '.join(posted.address_lines)};1" in manifest
    posted.refresh_from_db()
    assert posted.printed_on == today()
    assert Receipt.objects.get(case=emailed).printed_on is None
    event = AuditEvent.objects.get(verb="letters.printed")
    assert event.after["letters"] == [letter.number] and event.after["documents"] == {"receipts": [posted.number]}
    # Printed once.
    assert print_batch_build(day=today()).numbers == []


def test_the_print_commands_dry_run_lists_the_receipts_to_post(case, users, fast_pdf):
    from io import StringIO

    from django.core.management import call_command

    record(case, "30.00", users.agent)
    out = StringIO()
    call_command("print_batch", "--dry-run", stdout=out)
    assert f"1 courrier(s) à imprimer.\n  {numbered('RC', 1)}" in out.getvalue()
    assert Receipt.objects.get().printed_on is None


def test_a_tampered_receipt_stops_the_print_run(case, users):
    record(case, "30.00", users.agent)
    receipt = Receipt.objects.get()
    Path(receipt.pdf.path).write_bytes(b"%PDF-1.7 altered")
    with pytest.raises(ApplicationError, match=f"Le fichier du document {receipt.number} ne correspond plus"):
        print_batch_build(day=today())
    receipt.refresh_from_db()
    assert receipt.printed_on is None


def test_a_debtor_without_email_nor_address_gets_the_receipt_by_hand(client, case, users):
    ContactPoint.objects.filter(debtor=case.debtor).update(quality="invalid")

    record(case, "30.00", users.agent)

    receipt = Receipt.objects.get()
    assert receipt.address_lines == [] and receipt.emailed_to == ""
    task = Task.objects.get(case=case, kind=TaskKind.REVIEW)
    assert task.reason.startswith(f"{receipt.number} à remettre au débiteur : ni e-mail ni adresse valide")
    assert print_batch_build(day=today()).numbers == []
    client.force_login(users.agent)
    assert "À remettre (ni e-mail ni adresse valide)" in client.get(f"/dossiers/{case.pk}/").content.decode()


# --- cancellation ---------------------------------------------------------------------------------------------


def test_a_reversal_yields_a_cancelling_document_delivered_the_same_way(case, users):
    add_email(case)
    payment = record(case, "40.00", users.agent, method=PaymentMethod.CHEQUE)
    receipt = Receipt.objects.get()

    payment_reverse(payment=payment, reversed_on=today(), reason="Erreur de saisie du montant", actor=users.agent)

    cancellation = Receipt.objects.get(kind=ReceiptKind.CANCELLATION)
    assert cancellation.number == numbered("AN", 1)
    assert (cancellation.cancels, cancellation.payment) == (receipt, payment)
    assert str(cancellation.balance_after) == "120.50"
    text = pdf_text(pdf_bytes(cancellation))
    for expected in (
        f"Annulation de reçu n° {cancellation.number}",
        f"Le reçu n° {receipt.number} du {today():%d/%m/%Y} est annulé",
        "40,00 €",
        "Chèque",
        "Motif : Erreur d'enregistrement du montant",  # « saisie » would read as a seizure (L7)
        "rétabli à 120,50 €",
    ):
        assert expected in text, expected
    assert "saisie" not in fold(text)
    assert cancellation.emailed_to == EMAIL
    sent = OutboxMessage.objects.filter(kind=MessageKind.RECEIPT).order_by("pk")
    assert [m.attachment_name for m in sent] == [f"{receipt.number}.pdf", f"{cancellation.number}.pdf"]
    assert AuditEvent.objects.get(verb="receipt.cancelled").after["cancels"] == receipt.number
    # Reversing twice changes nothing more.
    payment_reverse(payment=payment, reversed_on=today(), reason="encore", actor=users.agent)
    assert Receipt.objects.filter(kind=ReceiptKind.CANCELLATION).count() == 1


def test_a_cancellation_not_emailed_is_printed(case, users):
    payment = record(case, "40.00", users.agent)
    payment_reverse(payment=payment, reversed_on=today(), reason="Chèque impayé", actor=users.agent)
    run = print_batch_build(day=today())
    assert run.documents == {"receipts": [numbered("AN", 1), numbered("RC", 1)]}  # by date of issue, then number


def test_the_reason_printed_keeps_to_the_rules(case):
    assert debtor_reason("Chèque impayé", case) == "Chèque impayé"
    assert debtor_reason("erreurs de saisie", case) == "erreurs d'enregistrement"
    assert debtor_reason("Rejet, frais bancaires", case) == "paiement annulé par l'agence"
    assert debtor_reason("virement du centre dentaire", case) == "paiement annulé par l'agence"


# --- the case page and the download ---------------------------------------------------------------------------


def test_the_case_card_lists_the_receipts_with_their_link(client, case, users):
    record(case, "40.00", users.agent)
    receipt = Receipt.objects.get()
    for user in (users.agent, users.collaborator):
        client.force_login(user)
        html = client.get(f"/dossiers/{case.pk}/").content.decode()
        assert receipt.number in html
        assert f'href="/paiements/recus/{receipt.pk}.pdf"' in html


def test_the_case_page_costs_the_same_queries_for_1_or_6_receipts(client, case, users, fast_pdf):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(users.agent)
    url = f"/dossiers/{case.pk}/"
    record(case, "10.00", users.agent)
    client.get(url)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    few = queries()
    payments = [record(case, "10.00", users.agent) for _ in range(3)]
    for payment in payments[:2]:
        payment_reverse(payment=payment, reversed_on=today(), reason="Chèque impayé", actor=users.agent)
    assert Receipt.objects.filter(case=case).count() == 6
    assert queries() == few


@pytest.mark.parametrize("role", ["agent", "supervisor", "collaborator", "creditor_admin"])
def test_the_receipt_opens_for_agency_staff_and_the_cases_creditor_staff(client, case, users, role):
    record(case, "40.00", users.agent)
    receipt = Receipt.objects.get()
    user = getattr(users, role)
    client.force_login(user)

    response = client.get(f"/paiements/recus/{receipt.pk}.pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="{receipt.number}.pdf"'
    assert response["Cache-Control"] == "private, no-store"
    assert hashlib.sha256(b"".join(response.streaming_content)).hexdigest() == receipt.sha256
    entry = AccessLogEntry.objects.get()
    assert (entry.user, entry.kind, entry.case_pk) == (user, "document", case.pk)
    assert entry.label == f"Reçu de paiement {receipt.number}"


@pytest.mark.parametrize("role", ["other_admin", "csr_only"])
def test_the_receipt_is_404_for_who_may_not_see_the_case(client, case, users, role):
    # `case` is a CDOP case: the CSR-only user of the CPAM may not see it, nor the other creditor's admin.
    record(case, "40.00", users.agent)
    receipt = Receipt.objects.get()
    client.force_login(getattr(users, role))
    assert client.get(f"/paiements/recus/{receipt.pk}.pdf").status_code == 404
    assert not AccessLogEntry.objects.exists()


def test_a_structure_limited_user_opens_the_receipts_of_their_structure(client, reference, users, fast_pdf):
    csr_case = make_case(structure=reference.csr)
    record(csr_case, "40.00", users.agent)
    client.force_login(users.csr_only)
    assert client.get(f"/paiements/recus/{Receipt.objects.get().pk}.pdf").status_code == 200


def test_anonymous_and_unknown(client, case, users, fast_pdf):
    record(case, "40.00", users.agent)
    url = f"/paiements/recus/{Receipt.objects.get().pk}.pdf"
    assert client.get(url).status_code == 302
    client.force_login(users.agent)
    assert client.get("/paiements/recus/999999.pdf").status_code == 404


def test_the_html_part_of_a_document_email_is_checked_too(users, case, fast_pdf):
    from amiable.contact.messaging import document_email_queue

    receipt = payment_record(
        case=case, amount="10.00", collected_on=timezone.localdate(), method=PaymentMethod.CHEQUE, actor=users.agent
    ).receipts.get()
    before = OutboxMessage.objects.count()
    with pytest.raises(ApplicationError, match="^Message refusé : .*huissier"):
        document_email_queue(
            case=case,
            to="debiteur@exemple.fr",
            subject="Votre reçu",
            text="Veuillez trouver votre reçu.",
            html="<p>Veuillez trouver votre reçu. <b>Un huissier</b> passera.</p>",
            attachment=receipt.pdf,
            attachment_name=f"{receipt.number}.pdf",
            attachment_sha256=receipt.sha256,
            actor=users.agent,
        )
    assert OutboxMessage.objects.count() == before
