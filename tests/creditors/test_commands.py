"""Tests for the `seed_reference` and `seed_demo` management commands: what they create, and that
running them again creates, changes and audits nothing."""

import hashlib
import io
import json
import shutil
from collections import Counter
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db.models import F, Sum
from django.test import RequestFactory
from django.urls import reverse

from amiable.accounts.models import Role, User
from amiable.audit.models import AuditEvent
from amiable.banking.services import statement_import
from amiable.cases.models import Case, CaseStatus, ContactPoint, Debtor
from amiable.creditors import reference_data
from amiable.creditors.models import Agency, ContractTerms, Creditor, Structure
from amiable.creditors.services import agency_save, terms_save
from amiable.intake.demo import FEMALE_FIRST, demo_batch
from amiable.intake.models import Batch, CreditorKey
from amiable.ledger.selectors import ledger_balance
from amiable.ops.management.commands.seed_demo import DEMO_USERS, FIRST_NAMES_F, STATUS_PLAN
from amiable.payments.models import Payment, Plan, Receipt
from tests.banking.records import DATA
from tests.intake.conftest import kill_gpg_agent, new_gnupg_home

AGENCY_FPR = "4C9FDB71B4E3307EC8D7122CE060487CA0CF52DF"
CPAM_FPR = "F408D07D61E942E87E3D48505A7FC6701CC9A554"


@pytest.fixture(autouse=True)
def demo_gnupg_home(settings):
    """seed_demo imports the demo keys: into an empty throw-away GnuPG home, never the working copy's var/."""
    home = new_gnupg_home()
    settings.AMIABLE_GNUPG_HOME = home
    yield home
    kill_gpg_agent(home)
    shutil.rmtree(home, ignore_errors=True)


def _run(command: str, *args: str) -> str:
    out = io.StringIO()
    call_command(command, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Agency, Creditor, Structure, ContractTerms, User, Debtor, ContactPoint, Case, AuditEvent)
    }


# --- seed_reference -----------------------------------------------------------


def test_seed_reference_creates_the_agency_the_cpam_its_structures_and_terms(db):
    output = _run("seed_reference")
    assert "Données de référence à jour" in output

    agency = Agency.objects.get()
    assert agency.pk == 1
    for field, value in reference_data.AGENCY.items():
        assert getattr(agency, field) == value, field

    cpam = Creditor.objects.get()
    assert cpam.slug == "cpam-paris"
    assert cpam.name == "Caisse Primaire d'Assurance Maladie de Paris"
    for field, value in reference_data.CPAM.items():
        assert getattr(cpam, field) == value, field

    structures = {s.code: s for s in Structure.objects.filter(creditor=cpam)}
    assert set(structures) == {"CSR", "CDOP", "CESA"}
    assert Structure.objects.count() == 3
    for expected in reference_data.CPAM_STRUCTURES:
        structure = structures[expected["code"]]
        for field, value in expected.items():
            assert getattr(structure, field) == value, (expected["code"], field)
    assert structures["CSR"].name == "Centre de Santé Réaumur"
    assert structures["CSR"].address_line1 == "106, rue Réaumur"
    assert structures["CDOP"].name == "Centre Dentaire d'Orthodontie de Paris"
    assert structures["CDOP"].address_line1 == "96-98, rue du Faubourg du Temple"
    assert structures["CESA"].name == "Centre d'Examen de Santé Amelot"
    assert structures["CESA"].address_line1 == "96-98, rue Amelot"

    terms = ContractTerms.objects.get(creditor=cpam)
    for field, value in reference_data.CPAM_TERMS.items():
        assert getattr(terms, field) == value, field
    # The CPAM's batches must come encrypted for the agency and signed (C5).
    assert terms.require_encryption and terms.require_signature
    assert terms.mandate_reference == ("l'article 1.2 du cahier des clauses techniques particulières (CCTP) du marché")
    assert terms.max_plan_months == 6
    assert terms.certificate_months == 12
    assert terms.remittance_weekday == 0
    assert terms.get_remittance_weekday_display() == "lundi"
    assert terms.statement_hours == 48
    assert terms.meeting_days == 3
    assert terms.documents_return_months == 2
    assert terms.contact_hours == "10:00-13:00,14:00-20:00"
    assert terms.max_calls_per_30_days == 4

    events = AuditEvent.objects.order_by("pk")
    assert sorted(e.verb for e in events) == sorted(
        ["agency.created", "creditor.created", "structure.created", "structure.created", "structure.created"]
        + ["terms.created"]
    )
    assert {e.actor_label for e in events} == {"Système"}
    assert all(e.creditor_pk == cpam.pk for e in events if e.verb != "agency.created")


def test_seed_reference_twice_creates_and_audits_nothing_more(db):
    _run("seed_reference")
    before = _counts()
    _run("seed_reference")
    assert _counts() == before


def test_seed_reference_keeps_what_an_admin_edited(db):
    _run("seed_reference")
    agency_save(actor=None, name="Recouvrement Amiable de l'Est")
    cpam = Creditor.objects.get(slug="cpam-paris")
    terms_save(creditor=cpam, actor=None, max_plan_months=4, contact_hours="09:00-12:00")
    Structure.objects.filter(creditor=cpam, code="CESA").update(name="Centre renommé")
    before = _counts()

    _run("seed_reference")

    assert Agency.objects.get().name == "Recouvrement Amiable de l'Est"
    terms = ContractTerms.objects.get(creditor=cpam)
    assert (terms.max_plan_months, terms.contact_hours) == (4, "09:00-12:00")
    assert Structure.objects.get(creditor=cpam, code="CESA").name == "Centre renommé"
    assert _counts() == before


def test_seed_reference_recreates_a_missing_structure_only(db):
    _run("seed_reference")
    cpam = Creditor.objects.get(slug="cpam-paris")
    Structure.objects.filter(creditor=cpam, code="CDOP").delete()
    events = AuditEvent.objects.count()
    _run("seed_reference")
    assert sorted(Structure.objects.filter(creditor=cpam).values_list("code", flat=True)) == ["CDOP", "CESA", "CSR"]
    assert AuditEvent.objects.count() == events + 1
    assert AuditEvent.objects.order_by("-pk").first().verb == "structure.created"


# --- seed_demo ----------------------------------------------------------------


def test_seed_demo_builds_the_demo_and_a_second_run_adds_nothing(db):
    output = _run("seed_demo")
    assert "175 dossier(s) créé(s), 215 au total" in output

    # 175 cases in every status, and 40 more taken in charge by a demo batch with its acknowledgement.
    assert Case.objects.count() == 215
    batch = Batch.objects.get()
    assert (batch.creditor.slug, batch.accepted_count, batch.rejected_count) == ("cpam-paris", 40, 0)
    assert batch.acknowledgement_pdf and batch.acknowledgement_csv and batch.acknowledgement_xlsx
    scenario_cases = Case.objects.exclude(batch_line__batch=batch)
    # Two cases in progress were given a payment plan: one granted by the agency (4 months), one beyond the
    # contract's 6 months accepted by the CPAM's approver (10 months).
    expected = {s.value: n for s, n in STATUS_PLAN}
    expected[CaseStatus.IN_PROGRESS] -= 2
    expected[CaseStatus.PAYMENT_PLAN] = 2
    assert Counter(scenario_cases.values_list("status", flat=True)) == expected
    plans = Plan.objects.order_by("number")
    assert [(p.status, p.months, p.approval is not None) for p in plans] == [("active", 4, False), ("active", 10, True)]
    assert all(p.pdf for p in plans)
    assert set(Case.objects.values_list("status", flat=True)) == set(CaseStatus.values)
    assert set(User.objects.values_list("role", flat=True)) == set(Role.values)
    assert User.objects.count() == len(DEMO_USERS)

    second = Creditor.objects.get(slug="csm-montreuil")
    assert Creditor.objects.count() == 2
    assert Structure.objects.filter(creditor=second).exists()
    assert ContractTerms.objects.filter(creditor=second).exists()
    second_users = User.objects.filter(creditor=second)
    assert second_users.exists()
    assert all(u.is_creditor_user for u in second_users)
    assert Case.objects.filter(creditor=second).exists()
    # Cases of a creditor always sit in one of its own structures.
    assert not Case.objects.exclude(structure__creditor=F("creditor")).exists()
    # Every case went through the services, so every one has its creation on the trail.
    assert AuditEvent.objects.filter(verb="case.created").count() == 215

    # The money of the demo: paid cases paid by a transfer, part payments on cases in progress, their receipts,
    # and a statement of the client-funds account to import that pays two demo cases.
    paid = Case.objects.filter(status=CaseStatus.PAID)
    assert paid.exists() and not paid.filter(balance__gt=0).exists()
    assert all(case.paid_amount == case.claimed_amount for case in paid)
    in_progress_paid = Payment.objects.filter(case__status=CaseStatus.IN_PROGRESS)
    assert in_progress_paid.count() >= 10
    assert Receipt.objects.filter(kind="receipt").count() == Payment.objects.count()
    assert ledger_balance(account="bank") > 0

    # Money out: weekly remittances per structure with their files, monthly invoices in Factur-X; some of each
    # already settled, the latest still waiting, so that every state shows in the pages.
    from amiable.invoicing.models import Invoice
    from amiable.remittances.models import Remittance

    remittances = Remittance.objects.annotate(lines_total=Sum("lines__amount"))
    assert remittances.count() >= 4
    assert all(
        r.total == r.lines_total and r.statement_pdf and r.statement_xlsx and r.transfer_xml for r in remittances
    )
    assert {"executed", "sent"} <= set(remittances.values_list("status", flat=True))
    invoices = Invoice.objects.all()
    assert invoices.count() >= 3 and all(i.pdf and i.emailed_at for i in invoices)
    assert {"paid", "sent"} <= set(invoices.values_list("status", flat=True))
    money_out = (Remittance.objects.count(), Invoice.objects.count())

    before = _counts()
    output = _run("seed_demo")
    assert "0 dossier(s) créé(s), 215 au total" in output
    assert _counts() == before
    assert (Remittance.objects.count(), Invoice.objects.count()) == money_out
    # The statement of the demo pays two demo cases.
    result = statement_import(content=(DATA / "camt053-001.08-demo.xml").read_bytes(), filename="demo.xml", actor=None)
    assert (result.status, result.matched, result.to_review, result.matched_total) == (
        "imported",
        2,
        1,
        Decimal("80.00"),
    )


def test_seed_demo_batch_comes_encrypted_and_signed_as_the_cpam_contract_asks(db):
    err = io.StringIO()
    call_command("seed_demo", stdout=io.StringIO(), stderr=err)

    cpam = Creditor.objects.get(slug="cpam-paris")
    terms = ContractTerms.objects.get(creditor=cpam)
    assert terms.require_encryption and terms.require_signature  # the real reference data, policy on (C5)
    batch = Batch.objects.get()
    assert batch.filename == "lot-demo-cpam.csv.gpg"
    assert (batch.source, batch.received_by.email) == ("creditor_upload", "admin@cpam-paris.example")
    assert batch.was_encrypted
    assert (batch.signature_status, batch.signer_fingerprint) == ("signed", CPAM_FPR)
    assert batch.signer.startswith("CPAM de Paris TEST sender key")
    assert batch.sha256 == hashlib.sha256(demo_batch()).hexdigest()  # the committed file is demo_batch()
    assert batch.accepted_count == 40
    assert f"Lot de démonstration {batch.number} (chiffré et signé) : 40 créances prises en charge." in err.getvalue()
    # The keys that made it possible: the agency's, named to creditors, and the CPAM's, registered.
    assert Agency.objects.get().key_fingerprint == AGENCY_FPR
    assert list(CreditorKey.objects.values_list("creditor__slug", "fingerprint")) == [("cpam-paris", CPAM_FPR)]
    # Believable names: the civility goes with the first name, in the batch as in the cases made by the seed.
    female = FEMALE_FIRST | set(FIRST_NAMES_F)
    pairs = set(Debtor.objects.values_list("civility", "first_name"))
    assert len(pairs) > 10
    assert [(civility, first) for civility, first in pairs if (civility == "MME") != (first in female)] == []


def test_seed_demo_without_gpg_loads_everything_but_the_batch(db, settings):
    settings.AMIABLE_GPG_BINARY = "/nonexistent/gpg"
    err = io.StringIO()

    call_command("seed_demo", stdout=io.StringIO(), stderr=err)

    assert not Batch.objects.exists()
    assert Case.objects.count() == 175
    assert "Lot de démonstration non importé : Le programme gpg est introuvable sur le serveur" in err.getvalue()


def _check_accounts(stdout: str) -> None:
    accounts = json.loads(stdout)  # ONLY JSON on stdout: anything else makes this fail
    assert isinstance(accounts, list)
    assert len(accounts) == len(DEMO_USERS) == User.objects.count()
    assert len({a["email"] for a in accounts}) == len(accounts)
    request_factory = RequestFactory()
    for account in accounts:
        assert set(account) == {"email", "password", "role", "creditor"}
        assert account["password"] == settings.AMIABLE_DEMO_PASSWORD
        user = User.objects.get(email=account["email"])
        assert user.role == account["role"]
        assert (user.creditor.slug if user.creditor else None) == account["creditor"]
        authenticated = authenticate(
            request=request_factory.post("/connexion/"), username=account["email"], password=account["password"]
        )
        assert authenticated == user, account["email"]
    assert {a["role"] for a in accounts} == set(Role.values)


def test_seed_demo_json_on_an_empty_database_prints_only_the_accounts(db):
    _check_accounts(_run("seed_demo", "--json"))
    assert Case.objects.count() == 215


def test_seed_demo_json_after_a_first_run(db):
    _run("seed_demo")
    before = _counts()
    stdout = _run("seed_demo", "--json")
    after_json = _counts()
    assert after_json == before
    _check_accounts(stdout)


def test_seed_demo_users_have_their_scope(db):
    _run("seed_demo")
    for email, _first, _last, role, slug, codes in DEMO_USERS:
        user = User.objects.get(email=email)
        assert user.role == role.value, email
        assert (user.creditor.slug if user.creditor else None) == slug, email
        assert sorted(user.structures.values_list("code", flat=True)) == sorted(codes), email
        assert user.is_active, email
        assert user.is_superuser == user.is_staff == (role == Role.AGENCY_ADMIN), email
    csr_user = User.objects.get(email="csr@cpam-paris.example")
    assert set(Case.objects.visible_to(csr_user).values_list("structure__code", flat=True)) == {"CSR"}


def test_seed_demo_shows_first_letters_as_the_debtor_reads_them(db):
    from pypdf import PdfReader

    from amiable.letters.models import Letter

    _run("seed_demo")
    _run("seed_demo")

    letters = list(Letter.objects.filter(kind="first").select_related("case__debtor", "case__assigned_agent"))
    assert len(letters) == 3
    assert {letter.case.assigned_agent.email for letter in letters} == {"agent@amiable.example"}
    with letters[0].pdf.open("rb") as handle:
        text = " ".join(page.extract_text() for page in PdfReader(handle).pages)
    text = " ".join(text.split())
    assert "La Caisse Primaire d'Assurance Maladie de Paris nous a confié le recouvrement amiable" in text
    assert "Fondement de la créance : Participation restant à votre charge sur des soins du" in text
    assert letters[0].case.basis not in text  # the creditor's own label of the claim never reaches the debtor
    assert "Chargé(e) de recouvrement amiable" in text


def test_seed_demo_shows_the_end_of_cases_and_what_the_contract_reads(db, client):
    """The creditor downloads a certificate of irrecoverability and the last quarter's workbook, sees its
    clocks, its dashboard and a follow-up meeting held with its minutes."""
    from openpyxl import load_workbook

    from amiable.closure.models import Certificate, DocumentReturn
    from amiable.reporting.models import FollowUpMeeting, QuarterlyReport

    _run("seed_demo")
    cpam = Creditor.objects.get(slug="cpam-paris")
    certificates = Certificate.objects.filter(case__creditor=cpam)
    assert certificates.count() == Case.objects.filter(creditor=cpam, status=CaseStatus.IRRECOVERABLE).count() > 0
    assert (
        DocumentReturn.objects.filter(returned_on__isnull=False).count()
        == Case.objects.filter(status=CaseStatus.CLOSED).count()
    )
    client.force_login(User.objects.get(email="admin@cpam-paris.example"))

    page = client.get(reverse("portal_certificates"))
    certificate = certificates.order_by("number").first()
    assert certificate.number in page.content.decode()
    pdf = client.get(reverse("portal_certificate_pdf", args=[certificate.pk]))
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")

    report = QuarterlyReport.objects.get(creditor=cpam)
    assert report.quarter in client.get(reverse("portal_reports")).content.decode()
    xlsx = client.get(reverse("portal_report_file", args=[report.pk]))
    workbook = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content)), read_only=True)
    assert workbook.sheetnames[0] == "Lisez-moi"

    clocks = client.get(reverse("portal_clocks")).content.decode()
    assert "Échéances" in clocks and certificate.case.reference not in clocks  # ended: no longer an open clock
    assert "Chiffres calculés le" in client.get(reverse("home")).content.decode()
    held = FollowUpMeeting.objects.filter(creditor=cpam, held_on__isnull=False).first()
    assert held is not None and held.pack_pdf and held.minutes
    assert held.minutes in client.get(reverse("portal_meeting", args=[held.pk])).content.decode()


def test_seed_demo_fills_the_demo_agents_day_once(db, client):
    """After `make run` each demo agent's « Ma journée » has work of several kinds (tasks the day's scenario
    opened, a broken promise, a question of the creditor with its clock, a message not answered); the work of
    cases nobody holds waits in « Non attribués »; a second run adds nothing."""
    from amiable.casework.selectors import day_queue
    from amiable.scenarios.models import StepRun

    _run("seed_demo")
    for email in ("agent@amiable.example", "agent2@amiable.example"):
        agent = User.objects.get(email=email)
        queue = day_queue(agent=agent)
        counts = {kind: source.count for kind, source in queue.sources.items()}
        assert counts["tache"] and counts["demande"] and counts["promesse"] and counts["message"], (email, counts)
        assert any(item.kind == "tache" and item.what == "Rappel convenu" for item in queue.items), email
        assert any(item.kind == "demande" and item.clock and item.case for item in queue.items), email
        client.force_login(agent)
        html = client.get(reverse("work:day")).content.decode()
        assert "Promesse de " in html and "Question sur la situation du débiteur" in html, email
    unassigned = day_queue(agent=None)
    assert unassigned.count("tache") >= 1
    assert all(item.case.assigned_agent_id is None for item in unassigned.items)
    # The referent sees the CPAM's meeting request, which concerns no case.
    referent = day_queue(agent=User.objects.get(email="referent@amiable.example"))
    assert any(item.kind == "demande" and item.case is None for item in referent.items)

    before = (_counts(), StepRun.objects.count())
    _run("seed_demo")
    assert (_counts(), StepRun.objects.count()) == before
