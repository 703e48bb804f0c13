"""Importing a creditor's batch of claims: decrypt, read, validate, store the valid rows as cases in one
transaction, and acknowledge receipt (C4–C6, C9, C10, S4)."""

import hashlib
import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.utils import timezone

from amiable.audit.models import AuditEvent
from amiable.audit.services import audit_record
from amiable.cases.models import Case, CaseStatus, ContactPoint, Debtor, Task, TaskKind, TaskStatus
from amiable.core.bulk import allocate_ids, insert_rows
from amiable.core.dates import add_months, format_datetime
from amiable.core.exceptions import ApplicationError
from amiable.core.money import ZERO
from amiable.core.sequences import sequence_next
from amiable.creditors.models import ContractTerms, Creditor, Structure
from amiable.intake import crypto
from amiable.intake.acknowledgement import acknowledgement_build
from amiable.intake.models import Batch, BatchCase, BatchSource, ColumnMapping, CreditorKey, SignatureStatus
from amiable.intake.parsing import parse
from amiable.intake.validation import REASONS, CleanRow, RowError, structure_lookup, text, validate_row

logger = logging.getLogger(__name__)
CHUNK = 1000
CREDITOR_SOURCE = "Fichier du créancier"
ProgressCallback = Callable[[str, int, int], None]


@dataclass
class ImportOutcome:
    """What happened to a file; `as_json()` is the stable contract of `import_claims --json`."""

    status: str  # accepted | refused | duplicate
    batch: Batch | None = None
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    accepted_total: Decimal = ZERO
    rejected_rows: list[dict] = field(default_factory=list)
    flags: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def as_json(self) -> dict:
        batch = self.batch
        acknowledgement = None
        if batch is not None and self.status == "accepted":
            acknowledgement = {
                "number": batch.acknowledgement_number,
                "pdf": batch.acknowledgement_pdf.path if batch.acknowledgement_pdf else None,
                "csv": batch.acknowledgement_csv.path if batch.acknowledgement_csv else None,
                "xlsx": batch.acknowledgement_xlsx.path if batch.acknowledgement_xlsx else None,
            }
        return {
            "status": self.status,
            "batch": batch.number if batch else None,
            "rows": self.rows,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "accepted_balance_total": f"{self.accepted_total:.2f}",
            "rejected_rows": [
                {
                    "line": r["line"],
                    "file_line": r["file_line"],
                    "reference": r["reference"],
                    "errors": [
                        {"column": e["column"], "value": e["value"], "message": e["message"]} for e in r["errors"]
                    ],
                }
                for r in self.rejected_rows
            ],
            "flags": self.flags,
            "acknowledgement": acknowledgement,
            "error": self.error,
        }

    @classmethod
    def from_batch(cls, batch: Batch, status: str = "accepted") -> "ImportOutcome":
        return cls(
            status=status,
            batch=batch,
            rows=batch.row_count,
            accepted=batch.accepted_count,
            rejected=batch.rejected_count,
            accepted_total=batch.accepted_total,
            rejected_rows=batch.rejected_rows,
            flags=batch.flags,
        )


def batch_import(
    *,
    creditor: Creditor,
    content: bytes,
    filename: str,
    source: str,
    actor,
    default_structure: Structure | None = None,
    progress: ProgressCallback | None = None,
) -> ImportOutcome:
    """Import one file for a creditor. A refused file stores nothing but an audit event; a file whose
    content was already accepted is answered "duplicate" and stores nothing."""
    if source not in BatchSource.values:
        raise ValueError(f"unknown source {source!r}")
    raw_sha = hashlib.sha256(content).hexdigest()
    try:
        return _import(
            creditor=creditor,
            content=content,
            raw_sha=raw_sha,
            filename=filename,
            source=source,
            actor=actor,
            default_structure=default_structure,
            progress=progress or (lambda phase, done, total: None),
        )
    except ApplicationError as exc:
        audit_record(
            actor=actor,
            verb="batch.refused",
            target=("intake.batch", raw_sha[:16], filename[:200]),
            creditor_pk=creditor.pk,
            after={"filename": filename, "sha256": raw_sha, "size": len(content), "reason": exc.message},
        )
        return ImportOutcome(status="refused", error=exc.message)


def _import(*, creditor, content, raw_sha, filename, source, actor, default_structure, progress) -> ImportOutcome:
    if default_structure is not None and default_structure.creditor_id != creditor.pk:
        raise ApplicationError(f"La structure {default_structure.code} n'appartient pas à {creditor.name}.")
    limit = settings.AMIABLE_BATCH_MAX_MB * 1024 * 1024
    if len(content) > limit:
        raise ApplicationError(f"Le fichier dépasse la taille maximale de {settings.AMIABLE_BATCH_MAX_MB} Mo.")
    terms = ContractTerms.objects.filter(creditor=creditor).first()
    encrypted = False
    signature, signer, signer_fingerprint = SignatureStatus.NOT_SIGNED, "", ""
    clear = content
    if crypto.is_openpgp(content):  # encrypted and/or signed, recognised by its content
        allowed = set(
            CreditorKey.objects.filter(creditor=creditor, is_active=True).values_list("fingerprint", flat=True)
        )
        result = crypto.decrypt(content, allowed_fingerprints=allowed)
        clear, encrypted = result.plaintext, result.was_encrypted
        signature, signer, signer_fingerprint = result.signature_status, result.signer, result.signer_fingerprint
    crypto.transmission_policy_check(
        creditor=creditor, terms=terms, encrypted=encrypted, signature=signature, signer=signer
    )
    clear_sha = hashlib.sha256(clear).hexdigest()
    existing = Batch.objects.filter(creditor=creditor, sha256=clear_sha).first()
    if existing is not None:
        return _duplicate(existing, actor=actor, filename=filename)

    mappings = dict(ColumnMapping.objects.filter(creditor=creditor).values_list("header", "column"))
    parsed = parse(clear, extra_headers=mappings, structure_given=default_structure is not None)

    # First pass: references, to reject every occurrence of a reference repeated in the file.
    progress("lecture", 0, 0)
    occurrences: dict[str, list[int]] = defaultdict(list)
    row_count = 0
    for raw in parsed.rows:
        row_count += 1
        reference = text(raw.values.get("reference"))
        if reference:
            occurrences[reference].append(raw.line)
    if row_count == 0:
        raise ApplicationError("Le fichier ne contient aucune ligne de données (seulement l'en-tête).")
    repeated = {ref: lines for ref, lines in occurrences.items() if len(lines) > 1}
    already_open = _open_references(creditor, list(occurrences))
    del occurrences

    structures = {s.code: s for s in Structure.objects.filter(creditor=creditor, is_active=True)}
    lookup = structure_lookup(structures.values())
    received_at = timezone.now()
    today = timezone.localdate(received_at)
    certificate_months = terms.certificate_months if terms else 12
    try:
        with transaction.atomic():
            batch = Batch.objects.create(
                number=f"LOT-{today.year}-{sequence_next(name='batch', year=today.year):06d}",
                creditor=creditor,
                default_structure=default_structure,
                source=source,
                received_at=received_at,
                received_by=actor if getattr(actor, "is_authenticated", False) else None,
                filename=filename[:255],
                sha256=clear_sha,
                size=len(content),
                file_format=parsed.file_format,
                encoding=parsed.encoding,
                was_encrypted=encrypted,
                signature_status=signature,
                signer=signer[:255],
                signer_fingerprint=signer_fingerprint,
                unknown_columns=parsed.layout.unknown,
                acknowledgement_number=f"AR-{today.year}-{sequence_next(name='acknowledgement', year=today.year):06d}",
                acknowledged_at=received_at,
            )
            writer = _CaseWriter(
                batch=batch,
                creditor=creditor,
                structures=structures,
                actor=actor,
                received_on=today,
                certificate_due_on=add_months(today, certificate_months),
            )
            rejected_rows: list[dict] = []
            flags: Counter = Counter()
            accepted = 0
            total = ZERO
            chunk: list[CleanRow] = []
            for raw in parsed.rows:
                clean, errors = validate_row(
                    raw.values,
                    line=raw.line,
                    file_line=raw.file_line,
                    structure_codes=lookup,
                    default_structure=default_structure.code if default_structure else None,
                    today=today,
                )
                reference = text(raw.values.get("reference"))
                extra = []
                if reference in repeated:
                    lines = ", ".join(str(n) for n in repeated[reference])
                    extra.append(_reference_error("duplicate_in_file", reference, lines=lines))
                elif reference in already_open:
                    extra.append(_reference_error("already_open", reference))
                errors = extra + errors
                if errors:
                    rejected_rows.append(
                        {
                            "line": raw.line,
                            "file_line": raw.file_line,
                            "reference": reference,
                            "errors": [
                                {"column": e.column, "value": e.value[:200], "reason": e.reason, "message": e.message}
                                for e in errors
                            ],
                        }
                    )
                    continue
                chunk.append(clean)
                accepted += 1
                total += clean.balance
                flags.update(clean.flags)
                if len(chunk) >= CHUNK:
                    writer.write(chunk)
                    chunk = []
                    progress("enregistrement", raw.line, row_count)
            if chunk:
                writer.write(chunk)
            progress("accusé de réception", row_count, row_count)
            batch.row_count = row_count
            batch.accepted_count = accepted
            batch.rejected_count = len(rejected_rows)
            batch.accepted_total = total
            batch.flags = dict(sorted(flags.items()))
            batch.rejected_rows = rejected_rows
            batch.save(
                update_fields=[
                    "row_count",
                    "accepted_count",
                    "rejected_count",
                    "accepted_total",
                    "flags",
                    "rejected_rows",
                ]
            )
            audit_record(
                actor=actor,
                verb="batch.imported",
                target=batch,
                after={
                    "filename": batch.filename,
                    "sha256": clear_sha,
                    "received_sha256": raw_sha,
                    "encrypted": encrypted,
                    "signature": signature,
                    "signer": signer,
                    "rows": row_count,
                    "accepted": accepted,
                    "rejected": len(rejected_rows),
                    "accepted_total": total,
                    "acknowledgement": batch.acknowledgement_number,
                },
            )
            acknowledgement_build(batch=batch)
            transaction.on_commit(lambda: acknowledgement_send(batch_id=batch.pk))
    except IntegrityError:
        # The same content accepted at the same moment by another import.
        existing = Batch.objects.filter(creditor=creditor, sha256=clear_sha).first()
        if existing is None:
            raise
        return _duplicate(existing, actor=actor, filename=filename)
    progress("terminé", row_count, row_count)
    return ImportOutcome.from_batch(batch)


def _reference_error(reason: str, reference: str, **fmt) -> RowError:
    return RowError(column="référence", value=reference, reason=reason, message=REASONS[reason].format(**fmt))


def _open_references(creditor: Creditor, references: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(references), 900):  # stay below SQLite's parameter limit
        part = references[start : start + 900]
        found.update(
            Case.objects.open().filter(creditor=creditor, reference__in=part).values_list("reference", flat=True)
        )
    return found


def _duplicate(batch: Batch, *, actor, filename: str) -> ImportOutcome:
    audit_record(
        actor=actor,
        verb="batch.duplicate",
        target=batch,
        after={"filename": filename, "first_received_at": batch.received_at},
    )
    outcome = ImportOutcome.from_batch(batch, status="duplicate")
    outcome.error = (
        f"Fichier déjà reçu : son contenu est celui du lot {batch.number} du "
        f"{format_datetime(batch.received_at)}. Rien n'a été enregistré."
    )
    return outcome


class _CaseWriter:
    """Stores accepted rows chunk by chunk with bulk inserts: debtors, contact points, cases, their batch
    line, an address-investigation task when needed (C9), and one audit event per case."""

    def __init__(self, *, batch, creditor, structures, actor, received_on, certificate_due_on):
        self.batch = batch
        self.creditor = creditor
        self.structures = structures
        self.actor_id = actor.pk if getattr(actor, "is_authenticated", False) else None
        self.actor_label = actor.email if self.actor_id else "Système"
        self.received_on = received_on
        self.certificate_due_on = certificate_due_on

    def write(self, rows: list[CleanRow]) -> None:
        now = timezone.now()
        debtor_ids = allocate_ids(Debtor, len(rows))
        case_ids = allocate_ids(Case, len(rows))
        insert_rows(
            Debtor,
            ["id", "civility", "last_name", "first_name", "birth_date", "do_not_contact", "created_at"],
            [
                (d, r.civility, r.last_name[:150], r.first_name[:150], None, False, now)
                for r, d in zip(rows, debtor_ids, strict=True)
            ],
        )
        insert_rows(
            ContactPoint,
            POINT_FIELDS,
            [
                (
                    d,
                    c.kind,
                    c.line1[:200],
                    c.line2[:200],
                    c.postal_code[:10],
                    c.city[:100],
                    c.country[:2],
                    c.value[:254],
                    c.raw_value[:500],
                    c.quality,
                    CREDITOR_SOURCE,
                    self.received_on,
                    None,
                    None,
                    c.kind == "address",
                    now,
                )
                for r, d in zip(rows, debtor_ids, strict=True)
                for c in r.contacts
            ],
        )
        insert_rows(
            Case,
            CASE_FIELDS,
            [
                (
                    case_id,
                    r.reference[:64],
                    self.creditor.pk,
                    self.structures[r.structure_code].pk,
                    d,
                    r.initial_amount,
                    r.balance,
                    ZERO,
                    ZERO,
                    r.claim_date,
                    r.basis,
                    self.received_on,
                    self.received_on,
                    self.certificate_due_on,
                    None,
                    CaseStatus.NEW,
                    None,
                    now,
                )
                for r, d, case_id in zip(rows, debtor_ids, case_ids, strict=True)
            ],
        )
        insert_rows(
            BatchCase,
            ["batch", "case", "line", "flags"],
            [(self.batch.pk, case_id, r.line, r.flags) for r, case_id in zip(rows, case_ids, strict=True)],
        )
        insert_rows(
            Task,
            ["case", "kind", "status", "reason", "due_on", "created_at", "closed_at"],
            [
                (
                    case_id,
                    TaskKind.ADDRESS_INVESTIGATION,
                    TaskStatus.OPEN,
                    _investigation_reason(r),
                    self.received_on,
                    now,
                    None,
                )
                for r, case_id in zip(rows, case_ids, strict=True)
                if r.needs_address_investigation
            ],
        )
        insert_rows(
            AuditEvent,
            AUDIT_FIELDS,
            [
                (
                    now,
                    self.actor_id,
                    self.actor_label,
                    "case.created",
                    "cases.case",
                    str(case_id),
                    f"Dossier {r.reference}"[:255],
                    case_id,
                    self.creditor.pk,
                    None,
                    self._event(r),
                    None,
                )
                for r, case_id in zip(rows, case_ids, strict=True)
            ],
        )

    def _event(self, r: CleanRow) -> dict:
        return {
            "reference": r.reference,
            "structure": r.structure_code,
            "principal_amount": str(r.balance),
            "initial_amount": str(r.initial_amount),
            "received_on": self.received_on.isoformat(),
            "batch": self.batch.number,
            "line": r.line,
            "acknowledgement": self.batch.acknowledgement_number,
            "certificate_due_on": self.certificate_due_on.isoformat(),
            "contacts": [{"kind": c.kind, "quality": c.quality, "value": c.value or c.raw_value} for c in r.contacts],
            "flags": r.flags,
        }


POINT_FIELDS = [
    "debtor",
    "kind",
    "line1",
    "line2",
    "postal_code",
    "city",
    "country",
    "value",
    "raw_value",
    "quality",
    "source",
    "valid_from",
    "checked_on",
    "invalid_since",
    "is_primary",
    "created_at",
]
CASE_FIELDS = [
    "id",
    "reference",
    "creditor",
    "structure",
    "debtor",
    "initial_amount",
    "principal_amount",
    "interest_amount",
    "other_amount",
    "claim_date",
    "basis",
    "received_on",
    "acknowledged_on",
    "certificate_due_on",
    "assigned_agent",
    "status",
    "status_changed_at",
    "created_at",
]
AUDIT_FIELDS = [
    "at",
    "actor",
    "actor_label",
    "verb",
    "target_type",
    "target_id",
    "target_label",
    "case_pk",
    "creditor_pk",
    "before",
    "after",
    "ip_address",
]


def _investigation_reason(row: CleanRow) -> str:
    return "Adresse absente" if "missing_address" in row.flags else "Adresse douteuse (code postal invalide)"


def acknowledgement_send(*, batch_id: int) -> None:
    """E-mail the acknowledgement PDF to the creditor's transmission address (after the import commits)."""
    batch = Batch.objects.select_related("creditor").get(pk=batch_id)
    recipient = batch.creditor.transmission_email or batch.creditor.contact_email
    if not recipient or not batch.acknowledgement_pdf:
        return
    message = EmailMessage(
        subject=f"Accusé de réception {batch.acknowledgement_number} — lot {batch.number}",
        body=(
            f"Bonjour,\n\nNous accusons réception du lot {batch.number} ({batch.filename}) : "
            f"{batch.accepted_count} créance(s) prise(s) en charge, {batch.rejected_count} ligne(s) rejetée(s).\n"
            "L'accusé de réception est joint ; la liste complète des créances prises en charge est disponible "
            "dans votre espace Amiable.\n\nCordialement,\nL'agence"
        ),
        to=[recipient],
    )
    with batch.acknowledgement_pdf.open("rb") as pdf:
        message.attach(f"{batch.acknowledgement_number}.pdf", pdf.read(), "application/pdf")
    try:
        message.send()
    except OSError:
        logger.exception("Envoi de l'accusé de réception %s impossible", batch.acknowledgement_number)
        return
    with transaction.atomic():
        Batch.objects.filter(pk=batch.pk).update(acknowledgement_sent_at=timezone.now())
        audit_record(actor=None, verb="batch.acknowledgement_sent", target=batch, after={"to": recipient})


# --- imports started from a page: staged encrypted, run by the background worker -------------------------

PROGRESS_KEY = "intake-progress:{}"


def import_job_create(*, creditor: Creditor, content: bytes, filename: str, actor, default_structure=None):
    """Stage an uploaded file (encrypted at rest) and queue its import; the page then follows its progress."""
    from amiable.intake.models import ImportJob
    from amiable.intake.tasks import import_job_run

    if actor.is_creditor_user and actor.creditor_id != creditor.pk:
        raise ApplicationError("Vous ne pouvez transmettre un lot que pour votre propre créancier.")
    if not content:
        raise ApplicationError("Le fichier est vide.")
    limit = settings.AMIABLE_BATCH_MAX_MB * 1024 * 1024
    if len(content) > limit:
        raise ApplicationError(f"Le fichier dépasse la taille maximale de {settings.AMIABLE_BATCH_MAX_MB} Mo.")
    with transaction.atomic():
        job = ImportJob.objects.create(
            creditor=creditor,
            default_structure=default_structure,
            source=BatchSource.AGENCY_UPLOAD if actor.is_agency else BatchSource.CREDITOR_UPLOAD,
            requested_by=actor,
            filename=filename[:255],
            staged=crypto.encrypt_for_storage(content),
        )
        audit_record(
            actor=actor,
            verb="batch.uploaded",
            target=job,
            creditor_pk=creditor.pk,
            after={"filename": filename, "size": len(content)},
        )
        transaction.on_commit(lambda: import_job_run.enqueue(job_id=str(job.pk)))
    return job


def import_job_execute(*, job_id: str) -> None:
    """Run a staged import once (a job already started or finished is left alone)."""
    from django.core.cache import cache

    from amiable.intake.models import ImportJob, ImportJobStatus

    with transaction.atomic():
        claimed = ImportJob.objects.filter(pk=job_id, status=ImportJobStatus.PENDING).update(
            status=ImportJobStatus.RUNNING
        )
    if not claimed:
        return
    job = ImportJob.objects.select_related("creditor", "default_structure", "requested_by").get(pk=job_id)
    key = PROGRESS_KEY.format(job_id)

    def progress(phase: str, done: int, total: int) -> None:
        cache.set(key, {"phase": phase, "done": done, "total": total}, timeout=3600)

    try:
        content = crypto.decrypt_from_storage(bytes(job.staged))
        outcome = batch_import(
            creditor=job.creditor,
            content=content,
            filename=job.filename,
            source=job.source,
            actor=job.requested_by,
            default_structure=job.default_structure,
            progress=progress,
        )
        status = ImportJobStatus.DONE
        result = outcome.as_json()
    except Exception:  # the page must learn that the import stopped, whatever the cause
        logger.exception("Import %s interrompu", job_id)
        outcome, status = None, ImportJobStatus.FAILED
        result = {"status": "refused", "error": "Erreur technique pendant l'import : rien n'a été enregistré."}
    ImportJob.objects.filter(pk=job_id).update(
        status=status,
        outcome=result,
        batch=outcome.batch if outcome and outcome.status == "accepted" else None,
        staged=b"",
        finished_at=timezone.now(),
    )
    cache.delete(key)


def import_job_progress(*, job) -> dict:
    from django.core.cache import cache

    return cache.get(PROGRESS_KEY.format(job.pk)) or {"phase": "en attente", "done": 0, "total": 0}
