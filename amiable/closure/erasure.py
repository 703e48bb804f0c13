"""What the erasure of a creditor's personal data checks, removes and keeps (L11, C26); the service that runs
it is `services_handover.creditor_data_erase`.

Refused unless the creditor's export exists, was verified, its file is still there and unchanged, no case is
open and nothing changed in the creditor's data since the export. Then, in one transaction:

- the debtors who have no case with another creditor are anonymised, their contact points deleted;
- the free texts of the cases (comments, call notes, events' details, messages, tasks' reasons, decisions,
  requests, closures' evidence, reopening and revocation reasons), the address blocks and e-mail addresses
  of the documents, the payments' references, the batches' rejected lines, the bank entries' labels, the
  notifications' texts are blanked; the promises to pay are deleted;
- the stored files that name debtors are deleted (letters, receipts, plans, statements, certificates,
  evidence, acknowledgements, remittance statements, e-mail attachments);
- the audit trail's keys of the creditor and of those debtors are destroyed (`audit.personal`).

What accounting law requires stays, without names: cases (reference, amounts, dates, status), payments,
reversals, refunds and their allocations, remittances and their lines, invoices (their PDFs carry the case
references only), ledger entries, the SEPA transfer files.

`tests/closure/test_erasure.py` walks the model registry and checks that every model tied to a creditor's
cases or debtors is named in `ERASED` or `KEPT`."""

import os
from collections.abc import Iterable

from django.apps import apps
from django.core.files.storage import default_storage
from django.db import models
from django.db.models import Max, Q

from amiable.closure.export import check_zip, file_sha256, history
from amiable.letters.print_batch import print_files_of_days

ERASED_TEXT = "[effacé]"
ANONYMOUS = "Effacé"

# Verbs of the history that are not a change to the creditor's data (reads, logins, the export itself), and
# targets that are the creditor's settings and staff, not its cases.
NOT_CHANGES = ("auth.", "creditor.export", "creditor.data_erased", "access_log.")
NOT_CASE_DATA = ("creditors.", "accounts.", "letters.lettertemplate", "scenarios.scenario", "intake.creditorkey")

# model label -> what the erasure does to it.
ERASED = {
    "cases.Debtor": "anonymised (names, civility, birth date) unless the debtor has a case with another creditor",
    "cases.ContactPoint": "deleted (same debtors)",
    "cases.Comment": "text replaced by « [effacé] »",
    "cases.CaseEvent": "details blanked",
    "cases.Task": "reason blanked",
    "cases.Action": "summary replaced by « [effacé] »",
    "cases.Case": "claim's basis blanked; reference, amounts, dates and status kept",
    "contact.CallRecord": "number and notes blanked",
    "contact.OutboxMessage": "recipient, subject, texts, error and attachment blanked",
    "contact.PromiseToPay": "deleted (the payments that kept one lose the link)",
    "letters.Letter": "PDF deleted, address block emptied",
    "payments.Receipt": "PDF deleted, address block and e-mail emptied",
    "payments.Plan": "PDF deleted, address block and e-mail emptied",
    "payments.Statement": "PDF deleted",
    "payments.Payment": "bank or cheque reference and cash reason blanked; amount and dates kept",
    "payments.Refund": "reference blanked; amount and date kept",
    "approvals.ApprovalRequest": "proposal and decision comment replaced by « [effacé] »",
    "creditor_requests.CreditorRequest": (
        "question and answer of the requests (on a case or not) replaced by « [effacé] »"
    ),
    "payments.PaymentReversal": "typed reason replaced by « [effacé] »; date and amount kept (accounting)",
    "closure.CaseClosure": "evidence and reopening reason blanked, the evidence file deleted; reason code kept",
    "closure.Certificate": "PDF deleted, revocation reason blanked; amounts and reason code kept",
    "closure.DocumentReturn": "list of documents and note emptied",
    "intake.Batch": "rejected lines emptied, acknowledgement files (PDF, CSV, XLSX) deleted",
    "intake.ImportJob": "staged content and outcome emptied",
    "banking.BankEntry": (
        "label, counterparty and review note of the entries matched to the creditor's payments blanked"
    ),
    "remittances.Remittance": "statement files (PDF, XLSX, CSV: they list the debtors) deleted",
    "notifications.Notification": "text of the notifications about the creditor's cases blanked",
    "audit.AuditEvent": "untouched (append-only); its personal values unreadable once the keys are destroyed",
    "audit.PersonalDataKey": "the creditor's key and its debtors' keys destroyed",
}
KEPT = {
    "payments.Allocation": "amounts per component (accounting)",
    "payments.Instalment": "dates and amounts",
    "remittances.RemittanceLine": "amounts (accounting)",
    "invoicing.Invoice": "invoice and its PDF: they show case references and amounts, no debtor name",
    "invoicing.InvoiceLine": "amounts per case (accounting)",
    "invoicing.InvoicedItem": "amounts (accounting)",
    "ledger.LedgerEntry": "append-only journal; its memo names the case reference, never the debtor",
    "ledger.LedgerLine": "amounts (accounting)",
    "intake.BatchCase": "line numbers and flag codes",
    "scenarios.StepRun": "step and outcome codes",
    "cases.CaseReadMarker": "when staff opened a case: no debtor data",
    "creditor_requests.MeetingSlot": "dates",
    "audit.AccessLogEntry": "the staff's reads, labelled by case reference or document number",
    "reporting.QuarterlyReport": "aggregate figures per structure",
    "reporting.FollowUpMeeting": "the meetings' packs (aggregate figures) and minutes (written to name no debtor)",
    "reporting.ClockNotice": "deadlines of the agency",
    "reporting.StatsRollup": "aggregates",
    "closure.CreditorExport": "the record of the export (the ZIP is the creditor's copy, outside the media)",
    "closure.CreditorErasure": "the record of the erasure",
    "intake.ColumnMapping": "the creditor's settings: its column headers",
    "intake.CreditorKey": "the creditor's settings: its public signing keys",
    "letters.LetterTemplate": "the creditor's settings: the wording of its letters",
    "scenarios.Scenario": "the creditor's settings: its recovery scenario",
    "scenarios.ScenarioStep": "the creditor's settings: the scenario's steps",
    "banking.BankStatement": (
        "the bank's statement files of the agency's client-funds account, shared by every creditor: accounting "
        "records kept for the legal period; they may show a payer's name as the bank wrote it"
    ),
}

# Stored files removed, per model: the FileFields named.
FILES = {
    "letters.Letter": ("pdf",),
    "payments.Receipt": ("pdf",),
    "payments.Plan": ("pdf",),
    "payments.Statement": ("pdf",),
    "closure.Certificate": ("pdf",),
    "closure.CaseClosure": ("evidence_file",),
    "contact.OutboxMessage": ("attachment",),
    "intake.Batch": ("acknowledgement_pdf", "acknowledgement_csv", "acknowledgement_xlsx"),
    "remittances.Remittance": ("statement_pdf", "statement_xlsx", "statement_csv"),
}
# How each of those models reaches the creditor.
FILE_SCOPES = {
    "letters.Letter": "case__creditor_id",
    "payments.Receipt": "case__creditor_id",
    "payments.Plan": "case__creditor_id",
    "payments.Statement": "case__creditor_id",
    "closure.Certificate": "case__creditor_id",
    "closure.CaseClosure": "case__creditor_id",
    "contact.OutboxMessage": "case__creditor_id",
    "intake.Batch": "creditor_id",
    "remittances.Remittance": "creditor_id",
}


def model(label: str) -> type[models.Model]:
    return apps.get_model(label)


def last_change(creditor_pk: int):
    """When the creditor's data last changed: the latest event of its history that is a change."""
    qs = history(creditor_pk)
    exclude = Q()
    for prefix in NOT_CHANGES:
        exclude |= Q(verb__startswith=prefix)
    for prefix in NOT_CASE_DATA:
        exclude |= Q(target_type__startswith=prefix)
    return qs.exclude(exclude).order_by().aggregate(last=Max("at"))["last"]


def refusal(*, creditor, export) -> str | None:
    """Why the erasure may not run now (in French), or None."""
    if export is None or export.creditor_id != creditor.pk:
        return "Aucun export de ce créancier ne porte cette référence : faites d'abord l'export (export_creditor)."
    if export.verified_at is None:
        return f"L'export {export.reference} n'a pas été vérifié : refaites l'export."
    if not os.path.isfile(export.path):
        return f"Le fichier de l'export {export.reference} est introuvable ({export.path})."
    if file_sha256(export.path) != export.sha256:
        return f"Le fichier de l'export {export.reference} a été modifié depuis l'export (empreinte différente)."
    problems = check_zip(export.path)
    if problems:
        return f"L'export {export.reference} est altéré : {problems[0]}."
    open_count = model("cases.Case").objects.open().filter(creditor=creditor).count()
    if open_count:
        return (
            f"{open_count} dossier{'s' if open_count > 1 else ''} de ce créancier "
            f"{'sont' if open_count > 1 else 'est'} encore ouvert{'s' if open_count > 1 else ''} : "
            "clôturez-les avant l'effacement."
        )
    changed = last_change(creditor.pk)
    if changed is not None and changed > export.made_at:
        return (
            f"Les données du créancier ont changé après l'export {export.reference} "
            f"(le {changed:%d/%m/%Y à %H:%M}) : refaites un export."
        )
    return None


def debtors_of(creditor_pk: int) -> tuple[list[int], list[int]]:
    """The creditor's debtors: those to anonymise (no case with another creditor) and those shared."""
    Case = model("cases.Case")
    mine = Case.objects.filter(creditor_id=creditor_pk).values("debtor_id")
    shared = set(
        Case.objects.filter(debtor_id__in=mine).exclude(creditor_id=creditor_pk).values_list("debtor_id", flat=True)
    )
    own = sorted(set(Case.objects.filter(creditor_id=creditor_pk).values_list("debtor_id", flat=True)) - shared)
    return own, sorted(shared)


def chunks(values: list, size: int = 500) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def files_to_delete(creditor_pk: int) -> list[str]:
    """Every stored file that names the creditor's debtors, once each."""
    names: set[str] = set()
    for label, fields in FILES.items():
        qs = model(label)._base_manager.filter(**{FILE_SCOPES[label]: creditor_pk}).values_list(*fields)
        for row in qs.iterator(chunk_size=2000):
            names.update(name for name in row if name)
    # The print runs of the days its letters went to the post: they hold those debtors' names and addresses
    # (with other creditors' ones of the same day, already posted; nothing else refers to these files).
    printed = (
        model("letters.Letter")
        ._base_manager.filter(case__creditor_id=creditor_pk, printed_on__isnull=False)
        .values_list("printed_on", flat=True)
        .distinct()
    )
    names.update(print_files_of_days(set(printed)))
    return sorted(names)


def stored(names: list[str]) -> list[str]:
    """The names of files still in the storage."""
    return [name for name in names if default_storage.exists(name)]


def delete_files(names: list[str]) -> int:
    deleted = 0
    for name in names:
        if default_storage.exists(name):
            default_storage.delete(name)
            deleted += 1
    return deleted


def audit_events_count(creditor_pk: int) -> int:
    return history(creditor_pk).count()
