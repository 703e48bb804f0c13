"""Completing the remittances: the e-mail to the finance address with its three attachments, a structure
without IBAN (statement made, no transfer, the reason said), a failure half-way completed by the next run
without a second remittance or e-mail, the command's output, a dry run that writes nothing."""

import json
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from smtplib import SMTPException

import pytest
from django.core import mail
from django.core.files.storage import default_storage
from django.core.mail import EmailMessage
from django.core.management import call_command

from amiable.audit.models import AuditEvent
from amiable.ledger.models import LedgerEntry
from amiable.remittances import documents, services
from amiable.remittances.models import Remittance, RemittanceLine, RemittanceStatus
from amiable.remittances.services import remittances_build
from tests.factories import make_case
from tests.remittances.helpers import IBAN_CDOP, IBAN_CSR, bank_details, pay, read, sha256, today, weeks_ago

pytestmark = pytest.mark.django_db

D = Decimal
FINANCE = "finances-csr@cpam-paris.example"


def command(*args):
    out = StringIO()
    call_command("build_remittances", *args, stdout=out)
    return out.getvalue()


def statements_sent():
    return [m for m in mail.outbox if m.subject.startswith("Reversement ")]


def three_structures(reference, users, start):
    """CSR (finance e-mail, IBAN), CDOP (IBAN, the creditor's contact e-mail), AUT (neither e-mail nor IBAN)."""
    bank_details(reference.csr, iban=IBAN_CSR, finance_email=FINANCE)
    bank_details(reference.cdop, iban=IBAN_CDOP)
    for structure, amount in (
        (reference.csr, "20.00"),
        (reference.cdop, "30.00"),
        (reference.other_structure, "40.00"),
    ):
        pay(make_case(structure=structure, principal="100.00"), amount, start, users.agent)


def remitted(structure):
    return Remittance.objects.get(structure=structure)


def test_the_statement_goes_to_the_finance_address_with_three_attachments(reference, users):
    week_of, start, end = weeks_ago(0)
    three_structures(reference, users, start)
    remittances_build(week_of=week_of, actor=None)

    csr = remitted(reference.csr)
    [message] = [m for m in statements_sent() if csr.number in m.subject]
    assert message.to == [FINANCE]
    assert message.subject == (
        f"Reversement {csr.number} — Centre de Santé Réaumur (CSR) — semaine du {start:%d/%m/%Y} au {end:%d/%m/%Y}"
    )
    assert [(name, mime) for name, _, mime in message.attachments] == [
        (f"{csr.number}.pdf", "application/pdf"),
        (f"{csr.number}.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (f"{csr.number}.csv", "text/csv"),
    ]
    pdf, xlsx, csv = (content for _, content, _ in message.attachments)
    assert pdf == read(csr.statement_pdf) and xlsx == read(csr.statement_xlsx)
    assert (csv if isinstance(csv, bytes) else csv.encode()) == read(csr.statement_csv)
    assert "20,00" in message.body and f"sous la référence {csr.number}" in message.body
    assert (csr.emailed_to, csr.emailed_at is not None) == (FINANCE, True)

    # No finance e-mail for CDOP: the creditor's contact address.
    cdop = remitted(reference.cdop)
    assert [m.to for m in statements_sent() if cdop.number in m.subject] == [[reference.cpam.contact_email]]
    assert cdop.emailed_to == reference.cpam.contact_email
    assert len(statements_sent()) == 2

    events = AuditEvent.objects.filter(target_id=str(csr.pk), verb__startswith="remittance.")
    assert set(events.values_list("verb", flat=True)) == {
        "remittance.prepared",
        "remittance.documents_made",
        "remittance.emailed",
    }


def test_no_address_no_email_but_the_files_are_made_and_the_reason_said(reference, users):
    week_of, start, _ = weeks_ago(0)
    three_structures(reference, users, start)
    out = command("--week-of", week_of.isoformat())
    other = remitted(reference.other_structure)
    assert other.statement_pdf and other.statement_xlsx and other.statement_csv and other.documents_at
    assert other.emailed_at is None and other.emailed_to == ""
    assert not [m for m in statements_sent() if other.number in m.subject]
    assert f"{other.number} (AUT) : relevé non envoyé : ni e-mail du service financier" in out


def test_a_structure_without_iban_gets_its_statement_but_no_transfer_until_its_iban_is_entered(reference, users):
    week_of, start, _ = weeks_ago(0)
    three_structures(reference, users, start)
    out = command("--week-of", week_of.isoformat())

    other = remitted(reference.other_structure)
    assert other.statement_pdf and other.documents_at is not None
    assert not other.transfer_xml and other.transfer_sha256 == ""
    assert other.status == RemittanceStatus.PREPARED and other.sent_at is None
    assert f"{other.number} (AUT) : virement non émis : la structure AUT n'a pas d'IBAN de reversement" in out
    assert documents.transfer_problem(other.structure).startswith("la structure AUT n'a pas d'IBAN")
    # The others have theirs.
    assert remitted(reference.csr).status == RemittanceStatus.SENT

    # The reason is said again by every run until the IBAN is entered; a wrong IBAN is refused by name.
    bank_details(reference.other_structure, iban="FR7630006000011234567890180")
    out = command("--week-of", week_of.isoformat())
    assert "l'IBAN de reversement de la structure AUT (« FR7630006000011234567890180 ») est invalide" in out
    assert not remitted(reference.other_structure).transfer_xml

    statement = {name: sha256(getattr(other, name)) for name in services.STATEMENT_FILES}
    bank_details(reference.other_structure, iban=IBAN_CDOP)
    out = command("--week-of", week_of.isoformat())
    other = remitted(reference.other_structure)
    assert other.transfer_xml and other.status == RemittanceStatus.SENT and other.sent_at is not None
    assert sha256(other.transfer_xml) == other.transfer_sha256
    assert f"{other.number} (AUT) : fichiers produits — pain.001." in out
    assert {name: sha256(getattr(other, name)) for name in services.STATEMENT_FILES} == statement
    assert Remittance.objects.count() == 3


def test_the_email_says_when_the_structure_has_no_bank_details(reference, users):
    week_of, start, _ = weeks_ago(0)
    bank_details(reference.csr, finance_email=FINANCE)
    pay(make_case(structure=reference.csr, principal="100.00"), "20.00", start, users.agent)
    remittances_build(week_of=week_of, actor=None)
    [message] = statements_sent()
    assert "n'a pas encore pu être émis" in message.body and "coordonnées bancaires" in message.body
    assert len(message.attachments) == 3


def _no_partial_remittance():
    """Every remittance is whole: its lines add up to its total and the ledger was debited for it."""
    for remittance in Remittance.objects.all():
        lines = RemittanceLine.objects.filter(remittance=remittance)
        assert lines.exists() and sum(line.amount for line in lines) == remittance.total
        assert LedgerEntry.objects.filter(kind="remittance", source=f"remittance:{remittance.pk}").count() == 1


def _stored_names(number):
    year = number.split("-")[1]
    _, names = (
        default_storage.listdir(f"remittances/{year}") if default_storage.exists(f"remittances/{year}") else ((), [])
    )
    return sorted(name for name in names if name.startswith(number))


def test_a_pdf_failure_for_the_second_structure_is_completed_by_the_next_run(reference, users, monkeypatch):
    week_of, start, _ = weeks_ago(0)
    three_structures(reference, users, start)
    real_pdf = documents.statement_pdf

    def pdf_or_crash(statement):
        if statement.remittance.structure.code == "CDOP":  # the second structure: CSV and XLSX already made
            raise RuntimeError("panne du moteur PDF")
        return real_pdf(statement)

    monkeypatch.setattr(documents, "statement_pdf", pdf_or_crash)
    out = command("--week-of", week_of.isoformat())

    assert Remittance.objects.count() == 3
    _no_partial_remittance()
    cdop = remitted(reference.cdop)
    assert not (cdop.statement_pdf or cdop.statement_xlsx or cdop.statement_csv or cdop.transfer_xml)
    assert cdop.documents_at is None and cdop.status == RemittanceStatus.PREPARED and cdop.emailed_at is None
    assert _stored_names(cdop.number) == []  # the CSV and XLSX went with the rollback
    assert f"{cdop.number} (CDOP) : non complété (panne du moteur PDF)" in out
    csr = remitted(reference.csr)
    assert csr.status == RemittanceStatus.SENT and csr.emailed_at is not None
    assert len(statements_sent()) == 1

    monkeypatch.setattr(documents, "statement_pdf", real_pdf)
    data = json.loads(command("--week-of", week_of.isoformat(), "--json"))
    assert data["created"] == 0 and len(data["remittances"]) == 3
    assert Remittance.objects.count() == 3
    _no_partial_remittance()
    cdop = remitted(reference.cdop)
    assert cdop.statement_pdf and cdop.transfer_xml and cdop.status == RemittanceStatus.SENT
    assert _stored_names(cdop.number) == sorted(
        f"{cdop.number}{suffix}" for suffix in (".pdf", ".xlsx", ".csv", "-pain001.xml")
    )
    assert [m.to for m in statements_sent()] == [[FINANCE], [reference.cpam.contact_email]]


def test_a_failed_send_is_kept_for_the_next_run_and_nothing_else_undone(reference, users, monkeypatch):
    week_of, start, _ = weeks_ago(0)
    three_structures(reference, users, start)
    real_send = EmailMessage.send

    def send_or_fail(message, *args, **kwargs):
        if message.to == [reference.cpam.contact_email]:  # CDOP's statement
            raise SMTPException("421 service indisponible")
        return real_send(message, *args, **kwargs)

    monkeypatch.setattr(EmailMessage, "send", send_or_fail)
    out = command("--week-of", week_of.isoformat())
    cdop = remitted(reference.cdop)
    assert cdop.statement_pdf and cdop.transfer_xml and cdop.status == RemittanceStatus.SENT
    assert cdop.emailed_at is None
    assert f"relevé non envoyé à {reference.cpam.contact_email} (421 service indisponible)" in out
    assert [m.to for m in statements_sent()] == [[FINANCE]]
    files = {name: sha256(getattr(cdop, name)) for name in (*services.STATEMENT_FILES, "transfer_xml")}

    monkeypatch.setattr(EmailMessage, "send", real_send)
    out = command("--week-of", week_of.isoformat())
    assert f"{cdop.number} (CDOP) : relevé envoyé à {reference.cpam.contact_email}." in out
    assert [m.to for m in statements_sent()] == [[FINANCE], [reference.cpam.contact_email]]
    cdop = remitted(reference.cdop)
    assert cdop.emailed_at is not None
    assert {name: sha256(getattr(cdop, name)) for name in files} == files
    assert Remittance.objects.count() == 3


def test_a_second_run_creates_nothing_and_sends_nothing_again(reference, users):
    week_of, start, _ = weeks_ago(0)
    three_structures(reference, users, start)
    first = command("--week-of", week_of.isoformat())
    assert "3 créé(s)" in first
    for code in ("CSR", "CDOP", "AUT"):
        assert f"({code}) : fichiers produits" in first
    events = AuditEvent.objects.filter(verb__in=["remittance.documents_made", "remittance.emailed"]).count()
    sent = len(statements_sent())
    assert sent == 2

    second = command("--week-of", week_of.isoformat())
    assert "0 créé(s)" in second and "fichiers produits" not in second and "relevé envoyé" not in second
    assert len(statements_sent()) == sent
    assert Remittance.objects.count() == 3
    assert AuditEvent.objects.filter(verb__in=["remittance.documents_made", "remittance.emailed"]).count() == events


def test_a_remittance_of_an_earlier_week_is_completed_by_a_later_run(reference, users, monkeypatch):
    week_of_1, start_1, _ = weeks_ago(1)
    week_of_2, start_2, _ = weeks_ago(0)
    bank_details(reference.csr, iban=IBAN_CSR, finance_email=FINANCE)
    case = make_case(structure=reference.csr, principal="100.00")
    pay(case, "20.00", start_1, users.agent)
    # A crash between making the remittance and writing its files.
    monkeypatch.setattr(services, "remittances_complete", lambda **kwargs: [])
    remittances_build(week_of=week_of_1, actor=None)
    old = Remittance.objects.get()
    assert not old.statement_pdf and old.documents_at is None
    monkeypatch.undo()

    pay(case, "30.00", start_2, users.agent)
    run = remittances_build(week_of=week_of_2, actor=None)
    assert [c.number for c in run.completed] == sorted(r.number for r in Remittance.objects.all())
    for remittance in Remittance.objects.all():
        assert remittance.status == RemittanceStatus.SENT and remittance.emailed_at is not None
    assert len(statements_sent()) == 2


def test_a_dry_run_writes_no_file_and_sends_nothing(reference, users, monkeypatch):
    week_of_1, start_1, _ = weeks_ago(1)
    week_of_2, start_2, _ = weeks_ago(0)
    bank_details(reference.csr, iban=IBAN_CSR, finance_email=FINANCE)
    case = make_case(structure=reference.csr, principal="100.00")
    pay(case, "20.00", start_1, users.agent)
    monkeypatch.setattr(services, "remittances_complete", lambda **kwargs: [])
    remittances_build(week_of=week_of_1, actor=None)
    monkeypatch.undo()
    pay(case, "30.00", start_2 + timedelta(days=1), users.agent)
    old = Remittance.objects.get()

    out = command("--week-of", week_of_2.isoformat(), "--dry-run")
    assert f"Simulation — À compléter (fichiers ou envoi) : {old.number}." in out
    old.refresh_from_db()
    assert not old.statement_pdf and old.documents_at is None and old.emailed_at is None
    assert Remittance.objects.count() == 1 and statements_sent() == []
    assert _stored_names(old.number) == []
    data = json.loads(command("--week-of", week_of_2.isoformat(), "--dry-run", "--json"))
    assert set(data) == {"week", "remittances", "created"}
    assert [set(row) for row in data["remittances"]] == [{"number", "creditor", "structure", "lines", "total"}]
    assert statements_sent() == []


def test_a_remittance_executed_by_hand_before_its_files_still_gets_its_statement(reference, users, monkeypatch):
    """The transfer was made and seen before the statement could be written: the next run writes and sends
    the statement (C21), and no transfer file any more."""
    from amiable.remittances.execution import remittance_mark_executed

    week_of, start, _end = weeks_ago(0)
    bank_details(reference.csr, iban=IBAN_CSR, finance_email=FINANCE)
    pay(make_case(structure=reference.csr, principal="100.00"), "20.00", start, users.agent)

    def broken(statement):
        raise RuntimeError("moteur PDF indisponible")

    with monkeypatch.context() as patch:
        patch.setattr(documents, "statement_pdf", broken)
        remittances_build(week_of=week_of, actor=None)
    remittance = remitted(reference.csr)
    assert not remittance.statement_pdf and not statements_sent()
    remittance_mark_executed(remittance=remittance, executed_on=today(), actor=users.supervisor)

    remittances_build(week_of=week_of, actor=None)
    remittance.refresh_from_db()
    assert remittance.statement_pdf and remittance.statement_csv and remittance.documents_at
    assert not remittance.transfer_xml
    assert remittance.status == RemittanceStatus.EXECUTED
    assert [m.to for m in statements_sent()] == [[FINANCE]]
    remittances_build(week_of=week_of, actor=None)
    assert len(statements_sent()) == 1
