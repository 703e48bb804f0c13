"""An import in four stages, each usable and testable on its own: unwrap (OpenPGP), read (rows keyed by field
name), validate (clean or rejected rows), write (bulk inserts). `services.batch_import` runs them in this order,
the write stage inside its transaction. Rows stream from one stage to the next, so memory stays flat whatever
the size of the file."""

import hashlib
import pickle
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from typing import IO, NamedTuple

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone

from amiable.audit.personal import Sealer
from amiable.audit.services import audit_rows_write
from amiable.cases.models import Case, CaseStatus, ContactPoint, Debtor, Task, TaskKind, TaskStatus
from amiable.cases.search import contact_search_value, debtor_search_name
from amiable.core.bulk import JSONText, allocate_ids, insert_rows
from amiable.core.exceptions import ApplicationError
from amiable.core.money import ZERO
from amiable.creditors.models import ContractTerms, Creditor, Structure
from amiable.intake import crypto
from amiable.intake.models import Batch, BatchCase, ColumnMapping, CreditorKey, SignatureStatus
from amiable.intake.parsing import ParsedFile, RawRow, parse
from amiable.intake.validation import (
    CleanRow,
    RejectedRow,
    RowContext,
    check_row,
    reference_lines,
    structure_lookup,
)

CHUNK = 5000  # rows per bulk insert: few statements and round trips, bounded memory
CREDITOR_SOURCE = "Fichier du créancier"


# --- unwrap ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unwrapped:
    """A received file's clear content, its SHA-256 (what duplicates are judged on), and what its OpenPGP
    envelope said."""

    content: bytes
    sha256: str
    encrypted: bool = False
    signature: str = SignatureStatus.NOT_SIGNED
    signer: str = ""
    signer_fingerprint: str = ""


def unwrap(content: bytes, *, creditor: Creditor, terms: ContractTerms | None) -> Unwrapped:
    """Decrypt an OpenPGP file and judge its signature (C5) so that later stages only see clear content, and
    refuse a file that breaches the creditor's encryption and signature terms, whatever way it came in."""
    clear, encrypted = content, False
    signature, signer, signer_fingerprint = SignatureStatus.NOT_SIGNED, "", ""
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
    return Unwrapped(
        content=clear,
        sha256=hashlib.sha256(clear).hexdigest(),
        encrypted=encrypted,
        signature=signature,
        signer=signer,
        signer_fingerprint=signer_fingerprint,
    )


# --- read --------------------------------------------------------------------------------------------


def read(content: bytes, *, creditor: Creditor, structure_given: bool) -> ParsedFile:
    """The file's rows keyed by field name (`parsing.COLUMNS`), whatever its format, encoding and wording, the
    creditor's own header names included."""
    mappings = dict(ColumnMapping.objects.filter(creditor=creditor).values_list("header", "column"))
    return parse(content, extra_headers=mappings, structure_given=structure_given)


# --- validate ----------------------------------------------------------------------------------------


class Validated:
    """The clean rows of a file, checked as they are iterated, so that 100,000 rows never sit in memory; the
    rejected rows and the clean rows' count, total and flags are gathered on the way, for the batch."""

    def __init__(
        self,
        checked: Iterable[CleanRow | RejectedRow],
        *,
        row_count: int,
        references: Iterable[str] = (),
        already_open: frozenset[str] = frozenset(),
    ):
        self.row_count = row_count
        # The file's references and those already open when it was validated: an import that finds more of them
        # open when it writes was overtaken by another import (`services._import`).
        self.references = list(references)
        self.already_open = already_open
        self.accepted = 0
        self.total = ZERO
        self.flags: Counter[str] = Counter()
        self.rejected_rows: list[dict] = []
        self._checked = checked

    def __iter__(self) -> Iterator[CleanRow]:
        for row in self._checked:
            if isinstance(row, RejectedRow):
                self.rejected_rows.append(row.as_dict())
                continue
            self.accepted += 1
            self.total += row.balance
            self.flags.update(row.flags)
            yield row

    @property
    def rejected(self) -> int:
        return len(self.rejected_rows)


def validate(
    rows: Iterable[RawRow],
    *,
    creditor: Creditor,
    structures: Iterable[Structure],
    default_structure: Structure | None,
    today: date,
) -> Validated:
    """Check the references across the file first (repeated, already open for the creditor), then each row as the
    write stage asks for it, so that only clean rows are stored. `rows` is read twice."""
    row_count, occurrences = reference_lines(rows)
    if row_count == 0:
        raise ApplicationError("Le fichier ne contient aucune ligne de données (seulement l'en-tête).")
    context = RowContext(
        structure_codes=structure_lookup(structures),
        default_structure=default_structure.code if default_structure else None,
        today=today,
        repeated={reference: lines for reference, lines in occurrences.items() if len(lines) > 1},
        already_open=frozenset(_open_references(creditor, list(occurrences))),
    )
    return Validated(
        (check_row(row, context=context) for row in rows),
        row_count=row_count,
        references=occurrences,
        already_open=context.already_open,
    )


class Spooled:
    """The clean rows of a file, every row checked before the write transaction begins and the clean ones kept,
    CHUNK at a time, in a private temporary file; iterated in file order. On SQLite that transaction holds the
    single write lock of the database: checking 100,000 rows inside it made every page that writes (a comment, a
    login, a session) wait for the whole import. The validated file's counts are complete once spooled; each
    chunk is also handed to `checked` (the acknowledgement's annexes are written from it) and, before it is
    kept, to `prepared` (`prepare`: what the write stage derives from each row, worked out outside the lock).

    `spool=False` (PostgreSQL, whose transactions lock rows, not the database): the rows are checked as they
    are iterated, inside the transaction, as before, which saves writing and reading them back (≈ 3 s of CPU
    for 100,000 rows); the counts are complete once iterated."""

    def __init__(
        self,
        validated: Validated,
        *,
        progress: Callable[[int], None] | None = None,
        checked: Callable[[list[CleanRow]], None] | None = None,
        prepared: Callable[[list[CleanRow]], None] | None = None,
        spool: bool = True,
    ):
        self.validated = validated
        self.spooled = spool
        self._checked = checked
        self._prepared = prepared
        self._file = tempfile.TemporaryFile(prefix="amiable-rows-") if spool else None  # noqa: SIM115
        if not spool:
            return
        try:
            chunk: list[CleanRow] = []
            for row in validated:
                chunk.append(row)
                if len(chunk) >= CHUNK:
                    self._keep(chunk, checked)
                    chunk = []
                    if progress is not None:
                        progress(row.line)
            if chunk:
                self._keep(chunk, checked)
        except BaseException:
            self._file.close()
            raise

    def _keep(self, chunk: list[CleanRow], checked) -> None:
        if self._prepared is not None:
            self._prepared(chunk)
        pickle.dump(chunk, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        if checked is not None:
            checked(chunk)

    def __iter__(self) -> Iterator[CleanRow]:
        if self._file is None:
            yield from self._checked_as_iterated()
            return
        self._file.seek(0)
        while True:
            try:
                chunk = pickle.load(self._file)  # our own file, written just above, never shared
            except EOFError:
                return
            yield from chunk

    def _checked_as_iterated(self) -> Iterator[CleanRow]:
        chunk: list[CleanRow] = []
        for row in self.validated:
            chunk.append(row)
            if len(chunk) >= CHUNK:
                yield from self._handed(chunk)
                chunk = []
        yield from self._handed(chunk)

    def _handed(self, chunk: list[CleanRow]) -> list[CleanRow]:
        if chunk and self._checked is not None:
            self._checked(chunk)
        return chunk

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def __enter__(self) -> "Spooled":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def opened_since(validated: Validated, *, creditor: Creditor) -> set[str]:
    """The file's references that became open cases of the creditor after it was validated: what another
    import, running at the same time, stored first."""
    return _open_references(creditor, validated.references) - validated.already_open


def _open_references(creditor: Creditor, references: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(references), 900):  # stay below SQLite's parameter limit
        part = references[start : start + 900]
        found.update(
            Case.objects.open()
            .filter(creditor=creditor, reference__in=part)
            .order_by()  # a set: no sort of the cases' default ordering
            .values_list("reference", flat=True)
        )
    return found


# --- write -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Destination:
    """Where clean rows go and what every case of the batch carries: the batch, the creditor's structures by
    code, who imports (None for the command), the date of receipt and the certificate's due date."""

    batch: Batch
    structures: dict[str, Structure]
    actor: object
    received_on: date
    certificate_due_on: date
    # Where `write` keeps the cases' audit events until every row is stored (see `write`); None: written at once.
    audit_spool: IO[bytes] | None = None

    @property
    def actor_id(self) -> int | None:
        return self.actor.pk if getattr(self.actor, "is_authenticated", False) else None


def write(
    rows: Iterable[CleanRow],
    *,
    destination: Destination,
    progress: Callable[[int], None] | None = None,
    stored: Callable[[list[CleanRow]], None] | None = None,
) -> None:
    """Store the rows exactly as given, CHUNK at a time, hand each chunk once stored to `stored` (the
    acknowledgement's annexes are written from it), and report the last line stored after each full chunk.

    The cases' audit events are spooled to a private temporary file and appended to the trail once every row
    is stored: appending takes the audit chain's lock until the transaction commits (audit.chain), and a
    large batch would otherwise hold it, and make every other audited change wait, for the whole import. Not on
    SQLite, where the transaction holds the whole database's lock from its start: there each chunk's events are
    appended with the chunk, which saves writing and reading them back inside that lock."""
    if connection.vendor == "sqlite":
        _chunks_write(rows, destination=destination, progress=progress, stored=stored)
        return
    with tempfile.TemporaryFile(prefix="amiable-audit-") as spool:
        _chunks_write(rows, destination=replace(destination, audit_spool=spool), progress=progress, stored=stored)
        spool.seek(0)
        while True:
            try:
                events = pickle.load(spool)  # our own file, written just above, never shared
            except EOFError:
                break
            audit_rows_write(events)


def _chunks_write(rows, *, destination: Destination, progress, stored) -> None:
    chunk: list[CleanRow] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK:
            write_chunk(chunk, destination=destination)
            if stored is not None:
                stored(chunk)
            chunk = []
            if progress is not None:
                progress(row.line)
    if chunk:
        write_chunk(chunk, destination=destination)
        if stored is not None:
            stored(chunk)


def write_chunk(rows: list[CleanRow], *, destination: Destination) -> None:
    """One bulk insert per table, never a query per row: debtors, their contact points, cases, batch lines, an
    address investigation where needed (C9) and one audit event per case."""
    batch = destination.batch
    creditor_id = batch.creditor_id
    received_on = destination.received_on
    actor_id = destination.actor_id
    actor_label = destination.actor.email if actor_id else "Système"
    now = timezone.now()
    debtor_ids = allocate_ids(Debtor, len(rows))
    case_ids = allocate_ids(Case, len(rows))
    sealer = Sealer(creditor_pk=creditor_id)  # the events' personal values, encrypted (audit.personal)
    insert_rows(
        Debtor,
        ["id", "civility", "last_name", "first_name", "birth_date", "do_not_contact", "created_at", "search_name"],
        [
            (
                d,
                r.civility,
                r.last_name[:150],
                r.first_name[:150],
                None,
                False,
                now,
                r.prepared.search_name if r.prepared else _search_name(r),
            )
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
                received_on,
                None,
                None,
                c.kind == "address",
                now,
                search,
            )
            for r, d in zip(rows, debtor_ids, strict=True)
            for c, search in zip(
                r.contacts, r.prepared.contact_search if r.prepared else _contact_search(r), strict=True
            )
        ],
    )
    insert_rows(
        Case,
        CASE_FIELDS,
        [
            (
                case_id,
                r.reference[:64],
                creditor_id,
                destination.structures[r.structure_code].pk,
                d,
                r.initial_amount,
                r.balance,
                ZERO,
                ZERO,
                r.claim_date,
                r.basis,
                received_on,
                received_on,
                destination.certificate_due_on,
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
        [(batch.pk, case_id, r.line, r.flags) for r, case_id in zip(rows, case_ids, strict=True)],
    )
    insert_rows(
        Task,
        ["case", "kind", "status", "reason", "due_on", "created_at", "closed_at"],
        [
            (case_id, TaskKind.ADDRESS_INVESTIGATION, TaskStatus.OPEN, _investigation_reason(r), received_on, now, None)
            for r, case_id in zip(rows, case_ids, strict=True)
            if r.needs_address_investigation
        ],
    )
    events = [
        (
            now,
            actor_id,
            actor_label,
            "case.created",
            "cases.case",
            str(case_id),
            f"Dossier {r.reference}"[:255],
            case_id,
            creditor_id,
            None,
            _event_sealed(r, destination, sealer),
            None,
        )
        for r, case_id in zip(rows, case_ids, strict=True)
    ]
    if destination.audit_spool is not None:
        pickle.dump(events, destination.audit_spool, protocol=pickle.HIGHEST_PROTOCOL)
    else:
        audit_rows_write(events)


class Prepared(NamedTuple):
    """What the write stage derives from a clean row that needs neither ids nor the database's lock: the
    debtor's and the contact points' search columns and the case's audit event, sealed."""

    search_name: str
    contact_search: tuple[str, ...]
    event: str | None  # the `after` of the case's `case.created` event, personal values encrypted, as JSON text
    sealed_as: tuple | None  # (data key, batch number, acknowledgement number) the event was made with


def prepare(rows: list[CleanRow], *, destination: Destination, sealer: Sealer | None) -> None:
    """Work out, before the write transaction (SQLite, where it holds the single write lock), what `write_chunk`
    would otherwise compute inside it, and keep it on each row. The batch of `destination` bears the numbers
    foreseen; `write_chunk` uses a prepared event only if the batch got those numbers and the creditor's data
    key is still the one that sealed it, and makes the event again otherwise. No `sealer` (the creditor has no
    data key yet, and making one would write): the events are sealed in the transaction."""
    batch = destination.batch
    sealed_as = (sealer.key_pk, batch.number, batch.acknowledgement_number) if sealer is not None else None
    for r in rows:
        r.prepared = Prepared(
            search_name=_search_name(r),
            contact_search=_contact_search(r),
            event=_json(sealer.seal(_case_event(r, destination))) if sealer is not None else None,
            sealed_as=sealed_as,
        )


_json = DjangoJSONEncoder(ensure_ascii=False).encode  # what a JSONField stores (core.bulk.JSONText)


def _search_name(row: CleanRow) -> str:
    return debtor_search_name(first_name=row.first_name[:150], last_name=row.last_name[:150])


def _contact_search(row: CleanRow) -> tuple[str, ...]:
    return tuple(
        contact_search_value(kind=c.kind, value=c.value[:254], raw_value=c.raw_value[:500]) for c in row.contacts
    )


def _event_sealed(row: CleanRow, destination: Destination, sealer: Sealer) -> dict | JSONText:
    prepared, batch = row.prepared, destination.batch
    if prepared is not None and prepared.sealed_as == (sealer.key_pk, batch.number, batch.acknowledgement_number):
        return JSONText(prepared.event)  # a plain str in the spool: `pickle` stores a str subclass far slower
    return sealer.seal(_case_event(row, destination))


def _case_event(row: CleanRow, destination: Destination) -> dict:
    batch = destination.batch
    return {
        "reference": row.reference,
        "structure": row.structure_code,
        "principal_amount": str(row.balance),
        "initial_amount": str(row.initial_amount),
        "received_on": destination.received_on.isoformat(),
        "batch": batch.number,
        "line": row.line,
        "acknowledgement": batch.acknowledgement_number,
        "certificate_due_on": destination.certificate_due_on.isoformat(),
        "contacts": [{"kind": c.kind, "quality": c.quality, "value": c.value or c.raw_value} for c in row.contacts],
        "flags": row.flags,
    }


def _investigation_reason(row: CleanRow) -> str:
    return "Adresse absente" if "missing_address" in row.flags else "Adresse douteuse (code postal invalide)"


# Columns of the bulk inserts, in the order of the tuples built above.
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
    "search_value",  # the bulk insert bypasses `save()`: the search columns are written here (cases.search)
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
