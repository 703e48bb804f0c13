"""Building the weekly remittances (C20, L6): per creditor and structure, what the client-funds account
holds for it from the payments collected up to the end of the week, less the reversals of remitted payments,
paid back in one remittance that debits the ledger in the same transaction. Then completing each one (C21):
its statement files, its SEPA transfer and its e-mail to the structure's finance department."""

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date
from smtplib import SMTPException

from django.core.files.base import ContentFile
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.utils import timezone

from amiable.audit.services import audit_record
from amiable.core.bulk import insert_rows
from amiable.core.exceptions import ApplicationError
from amiable.core.money import ZERO
from amiable.core.sequences import sequence_next
from amiable.creditors.models import Structure
from amiable.creditors.selectors import agency_get
from amiable.ledger.models import EntryKind, LedgerAccount
from amiable.ledger.services import Line, ledger_post
from amiable.payments.services import payments_mark_remitted
from amiable.remittances import documents
from amiable.remittances.models import Remittance, RemittanceLine, RemittanceStatus
from amiable.remittances.selectors import Due, remittance_pending, week_before

logger = logging.getLogger(__name__)


@dataclass
class RemittanceRun:
    """The outcome of a run: the week's remittances (those of earlier runs too) and how many were made now."""

    start: date
    end: date
    remittances: list[dict] = field(default_factory=list)
    created: int = 0
    carried: list[dict] = field(default_factory=list)
    # What the completion pass did to each remittance it looked at (every week's), and for a dry run the
    # numbers it would look at; neither is part of the JSON.
    completed: list["Completion"] = field(default_factory=list)
    to_complete: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "week": [self.start.isoformat(), self.end.isoformat()],
            "remittances": self.remittances,
            "created": self.created,
        }


def _row(*, number: str, creditor: str, structure: str, lines: int, total) -> dict:
    return {"number": number, "creditor": creditor, "structure": structure, "lines": lines, "total": f"{total:.2f}"}


def remittances_build(
    *, week_of: date | None = None, actor=None, dry_run: bool = False, creditor_ids: set[int] | None = None
) -> RemittanceRun:
    """Make the remittances of the week before `week_of` (by default the last complete week). Each
    structure is made in its own transaction: a failure leaves the structures already made and none
    half-made, and the next run makes the rest. A structure that already has its remittance for the week
    gets no second one (what came in late goes into the next week's). A net of zero or less makes no
    remittance: its payments and reversals stay pending and are counted again by the next week's run.
    `creditor_ids` limits the run to those creditors (the daily run passes those whose remittance day has
    come, see `creditors_due`)."""
    today = timezone.localdate()
    start, end = week_before(week_of or today)
    if end >= today:
        raise ApplicationError(f"La semaine du {start:%d/%m/%Y} au {end:%d/%m/%Y} n'est pas terminée.")
    pending = remittance_pending(until=end)
    structures = Structure.objects.select_related("creditor").in_bulk([key[1] for key in pending])
    done = {r.structure_id for r in Remittance.objects.filter(period_start=start)}
    run = RemittanceRun(start=start, end=end)
    for (creditor_id, structure_id), items in sorted(pending.items()):
        if structure_id in done or (creditor_ids is not None and creditor_id not in creditor_ids):
            continue
        structure = structures[structure_id]
        total = sum((item.amount for item in items), ZERO)
        if total <= ZERO:
            run.carried.append({"creditor": structure.creditor.slug, "structure": structure.code, "total": total})
            continue
        if dry_run:
            run.remittances.append(
                _row(
                    number="", creditor=structure.creditor.slug, structure=structure.code, lines=len(items), total=total
                )
            )
            continue
        try:
            made_now = _remittance_make(
                structure=structure, creditor_id=creditor_id, start=start, end=end, items=items, actor=actor
            )
        except IntegrityError:
            # A run at the same moment remitted some of these items first: nothing of this structure was
            # written, and the next run counts what is still pending.
            logger.warning(
                "Reversement de %s (semaine du %s) non fait : lignes prises par un autre passage.",
                structure.code,
                start,
            )
            continue
        if made_now:
            run.created += 1
    made = (
        Remittance.objects.filter(period_start=start)
        .select_related("creditor", "structure")
        .annotate(line_count=Count("lines"))
        .order_by("creditor__slug", "structure__code", "pk")
    )
    run.remittances = [
        _row(number=r.number, creditor=r.creditor.slug, structure=r.structure.code, lines=r.line_count, total=r.total)
        for r in made
    ] + run.remittances
    if dry_run:
        run.to_complete = [r.number for r in _incomplete()]
    else:
        run.completed = remittances_complete(actor=actor)
    return run


@transaction.atomic
def _remittance_make(
    *, structure: Structure, creditor_id: int, start: date, end: date, items: list[Due], actor
) -> Remittance | None:
    """One structure's remittance for the week, its lines and its ledger debit, all or nothing. The
    structure's row is locked so that two runs at once cannot both make it; the second finds it made."""
    Structure.objects.select_for_update().filter(pk=structure.pk).first()
    if Remittance.objects.filter(structure=structure, period_start=start).exists():
        return None
    total = sum((item.amount for item in items), ZERO)
    today = timezone.localdate()
    number = f"RV-{today.year}-{sequence_next(name='remittance', year=today.year):06d}"
    remittance = Remittance.objects.create(
        number=number, creditor_id=creditor_id, structure=structure, period_start=start, period_end=end, total=total
    )
    # Plain rows (COPY on PostgreSQL): `bulk_create` compiles each of a week's 100,000 lines through the ORM.
    insert_rows(
        RemittanceLine,
        ["remittance", "payment", "reversal", "amount"],
        [(remittance.pk, item.payment_id, item.reversal_id, item.amount) for item in items],
    )
    payments_mark_remitted(
        payment_ids=RemittanceLine.objects.filter(remittance=remittance, payment__isnull=False).values("payment_id")
    )
    ledger_post(
        kind=EntryKind.REMITTANCE,
        source=f"remittance:{remittance.pk}",
        posted_on=today,
        memo=f"Reversement {number} — {structure.code}, semaine du {start:%d/%m/%Y} au {end:%d/%m/%Y}",
        lines=[
            Line(account=LedgerAccount.BANK, amount=-total),
            Line(
                account=LedgerAccount.CREDITOR_FUNDS, amount=total, creditor_id=creditor_id, structure_id=structure.pk
            ),
        ],
        actor=actor,
    )
    audit_record(
        actor=actor,
        verb="remittance.prepared",
        target=remittance,
        after={
            "number": number,
            "structure": structure.code,
            "period_start": start,
            "period_end": end,
            "lines": len(items),
            "total": total,
        },
    )
    return remittance


# --- completing a remittance: its files, its transfer, its e-mail (C21) ------------------------------------

# In the order they are made: the spreadsheets first, the PDF (the slowest, the likeliest to fail) last.
STATEMENT_FILES = ("statement_csv", "statement_xlsx", "statement_pdf")
_SHA256_FIELDS = {
    "statement_pdf": "statement_pdf_sha256",
    "statement_xlsx": "statement_xlsx_sha256",
    "statement_csv": "statement_csv_sha256",
    "transfer_xml": "transfer_sha256",
}
_LABELS = {"statement_pdf": "PDF", "statement_xlsx": "XLSX", "statement_csv": "CSV", "transfer_xml": "pain.001"}
_ATTACHMENTS = (
    ("statement_pdf", "pdf", "application/pdf"),
    ("statement_xlsx", "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("statement_csv", "csv", "text/csv"),
)


@dataclass
class Completion:
    """What one pass did to one remittance: the files made now, where the statement went, what is wrong."""

    number: str
    structure: str
    made: list[str] = field(default_factory=list)
    emailed_to: str = ""
    transfer_problem: str = ""
    problems: list[str] = field(default_factory=list)


def _incomplete():
    """The remittances still missing a file or their e-mail, whatever their week. An executed one (paid, by
    this transfer or by hand) needs no transfer file any more, but still its statement and its e-mail (C21)."""
    return (
        Remittance.objects.filter(
            Q(documents_at__isnull=True)
            | Q(emailed_at__isnull=True)
            | (Q(transfer_xml="") & ~Q(status=RemittanceStatus.EXECUTED))
        )
        .select_related("creditor", "structure")
        .order_by("period_start", "number")
    )


def remittances_complete(*, actor=None) -> list[Completion]:
    """Complete every remittance whose files or e-mail are missing: those made by this run, and those a
    crash, a refused IBAN or a failed send left behind by an earlier one. One remittance's failure is logged
    and reported, never stops the others; the next run tries again."""
    outcomes = []
    for remittance in _incomplete():
        try:
            outcome = remittance_complete(remittance=remittance, actor=actor)
        except Exception as exc:
            logger.exception("Reversement %s non complété.", remittance.number)
            outcome = Completion(
                number=remittance.number,
                structure=remittance.structure.code,
                problems=[f"non complété ({exc}) ; nouvel essai au prochain passage."],
            )
        for problem in outcome.problems:
            logger.warning("Reversement %s : %s", remittance.number, problem)
        outcomes.append(outcome)
    return outcomes


def remittance_complete(*, remittance: Remittance, actor) -> Completion:
    """Make what is missing of a remittance, each step committed on its own so that a failure keeps what
    was done: the statement (PDF/A, XLSX, CSV) and the SEPA transfer, stored once under the number with
    their SHA-256 (a file already stored is never rebuilt: a statement does not change once made); then
    the e-mail of the statement to the structure's finance department. Not one transaction: the e-mail
    cannot be rolled back, so it is sent after the files are committed and recorded after it has gone."""
    outcome = Completion(number=remittance.number, structure=remittance.structure.code)
    statement_missing = not all(getattr(remittance, name) for name in STATEMENT_FILES)
    executed = remittance.status == RemittanceStatus.EXECUTED
    no_transfer = remittance.transfer_xml or executed
    outcome.transfer_problem = "" if no_transfer else documents.transfer_problem(remittance.structure)
    if statement_missing or not (no_transfer or outcome.transfer_problem):
        remittance = _files_make(remittance_id=remittance.pk, actor=actor, outcome=outcome)
    if outcome.transfer_problem:
        outcome.problems.append(f"virement non émis : {outcome.transfer_problem}")
    _email(remittance=remittance, actor=actor, outcome=outcome)
    return outcome


def _store(remittance: Remittance, name: str, path: str, content: bytes, stored: list) -> None:
    """Store one file under its number. The row is locked and the field empty: a file already under that
    name was left by an attempt that rolled back, and is replaced."""
    file = getattr(remittance, name)
    full_name = file.field.generate_filename(remittance, path)
    if file.storage.exists(full_name):
        file.storage.delete(full_name)
    file.save(path, ContentFile(content), save=False)
    stored.append((file.storage, file.name))
    setattr(remittance, _SHA256_FIELDS[name], hashlib.sha256(content).hexdigest())


def _files_make(*, remittance_id: int, actor, outcome: Completion) -> Remittance:
    """The missing files of one remittance, in one transaction with the row locked (two runs at once make
    them once); files stored before a failure are removed with the rollback."""
    stored: list = []
    try:
        with transaction.atomic():
            remittance = (
                Remittance.objects.select_for_update(of=("self",))
                .select_related("creditor", "structure")
                .get(pk=remittance_id)
            )
            missing = [name for name in STATEMENT_FILES if not getattr(remittance, name)]
            no_transfer = remittance.transfer_xml or remittance.status == RemittanceStatus.EXECUTED
            problem = "" if no_transfer else documents.transfer_problem(remittance.structure)
            outcome.transfer_problem = problem
            if not missing and (no_transfer or problem):
                return remittance  # made meanwhile by another run
            statement = documents.statement_get(remittance)
            if statement.total != remittance.total:
                raise RuntimeError(
                    f"le total des lignes ({statement.total}) n'est pas celui du reversement ({remittance.total})"
                )
            names = documents.file_names(remittance)
            builders = {
                "statement_pdf": documents.statement_pdf,
                "statement_xlsx": documents.statement_xlsx,
                "statement_csv": documents.statement_csv,
            }
            made = list(missing)
            for name in missing:
                _store(remittance, name, names[name], builders[name](statement), stored)
            if not no_transfer and not problem:
                try:
                    xml = documents.transfer_xml(statement)
                except ValueError as exc:
                    problem = outcome.transfer_problem = str(exc)
                else:
                    _store(remittance, "transfer_xml", names["transfer_xml"], xml, stored)
                    made.append("transfer_xml")
            if not made:
                return remittance
            now = timezone.now()
            fields = [*made, *(_SHA256_FIELDS[name] for name in made)]
            if remittance.documents_at is None:
                remittance.documents_at = now
                fields.append("documents_at")
            if remittance.transfer_xml and remittance.status == RemittanceStatus.PREPARED:
                # The statement is complete here: the transfer file is ready for the agency's bank.
                remittance.status = RemittanceStatus.SENT
                remittance.sent_at = now
                fields += ["status", "sent_at"]
            remittance.save(update_fields=fields)
            audit_record(
                actor=actor,
                verb="remittance.documents_made",
                target=remittance,
                after={
                    "number": remittance.number,
                    "structure": remittance.structure.code,
                    "files": {_LABELS[name]: getattr(remittance, _SHA256_FIELDS[name]) for name in made},
                    "lines": statement.count,
                    "total": remittance.total,
                    "status": remittance.status,
                    "transfer_problem": problem,
                },
            )
    except BaseException:
        for storage, name in stored:
            storage.delete(name)
        raise
    outcome.made = [_LABELS[name] for name in made]
    return remittance


def _email(*, remittance: Remittance, actor, outcome: Completion) -> None:
    """Send the statement (PDF, XLSX, CSV; the transfer file is for the agency's bank) to the structure's
    finance e-mail, else the creditor's contact e-mail. A failed send is left for the next run; without any
    address the statement is not sent and stays in the creditor's portal."""
    if remittance.emailed_at is not None or remittance.documents_at is None:
        return
    structure, creditor = remittance.structure, remittance.creditor
    to = structure.finance_email or creditor.contact_email
    if not to:
        outcome.problems.append(
            "relevé non envoyé : ni e-mail du service financier pour la structure ni e-mail de contact pour le "
            "créancier (à renseigner dans l'administration) ; il reste disponible dans l'espace du créancier."
        )
        return
    period = f"semaine du {remittance.period_start:%d/%m/%Y} au {remittance.period_end:%d/%m/%Y}"
    context = {
        "agency": agency_get(),
        "remittance": remittance,
        "structure": structure,
        "creditor": creditor,
        "count": remittance.lines.count(),
        "transfer": bool(remittance.transfer_xml),
        "bank_details_missing": bool(documents.transfer_problem(structure)),
    }
    message = EmailMessage(
        subject=f"Reversement {remittance.number} — {structure.name} ({structure.code}) — {period}",
        body=render_to_string("remittances/statement_email.txt", context),
        to=[to],
    )
    attachments = []
    for name, extension, mime in _ATTACHMENTS:
        filename = f"{remittance.number}.{extension}"
        with getattr(remittance, name).open("rb") as handle:
            message.attach(filename, handle.read(), mime)
        attachments.append(filename)
    try:
        message.send()
    except (OSError, SMTPException) as exc:
        logger.exception("Relevé du reversement %s non envoyé à %s", remittance.number, to)
        outcome.problems.append(f"relevé non envoyé à {to} ({exc}) ; nouvel essai au prochain passage.")
        return
    now = timezone.now()
    with transaction.atomic():
        Remittance.objects.filter(pk=remittance.pk).update(emailed_to=to, emailed_at=now)
        remittance.emailed_to, remittance.emailed_at = to, now
        audit_record(
            actor=actor,
            verb="remittance.emailed",
            target=remittance,
            after={"number": remittance.number, "to": to, "attachments": attachments},
        )
    outcome.emailed_to = to
