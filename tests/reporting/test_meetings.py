"""The follow-up meetings (C14): planned at 1 month, 3 months, then every six months from the contract's start
(months' ends clamped), reminded to both sides once a week before with their pack — a PDF/A whose text holds
the hand-counted figures, stored once with its hash, and a workbook (its own, or the quarterly one) — and
their minutes, written by the agency's supervisors, stored with their hash and audited, read by the creditor."""

import hashlib
import io
import re
from datetime import date, timedelta

import openpyxl
import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from pypdf import PdfReader

from amiable.audit.models import AccessLogEntry, AuditEvent
from amiable.core.exceptions import ApplicationError
from amiable.creditors.models import ContractTerms
from amiable.notifications.models import Notification
from amiable.reporting.meetings import meeting_schedule
from amiable.reporting.models import FollowUpMeeting, QuarterlyReport
from amiable.reporting.services_meetings import (
    meeting_minutes_save,
    meeting_pack_build,
    meetings_check,
    meetings_plan,
)
from tests.remittances.helpers import pdf_text, read
from tests.reporting.data import NOW, TODAY, portfolio

START = date(2026, 5, 25)  # the 6-month meeting falls on 25/11/2026, five days after TODAY


def test_the_schedule_is_1_and_3_months_then_every_semester():
    dates = meeting_schedule(start=date(2026, 1, 31), until=date(2027, 8, 1))
    assert dates == [
        (date(2026, 2, 28), "Réunion à 1 mois"),
        (date(2026, 4, 30), "Réunion à 3 mois"),
        (date(2026, 7, 31), "Réunion à 6 mois"),
        (date(2027, 1, 31), "Réunion à 12 mois"),
        (date(2027, 7, 31), "Réunion à 18 mois"),
    ]
    assert meeting_schedule(start=date(2027, 1, 31), until=date(2028, 3, 1))[0][0] == date(2027, 2, 28)
    assert meeting_schedule(start=date(2028, 1, 31), until=date(2028, 3, 1)) == [
        (date(2028, 2, 29), "Réunion à 1 mois")
    ]
    assert meeting_schedule(start=date(2026, 1, 31), until=date(2026, 2, 27)) == []


def _start(reference, start=START, end=None):
    ContractTerms.objects.filter(creditor=reference.cpam).update(contract_start=start, contract_end=end)


def test_planning_is_idempotent_and_stops_at_the_contracts_end(reference):
    _start(reference)
    created = meetings_plan(today=TODAY)
    # Up to six months after 20/11/2026 (20/05/2027): the 12-month meeting (25/05/2027) comes later.
    assert [(m.due_on, m.label) for m in created] == [
        (date(2026, 6, 25), "Réunion à 1 mois"),
        (date(2026, 8, 25), "Réunion à 3 mois"),
        (date(2026, 11, 25), "Réunion à 6 mois"),
    ]
    assert meetings_plan(today=TODAY) == []
    assert FollowUpMeeting.objects.count() == 3
    assert AuditEvent.objects.filter(verb="meeting.planned").count() == 3
    assert [m.due_on for m in meetings_plan(today=date(2026, 11, 25))] == [date(2027, 5, 25)]
    assert not FollowUpMeeting.objects.filter(creditor=reference.other).exists()  # no contract start
    FollowUpMeeting.objects.all().delete()
    _start(reference, end=date(2026, 10, 1))
    assert [m.due_on for m in meetings_plan(today=TODAY)] == [date(2026, 6, 25), date(2026, 8, 25)]


@pytest.fixture
def reminded(reference, users):
    _start(reference)
    with time_machine.travel(NOW, tick=False):
        data = portfolio(reference, users)
        call_command("check_meetings", stdout=open("/dev/null", "w"))  # noqa: SIM115
    return data


def _meeting(reference) -> FollowUpMeeting:
    return FollowUpMeeting.objects.get(creditor=reference.cpam, due_on=date(2026, 11, 25))


def test_both_sides_are_reminded_once_a_week_before(reference, users, reminded):
    meeting = _meeting(reference)
    assert meeting.reminded_at is not None
    notified = set(Notification.objects.filter(kind="meeting_reminder").values_list("recipient_id", flat=True))
    assert users.supervisor.pk in notified and users.creditor_admin.pk in notified and users.collaborator.pk in notified
    assert users.csr_only.pk not in notified  # a pack covers every structure: not for a limited account
    assert users.other_admin.pk not in notified and users.agent.pk not in notified
    count = Notification.objects.count()
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        run = meetings_check()
    assert run.reminded == [] and run.planned == []
    assert Notification.objects.count() == count
    assert AuditEvent.objects.filter(verb="meeting.reminded").count() == 1
    # The past meetings were planned but never reminded; the next one is not yet due.
    assert not FollowUpMeeting.objects.exclude(pk=meeting.pk).filter(reminded_at__isnull=False).exists()


def test_no_reminder_more_than_a_week_ahead(reference):
    _start(reference, start=date(2026, 5, 28))  # 6 months: 28/11/2026, 8 days after TODAY
    with time_machine.travel(NOW, tick=False):
        run = meetings_check()
    assert run.reminded == []
    assert len(run.planned) == 3


def test_the_pack_pdf_holds_the_figures_and_is_stored_once_with_its_hash(reference, reminded):
    meeting = _meeting(reference)
    data = read(meeting.pack_pdf)
    xmp = PdfReader(io.BytesIO(data)).trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert re.search(r"pdfaid:part(=\"|>)3", xmp), xmp  # PDF/A-3b, the archival format
    assert hashlib.sha256(data).hexdigest() == meeting.pack_pdf_sha256
    text = pdf_text(data)
    assert "Réunion à 6 mois" in text and "25/11/2026" in text
    # Since May 2026 (the contract's month): A, B, D received — 380 claimed, 150 recovered (A 100, B 50).
    assert "Dossiers reçus depuis le début du contrat 3" in text
    assert "Montant réclamé sur ces dossiers 380,00 €" in text
    assert "Montant recouvré sur ces dossiers 150,00 €" in text
    assert "Taux de recouvrement (en montant) 39,5 %" in text
    assert "Montant recouvré depuis le début du contrat (tous dossiers) 210,00 €" in text
    assert "Reste dû sur les dossiers en cours 470,00 €" in text  # B 150 + C 240 + D 80
    assert "CSR — " in text and "CDOP — " in text
    assert "Montant recouvré par mois" in text and "Dossiers en cours par ancienneté" in text
    event = AuditEvent.objects.get(verb="meeting.pack_built")
    assert event.after["pdf_sha256"] == meeting.pack_pdf_sha256
    with pytest.raises(ApplicationError, match="déjà produit"):
        meeting_pack_build(meeting=meeting, actor=None)
    meeting.refresh_from_db()
    assert read(meeting.pack_pdf) == data


def test_without_a_quarterly_workbook_the_pack_has_its_own(reference, reminded):
    meeting = _meeting(reference)
    data = read(meeting.pack_xlsx)
    assert hashlib.sha256(data).hexdigest() == meeting.pack_xlsx_sha256
    book = openpyxl.load_workbook(io.BytesIO(data))
    key = {row[0]: row[1] for row in book["Chiffres clés"].iter_rows(values_only=True)}
    assert key["Montant réclamé sur ces dossiers"] == "380,00\u00a0€"
    structures = list(book["Par structure"].iter_rows(values_only=True))
    assert structures[1][:5] == ("CDOP", reference.cdop.name, 1, 80, 0)
    assert structures[2][:5] == ("CSR", reference.csr.name, 2, 300, 150)


def test_a_quarterly_workbook_before_the_meeting_is_the_packs(reference, users):
    _start(reference)
    report = QuarterlyReport(
        creditor=reference.cpam,
        quarter="2026-Q3",
        period_start=date(2026, 7, 1),
        period_end=date(2026, 9, 30),
        built_at=NOW,
        xlsx_sha256="x",
    )
    report.xlsx.save("trimestre.xlsx", ContentFile(b"classeur trimestriel"), save=False)
    report.save()
    with time_machine.travel(NOW, tick=False):
        meetings_check()
    meeting = _meeting(reference)
    assert meeting.pack_pdf and not meeting.pack_xlsx
    assert "statistiques trimestrielles 2026-Q3" in pdf_text(read(meeting.pack_pdf))
    client_user = users.creditor_admin
    from django.test import Client

    client = Client()
    client.force_login(client_user)
    response = client.get(f"/portail/reunions/{meeting.pk}/fichiers/xlsx")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"classeur trimestriel"
    assert response["Cache-Control"] == "private, no-store"


def test_the_minutes_are_stored_with_their_hash_and_audited(reference, users, reminded):
    meeting = _meeting(reference)
    upload = SimpleUploadedFile("cr.pdf", b"%PDF-1.7 compte rendu", content_type="application/pdf")
    with time_machine.travel(NOW + timedelta(days=6), tick=False):
        meeting_minutes_save(
            meeting=meeting,
            held_on=date(2026, 11, 25),
            minutes="Présents : …\nTaux de 39,5 % commenté.",
            upload=upload,
            actor=users.supervisor,
        )
    meeting.refresh_from_db()
    assert meeting.held_on == date(2026, 11, 25) and meeting.minutes_by == users.supervisor
    assert meeting.minutes_file_sha256 == hashlib.sha256(b"%PDF-1.7 compte rendu").hexdigest()
    assert read(meeting.minutes_file) == b"%PDF-1.7 compte rendu"
    event = AuditEvent.objects.get(verb="meeting.minutes_saved")
    assert event.after["file_sha256"] == meeting.minutes_file_sha256
    assert event.actor_id == users.supervisor.pk


@pytest.mark.parametrize("who", ["agent", "creditor_admin"])
def test_only_agency_supervisors_write_the_minutes(reference, users, reminded, who):
    meeting = _meeting(reference)
    with pytest.raises(ApplicationError, match="Seuls les superviseurs"):
        meeting_minutes_save(meeting=meeting, held_on=TODAY, minutes="Intrusion", actor=getattr(users, who))
    meeting.refresh_from_db()
    assert meeting.minutes == "" and not AuditEvent.objects.filter(verb="meeting.minutes_saved").exists()


def test_minutes_need_a_past_date_and_some_content(reference, users, reminded):
    meeting = _meeting(reference)
    with time_machine.travel(NOW, tick=False):
        with pytest.raises(ApplicationError, match="dans le futur"):
            meeting_minutes_save(
                meeting=meeting, held_on=TODAY + timedelta(days=1), minutes="x", actor=users.supervisor
            )
        with pytest.raises(ApplicationError, match="Écrivez le compte rendu"):
            meeting_minutes_save(meeting=meeting, held_on=TODAY, minutes="  ", actor=users.supervisor)
        bad = SimpleUploadedFile("cr.exe", b"MZ")
        with pytest.raises(ApplicationError, match="PDF, Word"):
            meeting_minutes_save(meeting=meeting, held_on=TODAY, minutes="x", upload=bad, actor=users.supervisor)
    assert not AuditEvent.objects.filter(verb="meeting.minutes_saved").exists()


def test_the_pages_agency_writes_creditor_reads_and_downloads_are_logged(client, reference, users, reminded):
    meeting = _meeting(reference)
    client.force_login(users.supervisor)
    with time_machine.travel(NOW + timedelta(days=6), tick=False):
        assert "Réunion à 6 mois" in client.get("/reunions/").content.decode()
        page = client.get(f"/reunions/{meeting.pk}/").content.decode()
        assert "Déposer le compte rendu" in page
        response = client.post(
            f"/reunions/{meeting.pk}/compte-rendu/",
            {"held_on": "2026-11-25", "minutes": "Compte rendu de la réunion à six mois."},
        )
    assert response.status_code == 302
    client.force_login(users.creditor_admin)
    assert "Réunion à 6 mois" in client.get("/portail/reunions/").content.decode()
    page = client.get(f"/portail/reunions/{meeting.pk}/").content.decode()
    assert "Compte rendu de la réunion à six mois." in page
    assert "Déposer le compte rendu" not in page and "<form" not in page.split("compte-rendu-titre")[1]
    response = client.get(f"/portail/reunions/{meeting.pk}/fichiers/pdf")
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    assert b"".join(response.streaming_content) == read(meeting.pack_pdf)
    assert AccessLogEntry.objects.filter(user=users.creditor_admin, label__startswith="Dossier de séance").exists()
    # Creditor staff are refused the agency's pages; a limited account finds no meeting.
    assert client.get(f"/reunions/{meeting.pk}/").status_code == 403
    client.force_login(users.csr_only)
    assert client.get(f"/portail/reunions/{meeting.pk}/").status_code == 404
    assert "réservées aux comptes" in client.get("/portail/reunions/").content.decode()
    client.force_login(users.other_admin)
    assert client.get(f"/portail/reunions/{meeting.pk}/fichiers/pdf").status_code == 404


def test_the_command_refuses_a_bad_date(db):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="Date invalide"):
        call_command("check_meetings", "--date", "25/11/2026")
