"""The erasure of a creditor's personal data (L11): refused without a sound, recent export and while a case is
open; afterwards no personal data of that creditor's debtors remains in any table or file, what accounting law
requires stays, and the other creditor's data is untouched."""

import zipfile
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import models

from amiable.accounts.models import User
from amiable.audit.models import AuditEvent, PersonalDataKey
from amiable.audit.personal import ERASED
from amiable.cases.models import Case, ContactPoint, Debtor
from amiable.cases.selectors import case_timeline
from amiable.cases.services import case_create, comment_add, contact_point_add
from amiable.closure import erasure, export
from amiable.closure.models import CreditorErasure, CreditorExport
from amiable.closure.services_handover import creditor_data_erase, creditor_export
from amiable.invoicing.models import Invoice
from amiable.ledger.models import LedgerLine
from amiable.payments.models import Payment
from amiable.remittances.models import Remittance
from tests.closure.conftest import MARKERS, OTHER_MARKER
from tests.closure.scan import scan_files, scan_tables
from tests.factories import make_case, pay_in_full

# --- every model tied to a creditor's cases or debtors is accounted for -------------------------------

ROOTS = {"cases.Case", "cases.Debtor"}
# Foreign keys that do not make a model the creditor's case data: to the staff, to the creditor's settings.
NOT_A_PATH = {"accounts.User", "creditors.Structure", "creditors.Agency"}


def _reaches_a_root(model, depth: int = 0) -> bool:
    """Whether the model holds case data of a creditor: a foreign key to a case, a debtor or a creditor, or
    through one or two hops (an instalment through its plan, a call through its action…), or a creditor/case
    id column (the audit app's plain integers)."""
    names = {f.name for f in model._meta.concrete_fields}
    if names & {"creditor_pk", "case_pk"}:
        return True
    for field in model._meta.concrete_fields:
        if not isinstance(field, models.ForeignKey):
            continue
        target = field.related_model._meta.label
        if target in ROOTS or target == "creditors.Creditor":
            return True
        if target not in NOT_A_PATH and depth < 2 and _reaches_a_root(field.related_model, depth + 1):
            return True
    return False


def _tied_models() -> set[str]:
    return {
        m._meta.label
        for m in apps.get_models()
        if m._meta.app_label not in {"creditors", "accounts"} and _reaches_a_root(m)
    } | {"cases.Debtor", "cases.ContactPoint"}


def test_every_model_tied_to_a_creditors_cases_is_erased_or_kept_and_exported_or_not():
    tied = _tied_models()
    accounted = set(erasure.ERASED) | set(erasure.KEPT)
    assert tied - accounted == set(), "Say what the erasure does to these models (closure.erasure ERASED/KEPT)."
    exported = {t.model for t in export.TABLES} | set(export.NOT_EXPORTED)
    assert {label.lower() for label in tied} - {label.lower() for label in exported} == set(), (
        "Export these models or say why not (closure.export TABLES/NOT_EXPORTED)."
    )
    # The lists name real models only.
    for label in accounted | exported:
        apps.get_model(label)


def test_every_stored_file_field_of_a_tied_model_is_deleted_or_said_kept():
    # Files without a debtor's name: the invoice (case references), the SEPA transfer, the aggregate reports
    # and the meetings' minutes (docs/end-of-contract.md).
    kept = {
        "invoicing.Invoice": {"pdf"},
        "remittances.Remittance": {"transfer_xml"},
        "reporting.QuarterlyReport": {"xlsx"},
        "reporting.FollowUpMeeting": {"pack_pdf", "pack_xlsx", "minutes_file"},
    }
    for label in _tied_models():
        model = apps.get_model(label)
        fields = {f.name for f in model._meta.concrete_fields if isinstance(f, models.FileField)}
        missing = fields - set(erasure.FILES.get(label, ())) - kept.get(label, set())
        assert not missing, f"{label}: {sorted(missing)} neither deleted by the erasure nor said kept"


# --- no personal data left ------------------------------------------------------------------------------


def _state(world):
    return {
        "payments": list(Payment.objects.filter(case=world.case).values_list("amount", "collected_on")),
        "remittances": list(Remittance.objects.filter(creditor=world.case.creditor).values_list("number", "total")),
        "invoices": list(Invoice.objects.filter(creditor=world.case.creditor).values_list("number", "total", "pdf")),
        "ledger": LedgerLine.objects.filter(case=world.case).count(),
        "case": Case.objects.filter(pk=world.case.pk).values_list("reference", "claimed_amount", "paid_amount").get(),
    }


def test_after_the_erasure_no_personal_data_of_the_creditor_remains(
    world, users, traveller, capsys, django_capture_on_commit_callbacks
):
    markers = set(MARKERS.values())
    media = Path(settings.MEDIA_ROOT)
    # The scan sees the markers before: in the tables and in the stored files (letter, receipt, statements).
    before_tables = scan_tables(markers | {OTHER_MARKER})
    assert {m for _t, _c, m in before_tables} >= {"quaxorly", "blimpette", "vrombinou", "frimousquet", OTHER_MARKER}
    before_files = scan_files(media, markers)
    assert {m for _f, m in before_files} >= {"quaxorly"}
    assert any(f.startswith("letters/") for f, _m in before_files)
    assert any(f.startswith("receipts/") for f, _m in before_files)
    assert any(f.startswith("remittances/") for f, _m in before_files)
    # The reopening's and revocation's reasons and the return's note are in their tables.
    assert {m for _t, _c, m in before_tables} >= {"grumpfelade", "nolatrixe"}
    # … and the trail stores them all encrypted only, typed reasons included.
    assert not {t for t, _c, _m in before_tables if t == AuditEvent._meta.db_table}
    lifted = AuditEvent.objects.get(verb="case.suspension_lifted", case_pk=world.case.pk)
    assert lifted.after["reason"] == "Levée plixatrone"
    accounting = _state(world)
    assert accounting["invoices"] and accounting["invoices"][0][2]
    other_timeline = [e.details for e in case_timeline(case=world.other_case, include_internal=True)]

    traveller.shift(timedelta(minutes=5))
    call_command("export_creditor", "--creditor", "cpam-paris")
    made = CreditorExport.objects.get()
    assert not Path(made.path).is_relative_to(media)  # the creditor's copy lives outside the media
    traveller.shift(timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("erase_creditor_data", "--creditor", "cpam-paris", "--confirm", made.reference)
    assert "effacées" in capsys.readouterr().out

    left = scan_tables(markers)
    assert left == set(), f"personal data left in the tables: {sorted(left)}"
    left_files = scan_files(media, markers)
    assert left_files == set(), f"personal data left in the files: {sorted(left_files)}"
    # The export itself still holds them: it is the creditor's copy, outside the media.
    with zipfile.ZipFile(made.path) as archive:
        assert "quaxorly" in archive.read("tables/debiteurs.csv").decode("utf-8-sig").lower()

    # The trail is whole, its personal values unreadable.
    event = AuditEvent.objects.get(verb="comment.added", case_pk=world.case.pk)
    assert event.after["body"] == ERASED and event.after["internal"] is False
    debtor_created = AuditEvent.objects.get(verb="debtor.created", target_id=str(world.case.debtor_id))
    assert debtor_created.after["last_name"] == ERASED
    assert debtor_created.target_label == ERASED
    assert AuditEvent.objects.get(pk=lifted.pk).after == {"reason": ERASED, "status": "in_progress"}
    declared = AuditEvent.objects.filter(verb="closure.recorded", case_pk=world.reopened_case.pk)
    assert {e.after["reason"] for e in declared} == {"untraceable", "insolvency"}  # codes stay clear
    timeline = case_timeline(case=world.case, include_internal=True)
    assert timeline and all("snarfibule" not in e.details.lower() for e in timeline)
    assert not PersonalDataKey.objects.filter(creditor_pk=world.case.creditor_id, destroyed_at__isnull=True).exists()

    # Accounting stays, without names.
    assert _state(world) == accounting
    assert Path(media, accounting["invoices"][0][2]).exists()
    debtor = Debtor.objects.get(pk=world.case.debtor_id)
    assert (debtor.last_name, debtor.first_name, debtor.birth_date) == ("Effacé", "", None)
    assert debtor.search_name == "efface"  # the case search no longer finds the old name
    assert not ContactPoint.objects.filter(debtor=debtor).exists()

    # The erasure is recorded.
    record = CreditorErasure.objects.get()
    assert record.export == made
    assert record.summary["debtors_anonymised"] == 2
    assert record.summary["files_deleted"] >= 5
    erased = AuditEvent.objects.get(verb="creditor.data_erased")
    assert erased.creditor_pk == world.case.creditor_id and erased.after["export"] == made.reference

    # The other creditor is untouched.
    assert scan_tables({OTHER_MARKER}) == before_tables & {(t, c, m) for t, c, m in before_tables if m == OTHER_MARKER}
    assert Debtor.objects.get(pk=world.other_case.debtor_id).last_name == "Autrenomdefamille"
    assert [e.details for e in case_timeline(case=world.other_case, include_internal=True)] == other_timeline
    other_created = AuditEvent.objects.get(verb="debtor.created", target_id=str(world.other_case.debtor_id))
    assert other_created.after["last_name"] == "Autrenomdefamille"


# --- refusals ---------------------------------------------------------------------------------------------


@pytest.fixture
def ended(reference, users, traveller):
    """A CPAM case paid in full (ended), a comment on it, and a verified export made after."""
    case = make_case(structure=reference.csr, last_name="Refusnom")
    comment_add(case=case, author=users.agent, body="Note refusmarque")
    pay_in_full(case, actor=users.agent)
    traveller.shift(timedelta(minutes=1))
    return case


def _erase(reference: str, creditor: str = "cpam-paris"):
    call_command("erase_creditor_data", "--creditor", creditor, "--confirm", reference)


def _nothing_erased(case):
    assert Debtor.objects.get(pk=case.debtor_id).last_name == "Refusnom"
    assert ContactPoint.objects.filter(debtor_id=case.debtor_id).exists()
    assert not CreditorErasure.objects.exists()
    assert PersonalDataKey.objects.filter(creditor_pk=case.creditor_id, destroyed_at__isnull=True).exists()
    assert AuditEvent.objects.get(verb="comment.added", case_pk=case.pk).after["body"] == "Note refusmarque"


def test_refused_without_an_export(ended):
    with pytest.raises(CommandError, match="Aucun export de ce créancier ne porte cette référence"):
        _erase("EXP-cpam-paris-20261013-100000")
    _nothing_erased(ended)


def test_refused_with_the_export_of_another_creditor(ended, reference, users):
    other = creditor_export(creditor=reference.other, actor=users.agency_admin)
    with pytest.raises(CommandError, match="Aucun export de ce créancier"):
        _erase(other.reference)
    _nothing_erased(ended)


def test_refused_with_an_unverified_export(ended, reference, users):
    made = creditor_export(creditor=reference.cpam, actor=users.agency_admin)
    CreditorExport.objects.filter(pk=made.pk).update(verified_at=None)
    with pytest.raises(CommandError, match="n'a pas été vérifié"):
        _erase(made.reference)
    _nothing_erased(ended)


def test_refused_when_the_file_is_gone_or_tampered(ended, reference, users):
    made = creditor_export(creditor=reference.cpam, actor=users.agency_admin)
    path = Path(made.path)
    content = path.read_bytes()
    path.write_bytes(content + b"x")
    with pytest.raises(CommandError, match="a été modifié depuis l'export"):
        _erase(made.reference)
    path.unlink()
    with pytest.raises(CommandError, match="introuvable"):
        _erase(made.reference)
    _nothing_erased(ended)


def test_refused_when_a_member_no_longer_matches_its_checksum(ended, reference, users):
    """A ZIP rewritten with one table changed and its recorded hash updated still fails: SHA256SUMS says so."""
    made = creditor_export(creditor=reference.cpam, actor=users.agency_admin)
    path = Path(made.path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["tables/dossiers.json"] = members["tables/dossiers.json"].replace(b"120.50", b"999.99")
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    CreditorExport.objects.filter(pk=made.pk).update(sha256=export.file_sha256(path))
    with pytest.raises(CommandError, match="altéré : tables/dossiers.json : empreinte SHA-256 différente"):
        _erase(made.reference)
    _nothing_erased(ended)


def test_refused_while_a_case_is_open(ended, reference, users):
    make_case(structure=reference.cdop, last_name="Ouvert")
    made = creditor_export(creditor=reference.cpam, actor=users.agency_admin)
    with pytest.raises(CommandError, match="1 dossier de ce créancier est encore ouvert"):
        _erase(made.reference)
    _nothing_erased(ended)


def test_refused_when_the_data_changed_after_the_export(ended, reference, users, traveller):
    made = creditor_export(creditor=reference.cpam, actor=users.agency_admin)
    traveller.shift(timedelta(minutes=1))
    comment_add(case=ended, author=users.agent, body="Une dernière note")
    with pytest.raises(CommandError, match="ont changé après l'export"):
        _erase(made.reference)
    assert Debtor.objects.get(pk=ended.debtor_id).last_name == "Refusnom"
    assert not CreditorErasure.objects.exists()


def test_a_debtor_shared_with_another_creditor_brings_none_of_its_events(ended, reference, users, traveller):
    """What the other creditor's staff record on the shared debtor, on its own case, is neither in this
    creditor's history nor a change that refuses its erasure."""
    theirs = case_create(
        creditor=reference.other,
        structure=reference.other_structure,
        debtor=ended.debtor,
        reference="PARTAGE-1",
        principal_amount=Decimal("50.00"),
        received_on=date(2026, 11, 2),
        actor=users.agent,
    )
    made = creditor_export(creditor=reference.cpam, actor=users.agency_admin)
    traveller.shift(timedelta(minutes=1))
    contact_point_add(
        debtor=ended.debtor, kind="email", value="partage@example.org", quality="valid", source="Autre",
        actor=users.agent, case=theirs,
    )  # fmt: skip
    assert not export.history(reference.cpam.pk).filter(case_pk=theirs.pk).exists()
    assert erasure.last_change(reference.cpam.pk) <= made.made_at
    _erase(made.reference)
    assert CreditorErasure.objects.get().summary["debtors_shared_kept"] == 1
    assert Debtor.objects.get(pk=ended.debtor_id).last_name == "Refusnom"


def test_an_unknown_creditor_is_refused(db):
    with pytest.raises(CommandError, match="Créancier inconnu"):
        _erase("EXP-x", creditor="inconnu")


def test_a_failure_after_the_files_are_listed_leaves_them_and_the_data(ended, reference, users):
    """The files are deleted once the erasure is committed: an erasure that fails on its last write (its
    record, by an actor that does not exist) leaves every file and every row."""
    made = creditor_export(creditor=reference.cpam, actor=users.agency_admin)
    files = erasure.files_to_delete(reference.cpam.pk)
    assert files and all(default_storage.exists(name) for name in files)
    ghost = User(email="fantome@agence.example")  # never saved: recording the erasure fails
    with pytest.raises(ValueError):
        creditor_data_erase(creditor=reference.cpam, export_reference=made.reference, actor=ghost)
    assert all(default_storage.exists(name) for name in files)
    _nothing_erased(ended)


def test_the_erasure_of_a_sound_export_runs_and_reports(ended, reference, users):
    made = creditor_export(creditor=reference.cpam, actor=users.agency_admin)
    _erase(made.reference)
    assert Debtor.objects.get(pk=ended.debtor_id).last_name == "Effacé"
    record = CreditorErasure.objects.get()
    assert record.summary["comments"] == 1
    assert Payment.objects.get(case=ended).amount == Decimal("120.50")


def test_the_erasure_blanks_the_creditors_meeting_requests_too(ended, reference, users, traveller):
    """A meeting request is on no case, yet its text may name a debtor: it is erased with the rest."""
    from amiable.creditor_requests.models import CreditorRequest
    from amiable.creditor_requests.services import request_create

    asked = request_create(kind="meeting", body="Parler du dossier de Mme Zorblatine", actor=users.creditor_admin)
    traveller.shift(timedelta(minutes=1))
    made = creditor_export(creditor=reference.cpam, actor=users.agency_admin)

    _erase(made.reference)

    asked.refresh_from_db()
    assert "Zorblatine" not in asked.body and asked.answer == ""
    # Its copy in the audit trail was sealed with the creditor's key, now destroyed.
    created = AuditEvent.objects.get(verb="request.created", target_id=str(asked.pk))
    assert "Zorblatine" not in str(created.after) and ERASED in str(created.after)
    assert not CreditorRequest.objects.filter(body__icontains="zorblatine").exists()
