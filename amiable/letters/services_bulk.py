"""Issuing many first letters at once: the same letters as `letter_issue`, rendered in parallel processes and
numbered when they are stored.

Rendering a letter (WeasyPrint) costs a hundred times more than storing it, and a letter carries its number, so
that the number must be known before the PDF is made. Each chunk of cases is therefore issued in one short
transaction that takes the chunk's numbers in one step, has the chunk's PDFs rendered by the worker processes
(which read nothing from the database: everything a letter needs is read before, in bulk), then stores the
files, the letters, the contacts and the audit events in a few inserts and commits. Numbers follow the order of
the cases and leave no gap: a letter the law refuses in a worker rolls the chunk back (its numbers with it), and
the chunk is issued again without it.
"""

import hashlib
import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.files.base import ContentFile
from django.db import connection, connections, transaction
from django.utils import timezone

from amiable.accounts.permissions import can_work_cases, require
from amiable.audit.services import audit_event, audit_events_write
from amiable.cases.models import Action, Case, CaseStatus, Channel, ContactKind, ContactPoint, ContactQuality
from amiable.cases.policy import case_contact_blocks
from amiable.core.exceptions import ApplicationError
from amiable.core.sequences import sequence_take
from amiable.creditors.selectors import agency_get, terms_for
from amiable.letters.address import address_block
from amiable.letters.amounts import amounts_due
from amiable.letters.models import Letter, LetterKind, LetterTemplate
from amiable.letters.services import (
    AGENCY_ONLY,
    LetterInputs,
    Signatory,
    _prerequisite_template,
    letter_compose,
    letter_pdf,
    letter_signatory,
)

FIRST = LetterKind.FIRST
# Cases per transaction: long enough to keep the workers busy, short enough that a letter issued by hand
# meanwhile waits for the number sequence a second or two at most.
CHUNK_SIZE = 50
NO_ADDRESS = "Aucune adresse valide : lancez une recherche d'adresse avant d'écrire au débiteur."


@dataclass
class FirstLettersReport:
    """What a bulk issue did: the letters issued (in number order), the cases skipped because their first
    letter had already gone, and the cases refused with the reason `letter_issue` would have given."""

    letters: list[Letter] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Job:
    """One letter for a worker: everything it needs, read beforehand (picklable, no query)."""

    case: Case
    template: LetterTemplate
    inputs: LetterInputs
    signatory: Signatory
    number: str
    issued_on: date


def _render(job: _Job) -> tuple[bytes, str] | str:
    """A letter's PDF and its hash, or the French reason the law refuses it. Runs in a worker process."""
    try:
        html, _lines = letter_compose(
            case=job.case,
            kind=FIRST,
            template=job.template,
            number=job.number,
            issued_on=job.issued_on,
            inputs=job.inputs,
            signatory=job.signatory,
        )
    except ApplicationError as exc:
        return exc.message
    pdf = letter_pdf(html)
    return pdf, hashlib.sha256(pdf).hexdigest()


def _no_database(execute, sql, params, many, context):
    raise RuntimeError("Un processus de rendu des courriers ne lit pas la base : tout est lu avant.")


def _worker_init() -> None:
    """A forked worker shares the parent's database connections: it must never use them (a query would
    interleave with the parent's on the same socket), so any attempt fails loudly."""
    for alias in connections:
        connections[alias].execute_wrappers.append(_no_database)


class _Renderer:
    """Renders jobs in `workers` forked processes, or in this process when there is one worker."""

    def __init__(self, workers: int):
        self.pool = None
        if workers > 1:
            if not connection.in_atomic_block:
                # Nothing of the parent's connections must be shared with the children: they reconnect if needed.
                connections.close_all()
            self.pool = ProcessPoolExecutor(
                max_workers=workers, mp_context=multiprocessing.get_context("fork"), initializer=_worker_init
            )
            self.pool.submit(int).result()  # the processes are forked now, before any query of this call
            self.workers = workers

    def map(self, jobs: list[_Job]) -> Iterator[tuple[bytes, str] | str]:
        """The results in the order of the jobs, each as soon as it is ready (the parent stores the first
        files while the workers render the last letters)."""
        if self.pool is None or len(jobs) < 2:
            return (_render(job) for job in jobs)
        chunksize = max(1, len(jobs) // (self.workers * 4))
        return self.pool.map(_render, jobs, chunksize=chunksize)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


class _Refused(Exception):
    def __init__(self, refused: dict[int, str]):
        self.refused = refused


def letters_issue_first(
    *,
    cases: Iterable[Case | int],
    actor,
    workers: int | None = None,
    issued_on: date | None = None,
    at: datetime | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> FirstLettersReport:
    """Issue the first letter of each case, in the order given: the same checks, letters, documents, contacts
    and audit events as `letter_issue`, numbered consecutively. A case whose first letter has gone is skipped
    (running it twice issues nothing twice); a case `letter_issue` would refuse is listed with its reason and
    the others go on. Agency staff or the system only."""
    require(actor is None or can_work_cases(actor), AGENCY_ONLY)
    issued_on = issued_on or timezone.localdate()
    at = at or timezone.now()
    ids = list(dict.fromkeys(c.pk if isinstance(c, Case) else int(c) for c in cases))
    report = FirstLettersReport()
    renderer = _Renderer(workers or os.cpu_count() or 1)
    context = _Context(actor=actor, issued_on=issued_on, at=at)
    try:
        for start in range(0, len(ids), chunk_size):
            _issue_chunk(ids[start : start + chunk_size], context, renderer, report)
    finally:
        renderer.close()
    return report


@dataclass
class _Context:
    """What stays the same for every chunk of one bulk issue, read once."""

    actor: object
    issued_on: date
    at: datetime
    templates: dict[int, LetterTemplate | str] = field(default_factory=dict)  # per creditor: template or refusal
    payment_days: dict[int, int] = field(default_factory=dict)
    agency: object = None


def _prepare(cases: list[Case], context: _Context, report: FirstLettersReport) -> list[tuple[Case, _Job]]:
    """The checks `letter_issue` makes before numbering, for a chunk of cases in a few queries; the refused
    cases go to the report with the same messages."""
    blocks = case_contact_blocks([(case, context.at) for case in cases], Channel.LETTER)
    points: dict[int, ContactPoint] = {}
    for point in (
        ContactPoint.objects.filter(
            debtor_id__in={case.debtor_id for case in cases}, kind=ContactKind.ADDRESS, quality=ContactQuality.VALID
        )
        .exclude(line1="")
        .order_by("debtor_id", "-is_primary", "-created_at", "-pk")
    ):
        points.setdefault(point.debtor_id, point)  # the same choice as `mailing_address`
    ready = []
    for case, block in zip(cases, blocks, strict=True):
        try:
            if block is not None:
                raise ApplicationError(_blocked(case, block))
            template = _template(case, context)
            if context.agency is None:
                context.agency = agency_get()
            if case.creditor_id not in context.payment_days:
                context.payment_days[case.creditor_id] = terms_for(case.creditor).payment_days
            point = points.get(case.debtor_id)
            if point is None:
                raise ApplicationError(NO_ADDRESS)
            inputs = LetterInputs(
                agency=context.agency,
                payment_days=context.payment_days[case.creditor_id],
                lines=address_block(debtor=case.debtor, point=point),
                amounts=amounts_due(case),  # a query only for a case with payments
            )
        except ApplicationError as exc:
            report.refused[case.reference] = exc.message
            continue
        signatory = letter_signatory(case=case, actor=context.actor)
        ready.append((case, _Job(case, template, inputs, signatory, "", context.issued_on)))
    return ready


def _blocked(case: Case, block) -> str:
    return f"Aucun courrier ne peut partir pour le dossier {case.reference} : {block.message}."


def _template(case: Case, context: _Context) -> LetterTemplate:
    """The creditor's first-letter template, looked up and checked once per bulk issue."""
    if case.creditor_id not in context.templates:
        try:
            context.templates[case.creditor_id] = _prerequisite_template(case=case, kind=FIRST)
        except ApplicationError as exc:
            context.templates[case.creditor_id] = exc.message
    template = context.templates[case.creditor_id]
    if isinstance(template, str):
        raise ApplicationError(template)
    return template


def _issue_chunk(ids: list[int], context: _Context, renderer: _Renderer, report: FirstLettersReport) -> None:
    loaded = Case.objects.select_related("debtor", "creditor", "structure", "assigned_agent").in_bulk(ids)
    cases = [loaded[pk] for pk in ids if pk in loaded]
    lettered = set(Letter.objects.filter(case_id__in=ids, kind=FIRST).values_list("case_id", flat=True))
    report.skipped += [case.reference for case in cases if case.pk in lettered]
    ready = _prepare([case for case in cases if case.pk not in lettered], context, report)
    while ready:
        try:
            _store(ready, context, renderer, report)
            return
        except _Refused as exc:
            # Refused once locked or once rendered: their numbers go back with the rolled-back chunk.
            for case, _job in ready:
                if case.pk in exc.refused:
                    report.refused[case.reference] = exc.refused[case.pk]
            ready = [(case, job) for case, job in ready if case.pk not in exc.refused]


@transaction.atomic
def _store(ready: list[tuple[Case, _Job]], context: _Context, renderer: _Renderer, report) -> None:
    """Number, render and store one chunk in one transaction."""
    ids = [case.pk for case, _job in ready]
    # The same locks as `letter_issue`: a letter issued by hand meanwhile is seen here, not issued twice.
    statuses = dict(Case.objects.select_for_update(of=("self",)).filter(pk__in=ids).values_list("pk", "status"))
    lettered = set(Letter.objects.filter(case_id__in=ids, kind=FIRST).values_list("case_id", flat=True))
    skipped = [case.reference for case, _job in ready if case.pk in lettered]
    ready = [(case, job) for case, job in ready if case.pk not in lettered]
    # A case suspended, recalled or paid since it was read is asked the contact rule again, now that it is locked.
    moved = [case for case, _job in ready if statuses.get(case.pk) != case.status]
    for case in moved:
        case.status = statuses[case.pk]
    blocks = case_contact_blocks([(case, context.at) for case in moved], Channel.LETTER)
    blocked = {case.pk: _blocked(case, block) for case, block in zip(moved, blocks, strict=True) if block}
    if blocked:
        raise _Refused(blocked)
    if ready:
        report.letters += _number_render_write(ready, context, renderer)
    report.skipped += skipped  # once the chunk is stored (a rolled-back attempt is done again)


def _number_render_write(ready: list[tuple[Case, _Job]], context: _Context, renderer: _Renderer) -> list[Letter]:
    year = context.issued_on.year
    first = sequence_take(name="letter", year=year, count=len(ready))
    jobs = [_job_numbered(job, f"L-{year}-{first + n:06d}") for n, (_case, job) in enumerate(ready)]
    actor = context.actor
    issued_by = actor if getattr(actor, "is_authenticated", False) else None
    letters: list[Letter] = []
    refused: dict[int, str] = {}
    try:
        for (case, _job), job, result in zip(ready, jobs, renderer.map(jobs), strict=True):
            if isinstance(result, str):
                refused[case.pk] = result
                continue
            if refused:
                continue  # the chunk is done again without the refused letters: nothing more to store
            pdf, sha256 = result
            letter = Letter(
                number=job.number,
                case=case,
                kind=FIRST,
                template=job.template,
                issued_on=job.issued_on,
                issued_at=context.at,
                issued_by=issued_by,
                address_lines=job.inputs.lines,
                amount=case.balance,
                sha256=sha256,
            )
            letter.pdf.save(f"{year}/{job.number}.pdf", ContentFile(pdf), save=False)
            letters.append(letter)
        if refused:
            raise _Refused(refused)
        _write_rows(letters, actor=actor, at=context.at)
    except BaseException:
        # The rows are rolled back with the transaction: the files must not outlive them.
        for letter in letters:
            letter.pdf.delete(save=False)
        raise
    return letters


def _job_numbered(job: _Job, number: str) -> _Job:
    return _Job(job.case, job.template, job.inputs, job.signatory, number, job.issued_on)


def _write_rows(letters: list[Letter], *, actor, at: datetime) -> None:
    """The contacts, the letters, the status moves and the audit events of a chunk, in a few inserts."""
    actions = Action.objects.bulk_create(
        [
            Action(
                case=letter.case,
                channel=Channel.LETTER,
                at=at,
                actor=letter.issued_by,
                summary=f"{LetterKind(FIRST).label} {letter.number}",
            )
            for letter in letters
        ]
    )
    for letter, action in zip(letters, actions, strict=True):
        letter.action = action
    Letter.objects.bulk_create(letters)
    events, keys = [], {}
    moved = [letter.case for letter in letters if letter.case.status == CaseStatus.NEW]
    if moved:
        now = timezone.now()
        Case.objects.filter(pk__in=[case.pk for case in moved], status=CaseStatus.NEW).update(
            status=CaseStatus.IN_PROGRESS, status_changed_at=now
        )
    for letter in letters:
        case = letter.case
        if case.status == CaseStatus.NEW:
            case.status, case.status_changed_at = CaseStatus.IN_PROGRESS, now
            events.append(
                audit_event(
                    actor=actor,
                    verb="case.status_changed",
                    target=case,
                    before={"status": CaseStatus.NEW.value},
                    after={"status": CaseStatus.IN_PROGRESS.value, "reason": f"Première lettre {letter.number}"},
                    keys=keys,
                )
            )
        events.append(
            audit_event(
                actor=actor,
                verb="letter.issued",
                target=letter,
                creditor_pk=case.creditor_id,
                after={
                    "number": letter.number,
                    "kind": FIRST,
                    "amount": letter.amount,
                    "first_letter": None,
                    "sha256": letter.sha256,
                },
                keys=keys,
            )
        )
    audit_events_write(events)
