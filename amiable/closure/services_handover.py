"""End of contract (C26, L11): the export of a creditor's data, its verification, and the erasure of the
creditor's personal data once a verified export exists. The machinery is in `closure.export` and
`closure.erasure`; what is erased and kept is listed there and in docs/end-of-contract.md."""

import os
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from amiable.audit.personal import keys_destroy
from amiable.audit.services import audit_record
from amiable.cases.search import debtor_search_name
from amiable.closure import erasure
from amiable.closure.erasure import ANONYMOUS, ERASED_TEXT, chunks, debtors_of, model
from amiable.closure.export import check_zip, file_sha256, write_export
from amiable.closure.models import CreditorErasure, CreditorExport
from amiable.core.exceptions import ApplicationError


def _reference(creditor, at: datetime) -> str:
    base = f"EXP-{creditor.slug[:19]}-{timezone.localtime(at):%Y%m%d-%H%M%S}"
    reference, n = base, 1
    while CreditorExport.objects.filter(reference=reference).exists():
        n += 1
        reference = f"{base}-{n}"
    return reference


def creditor_export(*, creditor, actor, output_dir: str | os.PathLike | None = None) -> CreditorExport:
    """Write the creditor's end-of-contract ZIP (streamed, outside the media: it is the creditor's copy),
    record it, then verify it by reading it back. Not one transaction: the ZIP of 100,000 cases takes
    minutes; the record is written once the file is complete."""
    made_at = timezone.now()
    reference = _reference(creditor, made_at)
    folder = Path(output_dir) if output_dir else Path(settings.AMIABLE_EXPORT_DIR) / creditor.slug
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{reference}.zip"
    partial = folder / f".{reference}.zip.partial"
    try:
        partial.touch(mode=0o600)  # every debtor of the creditor is in it: readable by the application alone
        written = write_export(path=partial, creditor=creditor, reference=reference, made_at=made_at)
        os.replace(partial, path)
    finally:
        if partial.exists():
            partial.unlink()
    with transaction.atomic():
        export = CreditorExport.objects.create(
            reference=reference,
            creditor=creditor,
            path=str(path.resolve()),
            sha256=file_sha256(path),
            case_count=written.counts.get("dossiers", 0),
            made_at=made_at,
        )
        audit_record(
            actor=actor,
            verb="creditor.exported",
            target=export,
            after={
                "reference": reference,
                "file": export.path,
                "sha256": export.sha256,
                "counts": written.counts,
                "documents": written.documents,
                "missing_documents": len(written.missing),
            },
        )
    creditor_export_verify(export=export, actor=actor)
    export.refresh_from_db()
    return export


@transaction.atomic
def creditor_export_verify(*, export: CreditorExport, actor) -> list[str]:
    """Read the export back: the file's SHA-256 as recorded, each member against SHA256SUMS and the manifest.
    Sets `verified_at` when all holds; returns the problems found (in French), [] when sound."""
    problems = []
    if not os.path.isfile(export.path):
        problems.append(f"fichier introuvable : {export.path}")
    else:
        if file_sha256(export.path) != export.sha256:
            problems.append("l'empreinte SHA-256 de l'archive n'est plus celle enregistrée")
        problems.extend(check_zip(export.path))
    export = CreditorExport.objects.select_for_update().get(pk=export.pk)
    export.verified_at = None if problems else timezone.now()
    export.save(update_fields=["verified_at"])
    audit_record(
        actor=actor,
        verb="creditor.export_verified" if not problems else "creditor.export_failed",
        target=export,
        after={"reference": export.reference, "problems": problems[:20]},
    )
    return problems


@transaction.atomic
def creditor_data_erase(*, creditor, export_reference: str, actor) -> CreditorErasure:
    """Erase the creditor's personal data after its verified export (see `closure.erasure`), in one
    transaction; refused, with nothing changed, when the export does not allow it."""
    export = CreditorExport.objects.filter(reference=export_reference.strip()).first()
    reason = erasure.refusal(creditor=creditor, export=export)
    if reason:
        raise ApplicationError(reason)
    pk = creditor.pk
    own, shared = debtors_of(pk)
    files = erasure.stored(erasure.files_to_delete(pk))
    summary: dict[str, int] = {}

    def count(name: str, value: int) -> None:
        summary[name] = summary.get(name, 0) + value

    case_scope = {"case__creditor_id": pk}
    Debtor, ContactPoint = model("cases.Debtor"), model("cases.ContactPoint")
    for chunk in chunks(own):
        count(
            "debtors_anonymised",
            Debtor.objects.filter(pk__in=chunk).update(
                civility="",
                last_name=ANONYMOUS,
                first_name="",
                birth_date=None,
                # An update bypasses `save()`: the old name must not stay findable in the search column.
                search_name=debtor_search_name(first_name="", last_name=ANONYMOUS),
            ),
        )
        deleted, _ = ContactPoint.objects.filter(debtor_id__in=chunk).delete()
        count("contact_points_deleted", deleted)
    summary["debtors_shared_kept"] = len(shared)

    count("cases", model("cases.Case").objects.filter(creditor_id=pk).update(basis=""))
    count("comments", model("cases.Comment").objects.filter(**case_scope).update(body=ERASED_TEXT))
    count("events", model("cases.CaseEvent").objects.filter(**case_scope).update(details=""))
    count("tasks", model("cases.Task").objects.filter(**case_scope).update(reason=""))
    count("actions", model("cases.Action").objects.filter(**case_scope).update(summary=ERASED_TEXT))
    count("calls", model("contact.CallRecord").objects.filter(action__case__creditor_id=pk).update(number="", notes=""))
    count(
        "messages",
        model("contact.OutboxMessage")
        .objects.filter(**case_scope)
        .update(to="", subject="", text="", html="", error="", attachment="", attachment_name=""),
    )
    Payment = model("payments.Payment")
    Payment.objects.filter(**case_scope, promise__isnull=False).update(promise=None)
    deleted, _ = model("contact.PromiseToPay").objects.filter(**case_scope).delete()
    count("promises_deleted", deleted)
    count("letters", model("letters.Letter").objects.filter(**case_scope).update(pdf="", address_lines=[]))
    count(
        "receipts",
        model("payments.Receipt").objects.filter(**case_scope).update(pdf="", address_lines=[], emailed_to=""),
    )
    count("plans", model("payments.Plan").objects.filter(**case_scope).update(pdf="", address_lines=[], emailed_to=""))
    count("statements", model("payments.Statement").objects.filter(**case_scope).update(pdf=""))
    count("payments", Payment.objects.filter(**case_scope).update(reference="", cash_reason=""))
    count("refunds", model("payments.Refund").objects.filter(**case_scope).update(reference=""))
    count(
        "approvals",
        model("approvals.ApprovalRequest")
        .objects.filter(**case_scope)
        .update(proposal=ERASED_TEXT, decision_comment=""),
    )
    count(
        "creditor_requests",
        model("creditor_requests.CreditorRequest").objects.filter(**case_scope).update(body=ERASED_TEXT, answer=""),
    )
    # The meeting requests (on no case) may name a debtor in their text too.
    count(
        "creditor_meeting_requests",
        model("creditor_requests.CreditorRequest")
        .objects.filter(creditor_id=pk, case__isnull=True)
        .update(body=ERASED_TEXT, answer=""),
    )
    reversals = model("payments.PaymentReversal").objects.filter(payment__case__creditor_id=pk)
    count("reversals", reversals.update(reason=ERASED_TEXT))
    count(
        "closures",
        model("closure.CaseClosure")
        .objects.filter(**case_scope)
        .update(evidence="", evidence_file="", reopen_reason=""),
    )
    count("certificates", model("closure.Certificate").objects.filter(**case_scope).update(pdf="", revoke_reason=""))
    count("document_returns", model("closure.DocumentReturn").objects.filter(**case_scope).update(items=[], note=""))
    count(
        "batches",
        model("intake.Batch")
        .objects.filter(creditor_id=pk)
        .update(rejected_rows=[], acknowledgement_pdf="", acknowledgement_csv="", acknowledgement_xlsx=""),
    )
    count("import_jobs", model("intake.ImportJob").objects.filter(creditor_id=pk).update(staged=b"", outcome=None))
    count(
        "bank_entries",
        model("banking.BankEntry")
        .objects.filter(payment__case__creditor_id=pk)
        .update(label=ERASED_TEXT, counterparty="", review_note=""),
    )
    count(
        "remittance_statements",
        model("remittances.Remittance")
        .objects.filter(creditor_id=pk)
        .update(statement_pdf="", statement_xlsx="", statement_csv=""),
    )
    count(
        "notifications",
        model("notifications.Notification")
        .objects.filter(case_pk__in=model("cases.Case").objects.filter(creditor_id=pk).values("pk"))
        .update(body=""),
    )
    summary["audit_keys_destroyed"] = keys_destroy(creditor_pk=pk, debtor_pks=own)
    summary["audit_events_kept"] = erasure.audit_events_count(pk)
    # The files go once the erasure is committed: a failure before leaves them with the rows that name them.
    summary["files_deleted"] = len(files)
    transaction.on_commit(lambda: erasure.delete_files(files))

    record = CreditorErasure.objects.create(creditor=creditor, export=export, erased_at=timezone.now(), summary=summary)
    audit_record(
        actor=actor,
        verb="creditor.data_erased",
        target=creditor,
        after={"export": export.reference, "summary": summary},
    )
    return record
