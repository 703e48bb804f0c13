"""Importing a creditor's batch of claims: the stages of `pipeline` (unwrap, read, validate, write) with the
valid rows stored as cases in one transaction, and the acknowledgement of receipt (C4–C6, C9, C10, S4)."""

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from amiable.accounts.permissions import can_upload_batch, require
from amiable.audit.personal import Sealer
from amiable.audit.services import audit_record
from amiable.cases.models import Case
from amiable.cases.services_assignment import cases_auto_assign
from amiable.core.dates import add_months, format_datetime
from amiable.core.exceptions import ApplicationError
from amiable.core.models import NumberSequence
from amiable.core.money import ZERO
from amiable.core.sequences import sequence_next
from amiable.creditors.models import Creditor, Structure
from amiable.creditors.selectors import terms_for
from amiable.intake import crypto, pipeline
from amiable.intake.acknowledgement import Annexes, acknowledgement_build, acknowledgement_render, document_location
from amiable.intake.models import Batch, BatchSource

logger = logging.getLogger(__name__)
UPLOAD_REFUSED = (
    "Vous ne pouvez pas transmettre de lot pour ce créancier : seuls l'agence et le personnel du créancier "
    "dont le compte n'est pas limité à certaines structures le peuvent."
)
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
                "pdf": document_location(batch.acknowledgement_pdf),
                "csv": document_location(batch.acknowledgement_csv),
                "xlsx": document_location(batch.acknowledgement_xlsx),
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
    hold: "ImportHold | None" = None,
) -> ImportOutcome:
    """Import one file for a creditor through the stages of `pipeline`. A refused file stores nothing but an
    audit event, which is why this is not atomic as a whole: the refusal is recorded after the import's own
    transaction has rolled back. A file whose content was already accepted is answered "duplicate" and stores
    nothing. `hold` ties the write transaction to a background job (`import_job_execute`)."""
    # A person who may not transmit this creditor's batches is refused before anything, like at the upload
    # (the system, a command, may): not even a `batch.refused` event.
    if actor is not None:
        require(can_upload_batch(actor, creditor), UPLOAD_REFUSED)
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
            hold=hold,
        )
    except ApplicationError as exc:
        return _refused(creditor=creditor, content=content, raw_sha=raw_sha, filename=filename, actor=actor, exc=exc)


def _refused(*, creditor, content, raw_sha, filename, actor, exc: ApplicationError) -> ImportOutcome:
    """A file refused, by the import or by the page's check: audited with its reason, nothing else written."""
    audit_record(
        actor=actor,
        verb="batch.refused",
        target=("intake.batch", raw_sha[:16], filename[:200]),
        creditor_pk=creditor.pk,
        after={"filename": filename, "sha256": raw_sha, "size": len(content), "reason": exc.message},
    )
    return ImportOutcome(status="refused", error=exc.message)


# Attempts of an import overtaken by another one storing some of the same references (see `_import`).
OVERLAP_ATTEMPTS = 2


def _overlap_message(references: set[str]) -> str:
    shown = sorted(references)
    listed = ", ".join(shown[:5]) + (f" et {len(shown) - 5} autre(s)" if len(shown) > 5 else "")
    return (
        f"Un autre import, au même moment, a ouvert des dossiers portant des références de ce fichier ({listed}) : "
        "fichier refusé, rien n'a été enregistré. Transmettez-le à nouveau : ces références seront alors rejetées "
        "ligne à ligne comme déjà ouvertes, les autres prises en charge."
    )


def _import(
    *, creditor, content, raw_sha, filename, source, actor, default_structure, progress, hold=None, attempt: int = 1
) -> ImportOutcome:
    """The stages in order: unwrap, read and validate outside the transaction (they only read), then the batch,
    its rows (write) and its acknowledgement in one transaction. On SQLite, every row is checked, the clean ones
    spooled to a temporary file, the annexes written and the PDF made before the transaction begins: there it
    holds the database's single write lock, which every page that writes waits for.

    Two imports of the same creditor may run at once: the open references are read before the transaction, so
    the second to write can meet the first one's cases on the unique open reference and roll back whole. It is
    then validated and written again, the overlapping lines rejected as already open; overtaken again, it is
    refused with a French message. Nothing is ever half-written."""
    if default_structure is not None and default_structure.creditor_id != creditor.pk:
        raise ApplicationError(f"La structure {default_structure.code} n'appartient pas à {creditor.name}.")
    limit = settings.AMIABLE_BATCH_MAX_MB * 1024 * 1024
    if len(content) > limit:
        raise ApplicationError(f"Le fichier dépasse la taille maximale de {settings.AMIABLE_BATCH_MAX_MB} Mo.")
    terms = terms_for(creditor)
    unwrapped = pipeline.unwrap(content, creditor=creditor, terms=terms)
    existing = Batch.objects.filter(creditor=creditor, sha256=unwrapped.sha256).first()
    if existing is not None:
        return _duplicate(existing, actor=actor, filename=filename)

    parsed = pipeline.read(unwrapped.content, creditor=creditor, structure_given=default_structure is not None)
    progress("lecture", 0, 0)
    structures = {s.code: s for s in Structure.objects.filter(creditor=creditor, is_active=True)}
    received_at = timezone.now()
    today = timezone.localdate(received_at)
    validated = pipeline.validate(
        parsed.rows,
        creditor=creditor,
        structures=structures.values(),
        default_structure=default_structure,
        today=today,
    )
    row_count = validated.row_count
    certificate_due_on = add_months(today, terms.certificate_months)
    foreseen_number, foreseen_acknowledgement = _numbers_foreseen(today.year)
    # The batch as it will be stored, numbered as it most likely will be: every row is checked, the annexes are
    # written and, on SQLite, the PDF made before the transaction, which there holds the single write lock.
    batch = Batch(
        number=foreseen_number,
        creditor=creditor,
        default_structure=default_structure,
        source=source,
        received_at=received_at,
        received_by=actor if getattr(actor, "is_authenticated", False) else None,
        filename=filename[:255],
        sha256=unwrapped.sha256,
        size=len(content),
        file_format=parsed.file_format,
        encoding=parsed.encoding,
        was_encrypted=unwrapped.encrypted,
        signature_status=unwrapped.signature,
        signer=unwrapped.signer[:255],
        signer_fingerprint=unwrapped.signer_fingerprint,
        unknown_columns=parsed.layout.unknown,
        acknowledgement_number=foreseen_acknowledgement,
        acknowledged_at=received_at,
    )
    # On PostgreSQL, whose transactions lock rows, the rows are checked as they are written and the PDF is made
    # inside the transaction while the server checks the keys (`core.bulk.while_checking_constraints`).
    early = connection.vendor == "sqlite"
    prepared = None
    if early:  # the rows' search columns and sealed events, worked out as they are checked
        ahead = pipeline.Destination(
            batch=batch,
            structures=structures,
            actor=actor,
            received_on=today,
            certificate_due_on=certificate_due_on,
        )
        sealer = Sealer.existing(creditor_pk=creditor.pk)
        prepared = partial(pipeline.prepare, destination=ahead, sealer=sealer)
    try:
        with (
            Annexes(batch=batch, received_on=today, certificate_due_on=certificate_due_on) as annexes,
            pipeline.Spooled(
                validated,
                progress=lambda line: progress("vérification", line, row_count),
                checked=annexes.add,
                prepared=prepared,
                spool=early,
            ) as clean,
        ):
            pdf = None
            if early:
                _counts_set(batch, validated)
                pdf = acknowledgement_render(batch=batch, annexes=annexes, structures=structures)
            with transaction.atomic():
                if hold is not None:
                    hold.enter()
                batch.number = _batch_number(today.year, sequence_next(name="batch", year=today.year))
                batch.acknowledgement_number = _acknowledgement_number(
                    today.year, sequence_next(name="acknowledgement", year=today.year)
                )
                batch.save(force_insert=True)
                foreseen = (batch.number, batch.acknowledgement_number) == (foreseen_number, foreseen_acknowledgement)
                destination = pipeline.Destination(
                    batch=batch,
                    structures=structures,
                    actor=actor,
                    received_on=today,
                    certificate_due_on=certificate_due_on,
                )
                pipeline.write(
                    clean, destination=destination, progress=lambda line: progress("enregistrement", line, row_count)
                )
                if not clean.spooled:  # counted as they were written
                    _counts_set(batch, validated)
                    batch.save(update_fields=COUNT_FIELDS)
                cases_auto_assign(creditor=creditor, cases=Case.objects.filter(batch_line__batch=batch), actor=actor)
                progress("accusé de réception", row_count, row_count)
                _batch_audit(batch, validated, unwrapped=unwrapped, raw_sha=raw_sha, actor=actor)
                if foreseen:
                    acknowledgement_build(batch=batch, annexes=annexes, pdf=pdf)
                else:  # another batch was numbered meanwhile: the annexes and the PDF bear other numbers
                    acknowledgement_build(batch=batch)
                if hold is not None:
                    hold.written(ImportOutcome.from_batch(batch))
                transaction.on_commit(lambda: acknowledgement_send(batch_id=batch.pk))
    except IntegrityError:
        # The same content accepted at the same moment by another import.
        existing = Batch.objects.filter(creditor=creditor, sha256=unwrapped.sha256).first()
        if existing is not None:
            return _duplicate(existing, actor=actor, filename=filename)
        overtaken = pipeline.opened_since(validated, creditor=creditor)
        if not overtaken:
            raise
        logger.info("Import of %s overtaken by another import (%d references)", filename, len(overtaken))
        if attempt >= OVERLAP_ATTEMPTS:
            raise ApplicationError(_overlap_message(overtaken)) from None
        return _import(
            creditor=creditor,
            content=content,
            raw_sha=raw_sha,
            filename=filename,
            source=source,
            actor=actor,
            default_structure=default_structure,
            progress=progress,
            hold=hold,
            attempt=attempt + 1,
        )
    except OperationalError as exc:
        # SQLite has one writer: another import holding the write lock for longer than the busy timeout. Nothing
        # was written (the lock is taken when the transaction begins); the file is refused, to be sent again.
        if "database is locked" not in str(exc):
            raise
        raise ApplicationError(
            "Un autre import est en cours d'enregistrement et occupe la base de données : fichier refusé, rien "
            "n'a été enregistré. Transmettez-le à nouveau dans quelques minutes."
        ) from exc
    progress("terminé", row_count, row_count)
    return ImportOutcome.from_batch(batch)


DUPLICATE_REASONS = {"duplicate_in_file", "already_open"}


def _check(*, creditor, content, filename, actor, default_structure, progress) -> ImportOutcome:
    """What the import of a file would do, for the person to confirm before anything is stored: the first three
    stages (unwrap, read, validate) run as in `_import`, the write stage does not. A refused or already received
    file is audited and answered as by `batch_import`."""
    raw_sha = hashlib.sha256(content).hexdigest()
    try:
        if default_structure is not None and default_structure.creditor_id != creditor.pk:
            raise ApplicationError(f"La structure {default_structure.code} n'appartient pas à {creditor.name}.")
        terms = terms_for(creditor)
        unwrapped = pipeline.unwrap(content, creditor=creditor, terms=terms)
        existing = Batch.objects.filter(creditor=creditor, sha256=unwrapped.sha256).first()
        if existing is not None:
            return _duplicate(existing, actor=actor, filename=filename)
        parsed = pipeline.read(unwrapped.content, creditor=creditor, structure_given=default_structure is not None)
        progress("lecture", 0, 0)
        validated = pipeline.validate(
            parsed.rows,
            creditor=creditor,
            structures=Structure.objects.filter(creditor=creditor, is_active=True),
            default_structure=default_structure,
            today=timezone.localdate(),
        )
        for done, _row in enumerate(validated, start=1):
            if done % 1000 == 0:
                progress("vérification", done, validated.row_count)
    except ApplicationError as exc:
        return _refused(creditor=creditor, content=content, raw_sha=raw_sha, filename=filename, actor=actor, exc=exc)
    return ImportOutcome(
        status="checked",
        rows=validated.row_count,
        accepted=validated.accepted,
        rejected=validated.rejected,
        accepted_total=validated.total,
        rejected_rows=validated.rejected_rows,
        flags=dict(sorted(validated.flags.items())),
    )


def _duplicate_count(rejected_rows: list[dict]) -> int:
    """Rows rejected because their reference is repeated in the file or already an open case."""
    return sum(1 for r in rejected_rows if any(e.get("reason") in DUPLICATE_REASONS for e in r["errors"]))


def _batch_number(year: int, number: int) -> str:
    return f"LOT-{year}-{number:06d}"


def _acknowledgement_number(year: int, number: int) -> str:
    return f"AR-{year}-{number:06d}"


def _numbers_foreseen(year: int) -> tuple[str, str]:
    """The numbers the batch and its acknowledgement take unless another batch is numbered first: read, not
    taken (they are taken inside the import's transaction, gap-free). The annexes and the PDF are made with
    them before it; numbered otherwise meanwhile, they are made again inside it (`_import`)."""
    last = dict(
        NumberSequence.objects.filter(name__in=["batch", "acknowledgement"], year=year).values_list("name", "last")
    )
    return (
        _batch_number(year, last.get("batch", 0) + 1),
        _acknowledgement_number(year, last.get("acknowledgement", 0) + 1),
    )


COUNT_FIELDS = ["row_count", "accepted_count", "rejected_count", "accepted_total", "flags", "rejected_rows"]


def _counts_set(batch: Batch, validated: pipeline.Validated) -> None:
    """Record on the batch what the validate stage counted once every row is checked."""
    batch.row_count = validated.row_count
    batch.accepted_count = validated.accepted
    batch.rejected_count = validated.rejected
    batch.accepted_total = validated.total
    batch.flags = dict(sorted(validated.flags.items()))
    batch.rejected_rows = validated.rejected_rows


def _batch_audit(
    batch: Batch, validated: pipeline.Validated, *, unwrapped: pipeline.Unwrapped, raw_sha: str, actor
) -> None:
    """Audit the import, once its rows are written."""
    audit_record(
        actor=actor,
        verb="batch.imported",
        target=batch,
        after={
            "filename": batch.filename,
            "sha256": unwrapped.sha256,
            "received_sha256": raw_sha,
            "encrypted": unwrapped.encrypted,
            "signature": unwrapped.signature,
            "signer": unwrapped.signer,
            "rows": validated.row_count,
            "accepted": validated.accepted,
            "rejected": validated.rejected,
            "accepted_total": validated.total,
            "acknowledgement": batch.acknowledgement_number,
        },
    )


def _duplicate_message(batch: Batch) -> str:
    """The one sentence that tells a file was already received (the command and the page both show it)."""
    return (
        f"Fichier déjà reçu : son contenu est celui du lot {batch.number} du "
        f"{format_datetime(batch.received_at)}. Rien n'a été enregistré."
    )


def _duplicate(batch: Batch, *, actor, filename: str) -> ImportOutcome:
    audit_record(
        actor=actor,
        verb="batch.duplicate",
        target=batch,
        after={"filename": filename, "first_received_at": batch.received_at},
    )
    outcome = ImportOutcome.from_batch(batch, status="duplicate")
    outcome.error = _duplicate_message(batch)
    return outcome


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

    require(can_upload_batch(actor, creditor), UPLOAD_REFUSED)
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


# A running job shows it is alive by its heartbeat, written at most every HEARTBEAT_EVERY; one silent for longer
# than the lease has lost its worker (killed, machine restarted). Checking and writing a 100,000-row file beats
# well within it; the write transaction itself locks the job row (see `ImportHold`).
IMPORT_LEASE = timedelta(minutes=5)
HEARTBEAT_EVERY = timedelta(seconds=15)


class ImportAbandoned(Exception):
    """The job was failed as stale while its worker still ran: the worker's import rolls back and stops."""


class ImportHold:
    """Ties an import's write transaction to its job: the transaction starts by locking the job row (a stale-job
    sweep skips a locked job: its worker is alive and writing) and checking it is still running, and ends by
    marking it done, so that the batch and the job's end commit together or not at all."""

    def __init__(self, job_id: str):
        self.job_id = job_id

    def enter(self) -> None:
        from amiable.intake.models import ImportJob, ImportJobStatus

        job = ImportJob.objects.select_for_update().filter(pk=self.job_id).only("status").first()
        if job is None or job.status != ImportJobStatus.RUNNING:
            raise ImportAbandoned(self.job_id)

    def written(self, outcome: ImportOutcome) -> None:
        from amiable.intake.models import ImportJob, ImportJobStatus

        ImportJob.objects.filter(pk=self.job_id).update(
            status=ImportJobStatus.DONE,
            outcome=_job_result(outcome),
            batch=outcome.batch,
            staged=b"",
            finished_at=timezone.now(),
        )


def _job_result(outcome: ImportOutcome) -> dict:
    result = outcome.as_json()
    result["duplicates"] = _duplicate_count(outcome.rejected_rows)
    return result


def import_job_execute(*, job_id: str) -> None:
    """Run a staged import once (a job already started or finished is left alone). The job's heartbeat is written
    as it progresses; its end is recorded only if it is still running (not failed meanwhile as stale)."""
    from django.core.cache import cache

    from amiable.intake.models import ImportJob, ImportJobStatus

    started = timezone.now()
    with transaction.atomic():
        claimed = ImportJob.objects.filter(pk=job_id, status=ImportJobStatus.PENDING).update(
            status=ImportJobStatus.RUNNING, heartbeat_at=started
        )
    if not claimed:
        return
    job = ImportJob.objects.select_related("creditor", "default_structure", "requested_by").get(pk=job_id)
    key = PROGRESS_KEY.format(job_id)
    last_beat = [started]

    def progress(phase: str, done: int, total: int) -> None:
        cache.set(key, {"phase": phase, "done": done, "total": total}, timeout=3600)
        now = timezone.now()
        if now - last_beat[0] >= HEARTBEAT_EVERY:
            last_beat[0] = now
            _heartbeat(job_id, now)

    try:
        content = crypto.decrypt_from_storage(bytes(job.staged))
        if job.confirmed_at is None:
            outcome = _check(
                creditor=job.creditor,
                content=content,
                filename=job.filename,
                actor=job.requested_by,
                default_structure=job.default_structure,
                progress=progress,
            )
        else:
            outcome = batch_import(
                creditor=job.creditor,
                content=content,
                filename=job.filename,
                source=job.source,
                actor=job.requested_by,
                default_structure=job.default_structure,
                progress=progress,
                hold=ImportHold(job_id),
            )
        result = _job_result(outcome)
        status = ImportJobStatus.READY if outcome.status == "checked" else ImportJobStatus.DONE
    except ImportAbandoned:
        logger.warning("Import %s abandoned: failed as stale while its worker ran", job_id)
        cache.delete(key)
        return
    except Exception:  # the page must learn that the import stopped, whatever the cause
        logger.exception("Import %s interrompu", job_id)
        outcome, status = None, ImportJobStatus.FAILED
        result = {"status": "refused", "error": "Erreur technique pendant l'import : rien n'a été enregistré."}
    running = ImportJob.objects.filter(pk=job_id, status=ImportJobStatus.RUNNING)
    if status == ImportJobStatus.READY:
        # The file waits, still encrypted, for the person's confirmation; nothing else is stored.
        with transaction.atomic():
            if running.update(status=status, outcome=result):
                audit_record(
                    actor=job.requested_by,
                    verb="batch.checked",
                    target=job,
                    creditor_pk=job.creditor_id,
                    after={"filename": job.filename, "rows": outcome.rows, "accepted": outcome.accepted},
                )
    else:
        # An accepted import already marked its job done in its own transaction (`ImportHold.written`).
        running.update(
            status=status,
            outcome=result,
            batch=outcome.batch if outcome and outcome.status == "accepted" else None,
            staged=b"",
            finished_at=timezone.now(),
        )
    cache.delete(key)


def _heartbeat(job_id: str, now) -> None:
    """Record that the job's worker is alive. Outside a transaction on SQLite, another import may hold the write
    lock for longer than the busy timeout: a missed heartbeat is not worth failing the import for."""
    from django.db import connection

    from amiable.intake.models import ImportJob, ImportJobStatus

    beat = ImportJob.objects.filter(pk=job_id, status=ImportJobStatus.RUNNING)
    if connection.in_atomic_block:
        beat.update(heartbeat_at=now)
        return
    try:
        beat.update(heartbeat_at=now)
    except OperationalError:
        logger.warning("Heartbeat of import %s not written (database busy)", job_id)


def _interrupted_message(job) -> str:
    since = format_datetime(job.heartbeat_at or job.created_at)
    return (
        f"L'import du fichier « {job.filename} » s'est interrompu : le traitement en arrière-plan s'est arrêté "
        f"sans finir (dernier signe de vie le {since}). Rien n'a été enregistré et le fichier en attente a été "
        "effacé : transmettez-le à nouveau."
    )


def import_jobs_fail_stale(*, now=None, job_id=None) -> int:
    """Fail the running jobs whose worker died (heartbeat older than IMPORT_LEASE): nothing of them was stored
    (the import is one transaction), their staged content is erased, the page tells the person to transmit the
    file again; audited `batch.interrupted` by the system. A job whose write transaction is running holds its
    row locked and is skipped. Called by the job's page (`job_id`) and by `run_daily`. Returns how many."""
    from amiable.intake.models import ImportJob, ImportJobStatus

    now = now or timezone.now()
    limit = now - IMPORT_LEASE
    stale = ImportJob.objects.filter(status=ImportJobStatus.RUNNING).filter(
        Q(heartbeat_at__lt=limit) | Q(heartbeat_at__isnull=True, created_at__lt=limit)
    )
    if job_id is not None:
        stale = stale.filter(pk=job_id)
    failed = 0
    for pk in list(stale.values_list("pk", flat=True)[:1000]):
        try:
            failed += _fail_stale(pk, now=now, limit=limit)
        except OperationalError:  # SQLite: an import holds the write lock; this one is looked at again later
            logger.warning("Stale import %s not failed now (database busy)", pk)
    return failed


def import_job_stale(job, *, now=None) -> bool:
    """Whether a job looks abandoned by its worker (pure: the page asks before calling the sweep)."""
    from amiable.intake.models import ImportJobStatus

    last = job.heartbeat_at or job.created_at
    return job.status == ImportJobStatus.RUNNING and last < (now or timezone.now()) - IMPORT_LEASE


def _fail_stale(pk, *, now, limit) -> int:
    from amiable.intake.models import ImportJob, ImportJobStatus

    with transaction.atomic():
        job = ImportJob.objects.select_for_update(skip_locked=True).filter(pk=pk).first()
        if job is None or job.status != ImportJobStatus.RUNNING:
            return 0  # being written by its worker (row locked), or ended meanwhile
        if (job.heartbeat_at or job.created_at) >= limit:
            return 0  # it beat meanwhile
        message = _interrupted_message(job)
        job.status = ImportJobStatus.FAILED
        job.staged = b""
        job.outcome = {"status": "interrupted", "error": message}
        job.finished_at = now
        job.save(update_fields=["status", "staged", "outcome", "finished_at"])
        audit_record(
            actor=None,
            verb="batch.interrupted",
            target=job,
            creditor_pk=job.creditor_id,
            after={
                "filename": job.filename,
                "confirmed": job.confirmed_at is not None,
                "heartbeat_at": job.heartbeat_at,
                "reason": message,
            },
        )
        return 1


def _pending_since(job):
    """When a waiting job last had a task queued for it: its upload, its confirmation or its last re-queueing
    (written in `heartbeat_at`, which a pending job has no other use for)."""
    return max(t for t in (job.created_at, job.confirmed_at, job.heartbeat_at) if t is not None)


def import_job_requeued_at(job):
    """When a waiting job was queued again after its task was lost, or None (pure, for its page)."""
    from amiable.intake.models import ImportJobStatus

    if job.status != ImportJobStatus.PENDING or job.heartbeat_at is None:
        return None
    return job.heartbeat_at if job.heartbeat_at > (job.confirmed_at or job.created_at) else None


def import_job_lost(job, *, now=None) -> bool:
    """Whether a job has waited for a worker longer than the lease (pure: the page asks before re-queueing)."""
    from amiable.intake.models import ImportJobStatus

    return job.status == ImportJobStatus.PENDING and _pending_since(job) < (now or timezone.now()) - IMPORT_LEASE


def import_jobs_requeue_lost(*, now=None, job_id=None) -> int:
    """Queue again the jobs left waiting longer than the lease: their task was lost (the process stopped between
    the commit and the queueing, or the queue was emptied). Running a job twice is harmless (`import_job_execute`
    claims it once), so a job merely waiting behind a long import costs one spare task per lease at most.
    Audited `batch.requeued` by the system. Called by the job's page (`job_id`) and by `run_daily`."""
    from amiable.intake.models import ImportJob, ImportJobStatus
    from amiable.intake.tasks import import_job_run

    now = now or timezone.now()
    limit = now - IMPORT_LEASE
    lost = (
        ImportJob.objects.filter(status=ImportJobStatus.PENDING, created_at__lt=limit)
        .filter(Q(confirmed_at__isnull=True) | Q(confirmed_at__lt=limit))
        .filter(Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=limit))
    )
    if job_id is not None:
        lost = lost.filter(pk=job_id)
    requeued = 0
    for pk in list(lost.values_list("pk", flat=True)[:1000]):
        try:
            with transaction.atomic():
                job = ImportJob.objects.select_for_update(skip_locked=True).filter(pk=pk).first()
                if job is None or not import_job_lost(job, now=now):
                    continue  # claimed by a worker or queued again meanwhile
                waited = now - _pending_since(job)
                job.heartbeat_at = now
                job.save(update_fields=["heartbeat_at"])
                audit_record(
                    actor=None,
                    verb="batch.requeued",
                    target=job,
                    creditor_pk=job.creditor_id,
                    after={
                        "filename": job.filename,
                        "confirmed": job.confirmed_at is not None,
                        "waited_minutes": int(waited.total_seconds() // 60),
                    },
                )
                transaction.on_commit(lambda pk=pk: import_job_run.enqueue(job_id=str(pk)))
                requeued += 1
        except OperationalError:  # SQLite: an import holds the write lock; looked at again later
            logger.warning("Lost import %s not queued again now (database busy)", pk)
    return requeued


@transaction.atomic
def import_job_confirm(*, job, actor):
    """The person confirms a checked file: its import is queued, which stores the cases and issues the
    acknowledgement. Confirming twice (a double click) queues it once."""
    from amiable.intake.models import ImportJob, ImportJobStatus
    from amiable.intake.tasks import import_job_run

    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    require(can_upload_batch(actor, job.creditor), UPLOAD_REFUSED)
    if job.confirmed_at is not None:
        return job
    if job.status != ImportJobStatus.READY:
        raise ApplicationError(_not_waiting(job))
    job.confirmed_at = timezone.now()
    job.status = ImportJobStatus.PENDING
    job.save(update_fields=["confirmed_at", "status"])
    audit_record(
        actor=actor,
        verb="batch.confirmed",
        target=job,
        creditor_pk=job.creditor_id,
        after={"filename": job.filename, "accepted": (job.outcome or {}).get("accepted")},
    )
    transaction.on_commit(lambda: import_job_run.enqueue(job_id=str(job.pk)))
    return job


@transaction.atomic
def import_job_cancel(*, job, actor):
    """The person cancels a checked file (too many rejected lines, the wrong file): nothing was stored and
    nothing will be; the staged content is erased. Cancelling twice changes nothing."""
    from amiable.intake.models import ImportJob, ImportJobStatus

    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    require(can_upload_batch(actor, job.creditor), UPLOAD_REFUSED)
    if job.status == ImportJobStatus.CANCELLED:
        return job
    if job.status != ImportJobStatus.READY or job.confirmed_at is not None:
        raise ApplicationError(_not_waiting(job))
    job.status = ImportJobStatus.CANCELLED
    job.staged = b""
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "staged", "finished_at"])
    audit_record(
        actor=actor,
        verb="batch.cancelled",
        target=job,
        creditor_pk=job.creditor_id,
        after={"filename": job.filename, "rejected": (job.outcome or {}).get("rejected")},
    )
    return job


# A checked file waits this long for « Confirmer » or « Annuler »; then the daily run cancels it, so that its
# encrypted content and its rejected lines (names, amounts) are not kept for a decision nobody takes.
READY_KEEP_DAYS = 7


def import_jobs_expire(*, now=None, days: int = READY_KEEP_DAYS) -> int:
    """Cancel the checked files left unconfirmed for more than `days` days: their staged content and the
    detail of their lines are erased, the counts kept (audited, by the system). Returns how many."""
    from amiable.intake.models import ImportJob, ImportJobStatus

    limit = (now or timezone.now()) - timedelta(days=days)
    expired = 0
    stale = ImportJob.objects.filter(
        status=ImportJobStatus.READY, confirmed_at__isnull=True, created_at__lt=limit
    ).values_list("pk", flat=True)
    for pk in list(stale[:1000]):
        with transaction.atomic():
            job = ImportJob.objects.select_for_update().get(pk=pk)
            if job.status != ImportJobStatus.READY or job.confirmed_at is not None:
                continue  # confirmed or cancelled meanwhile
            outcome = job.outcome or {}
            job.status = ImportJobStatus.CANCELLED
            job.staged = b""
            job.outcome = {key: value for key, value in outcome.items() if isinstance(value, int | str | bool)}
            job.finished_at = timezone.now()
            job.save(update_fields=["status", "staged", "outcome", "finished_at"])
            audit_record(
                actor=None,
                verb="batch.expired",
                target=job,
                creditor_pk=job.creditor_id,
                after={"filename": job.filename, "days": days},
            )
            expired += 1
    return expired


def _not_waiting(job) -> str:
    from amiable.intake.models import ImportJobStatus

    if job.status == ImportJobStatus.CANCELLED:
        return f"Le fichier « {job.filename} » a été annulé : transmettez-le à nouveau pour l'importer."
    if job.confirmed_at is not None:
        return f"Le fichier « {job.filename} » est déjà confirmé : il ne peut plus être annulé."
    if job.status in {ImportJobStatus.DONE, ImportJobStatus.FAILED}:
        return f"Le fichier « {job.filename} » a été refusé ou était déjà reçu : il n'y a rien à confirmer."
    return f"Le fichier « {job.filename} » n'est pas encore vérifié : patientez quelques instants."


def import_job_progress(*, job) -> dict:
    from django.core.cache import cache

    return cache.get(PROGRESS_KEY.format(job.pk)) or {"phase": "en attente", "done": 0, "total": 0}
