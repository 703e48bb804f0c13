"""The end-of-contract export of a creditor's data (C26): one ZIP with every table of its cases in CSV and
JSON, the stored documents, the audit trail with its personal data readable, an XLSX index, a manifest and
the SHA-256 of every file.

Everything streams: each table is read with `.iterator(chunk_size=…)` as `values_list` rows (no query per
row, no model built) and written straight into the ZIP; documents are copied from the storage in blocks. The
memory used does not grow with the number of cases.

The tables are listed in `TABLES` by the model's label and the lookup that reaches the creditor, so that
`closure` reads the apps above it (reporting) without importing them; `tests/closure/test_export.py` walks
the model registry to check that every model tied to a creditor's cases or debtors is exported or named in
`NOT_EXPORTED` with its reason."""

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import CharField, Q
from django.db.models.functions import Cast
from openpyxl import Workbook

from amiable.audit.models import AuditEvent
from amiable.audit.timeline import verb_label
from amiable.core.spreadsheets import neutralise, write_csv

CHUNK = 2000
BLOCK = 1024 * 1024


@dataclass(frozen=True)
class Table:
    """One table of the export: the model, the lookup from it to the creditor (`creditor` is the creditor's
    pk) or a function that filters it, and columns read through relations for a reader's convenience."""

    name: str
    model: str
    lookup: str | None = None
    scope: Callable[[models.QuerySet, int], models.QuerySet] | None = None
    extra: tuple[str, ...] = ()

    def queryset(self, creditor_pk: int) -> models.QuerySet:
        qs = apps.get_model(self.model)._base_manager.all()
        if self.scope is not None:
            return self.scope(qs, creditor_pk)
        return qs.filter(**{self.lookup: creditor_pk})


def _case_ids(creditor_pk: int):
    return apps.get_model("cases.Case").objects.filter(creditor_id=creditor_pk).values("pk")


def _debtor_ids(creditor_pk: int):
    return apps.get_model("cases.Case").objects.filter(creditor_id=creditor_pk).values("debtor_id")


def _debtors(qs, creditor_pk):
    return qs.filter(pk__in=_debtor_ids(creditor_pk))


def _contact_points(qs, creditor_pk):
    return qs.filter(debtor_id__in=_debtor_ids(creditor_pk))


def _ledger_entries(qs, creditor_pk):
    lines = apps.get_model("ledger.LedgerLine").objects.filter(creditor_id=creditor_pk).values("entry_id")
    return qs.filter(pk__in=lines)


def history(creditor_pk: int) -> models.QuerySet:
    """The creditor's audit trail: its own events, those of its cases, and those of its debtors and their
    contact points recorded outside a case (a debtor shared with another creditor: what is recorded on the
    other creditor's cases is that creditor's, never exported nor counted as a change here)."""
    Case = apps.get_model("cases.Case")
    ContactPoint = apps.get_model("cases.ContactPoint")
    debtors = Case.objects.filter(creditor_id=creditor_pk).annotate(t=Cast("debtor_id", CharField())).values("t")
    points = (
        ContactPoint.objects.filter(debtor_id__in=_debtor_ids(creditor_pk))
        .annotate(t=Cast("pk", CharField()))
        .values("t")
    )
    debtor_type, point_type = "cases.debtor", "cases.contactpoint"
    return AuditEvent.objects.filter(
        Q(creditor_pk=creditor_pk)
        | Q(case_pk__in=_case_ids(creditor_pk))
        | Q(case_pk__isnull=True, target_type=debtor_type, target_id__in=debtors)
        | Q(case_pk__isnull=True, target_type=point_type, target_id__in=points)
    ).order_by("at", "pk")


TABLES: tuple[Table, ...] = (
    Table(
        "dossiers", "cases.Case", "creditor_id", extra=("structure__code", "debtor__last_name", "debtor__first_name")
    ),
    Table("debiteurs", "cases.Debtor", scope=_debtors),
    Table("coordonnees", "cases.ContactPoint", scope=_contact_points),
    Table("actions", "cases.Action", "case__creditor_id", extra=("case__reference",)),
    Table("appels", "contact.CallRecord", "action__case__creditor_id", extra=("action__case__reference",)),
    Table("courriers", "letters.Letter", "case__creditor_id", extra=("case__reference",)),
    Table("messages", "contact.OutboxMessage", "case__creditor_id", extra=("case__reference",)),
    Table("evenements", "cases.CaseEvent", "case__creditor_id", extra=("case__reference",)),
    Table("taches", "cases.Task", "case__creditor_id", extra=("case__reference",)),
    Table("commentaires", "cases.Comment", "case__creditor_id", extra=("case__reference",)),
    Table("promesses", "contact.PromiseToPay", "case__creditor_id", extra=("case__reference",)),
    Table("decisions_demandees", "approvals.ApprovalRequest", "case__creditor_id", extra=("case__reference",)),
    Table("demandes_creancier", "creditor_requests.CreditorRequest", "creditor_id", extra=("case__reference",)),
    Table("creneaux_reunion", "creditor_requests.MeetingSlot", "request__creditor_id"),
    Table("etapes_scenario", "scenarios.StepRun", "case__creditor_id", extra=("case__reference",)),
    Table("paiements", "payments.Payment", "case__creditor_id", extra=("case__reference",)),
    Table("rejets", "payments.PaymentReversal", "case__creditor_id", extra=("case__reference",)),
    Table("remboursements", "payments.Refund", "case__creditor_id", extra=("case__reference",)),
    Table("imputations", "payments.Allocation", "case__creditor_id", extra=("case__reference",)),
    Table("recus", "payments.Receipt", "case__creditor_id", extra=("case__reference",)),
    Table("plans", "payments.Plan", "case__creditor_id", extra=("case__reference",)),
    Table("echeances", "payments.Instalment", "plan__case__creditor_id", extra=("plan__number",)),
    Table("decomptes", "payments.Statement", "case__creditor_id", extra=("case__reference",)),
    Table("mouvements_bancaires", "banking.BankEntry", "payment__case__creditor_id"),
    Table("ecritures", "ledger.LedgerEntry", scope=_ledger_entries),
    Table("lignes_ecritures", "ledger.LedgerLine", "creditor_id"),
    Table("reversements", "remittances.Remittance", "creditor_id", extra=("structure__code",)),
    Table(
        "lignes_reversements", "remittances.RemittanceLine", "remittance__creditor_id", extra=("remittance__number",)
    ),
    Table("factures", "invoicing.Invoice", "creditor_id", extra=("structure__code",)),
    Table(
        "lignes_factures", "invoicing.InvoiceLine", "invoice__creditor_id", extra=("invoice__number", "case__reference")
    ),
    Table("paiements_factures", "invoicing.InvoicedItem", "line__invoice__creditor_id"),
    Table("lots", "intake.Batch", "creditor_id"),
    Table("lignes_lots", "intake.BatchCase", "batch__creditor_id", extra=("batch__number", "case__reference")),
    Table("fins_dossiers", "closure.CaseClosure", "case__creditor_id", extra=("case__reference",)),
    Table("certificats", "closure.Certificate", "case__creditor_id", extra=("case__reference",)),
    Table("restitutions", "closure.DocumentReturn", "case__creditor_id", extra=("case__reference",)),
    Table("rapports_trimestriels", "reporting.QuarterlyReport", "creditor_id"),
    Table("reunions_suivi", "reporting.FollowUpMeeting", "creditor_id"),
)

# Models tied to a creditor's cases or debtors that the export leaves out, and why.
NOT_EXPORTED = {
    "cases.CaseReadMarker": "when a person last opened a case page: the agency's UI state",
    "intake.ImportJob": "an upload waiting for the worker, emptied once imported; the batch is exported",
    "audit.AccessLogEntry": "the agency's log of its staff's reads (GDPR art. 28), not the creditor's data",
    "audit.AuditEvent": "exported as « historique », with its personal data readable",
    "audit.PersonalDataKey": "the keys of the trail's personal data: never leave the agency",
    "reporting.ClockNotice": "the agency's reminders of its own deadlines",
    "reporting.StatsRollup": "aggregates of the dashboards, rebuilt from the tables exported",
    "closure.CreditorExport": "this export itself (its manifest says what it holds)",
    "closure.CreditorErasure": "written after the export",
    "notifications.Notification": "the staff's in-app notices, repeating what the tables and the history hold",
    "intake.ColumnMapping": "the agency's settings for the creditor, not its data",
    "intake.CreditorKey": "the agency's settings for the creditor, not its data",
    "letters.LetterTemplate": "the agency's settings for the creditor; each letter sent is exported as a PDF",
    "scenarios.Scenario": "the agency's settings for the creditor; each step run is exported (etapes_scenario)",
    "scenarios.ScenarioStep": "the agency's settings for the creditor",
}


def table_available(table: Table) -> bool:
    try:
        apps.get_model(table.model)
    except LookupError:
        return False
    return True


def columns(table: Table) -> list[str]:
    model = apps.get_model(table.model)
    return [f.attname for f in model._meta.concrete_fields] + list(table.extra)


def file_fields(table: Table) -> list[str]:
    model = apps.get_model(table.model)
    return [f.attname for f in model._meta.concrete_fields if isinstance(f, models.FileField)]


def table_rows(table: Table, creditor_pk: int) -> Iterator[tuple]:
    return table.queryset(creditor_pk).order_by("pk").values_list(*columns(table)).iterator(chunk_size=CHUNK)


HISTORY_COLUMNS = [
    "id",
    "at",
    "actor_label",
    "verb",
    "verb_label",
    "target_type",
    "target_id",
    "target_label",
    "case_pk",
    "creditor_pk",
    "before",
    "after",
    "ip_address",
]


def history_rows(creditor_pk: int) -> Iterator[tuple]:
    """The trail, its personal values decrypted by the audit queryset (a chunk of keys at a time)."""
    for event in history(creditor_pk).iterator(chunk_size=CHUNK):
        yield (
            event.pk,
            event.at,
            event.actor_label,
            event.verb,
            verb_label(event.verb),
            event.target_type,
            event.target_id,
            event.target_label,
            event.case_pk,
            event.creditor_pk,
            event.before,
            event.after,
            event.ip_address,
        )


# --- writing the ZIP -----------------------------------------------------------------------------------


class _Hashing(io.RawIOBase):
    """A write-only stream into a ZIP member that counts and hashes what goes through."""

    def __init__(self, target):
        self.target, self.sha = target, hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        data = bytes(data)
        self.target.write(data)
        self.sha.update(data)
        self.size += len(data)
        return len(data)


@dataclass
class Written:
    """What went into the ZIP: each file with its size, SHA-256 and, for a table, its rows."""

    files: list[dict] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    documents: int = 0
    missing: list[str] = field(default_factory=list)


class _Zip:
    def __init__(self, handle: zipfile.ZipFile):
        self.zip, self.written = handle, Written()

    def member(self, path: str, write: Callable[[io.RawIOBase], int | None], *, rows: int | None = None) -> int | None:
        with self.zip.open(path, "w", force_zip64=True) as raw:
            stream = _Hashing(raw)
            result = write(stream)
        entry = {"path": path, "size": stream.size, "sha256": stream.sha.hexdigest()}
        if result is not None:
            entry["rows"] = result
        self.written.files.append(entry)
        return result


def _json_rows(header: list[str], rows: Iterable[tuple]) -> Callable[[io.RawIOBase], int]:
    def write(stream) -> int:
        count = 0
        stream.write(b"[")
        for row in rows:
            stream.write((b",\n" if count else b"\n") + _dumps(dict(zip(header, row, strict=True))))
            count += 1
        stream.write(b"\n]\n")
        return count

    return write


def _dumps(value) -> bytes:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False).encode()


def _csv_rows(header: list[str], rows: Iterable[tuple]) -> Callable[[io.RawIOBase], int]:
    def cell(value):
        return _dumps(value).decode() if isinstance(value, dict | list) else value

    return lambda stream: write_csv(stream, header, ([cell(v) for v in row] for row in rows))


def _copy(name: str) -> Callable[[io.RawIOBase], None]:
    def write(stream) -> None:
        with default_storage.open(name, "rb") as source:
            while block := source.read(BLOCK):
                stream.write(block)

    return write


def write_export(*, path: Path, creditor, reference: str, made_at) -> Written:
    """Write the ZIP at `path` (a temporary name that the caller renames) and return what it holds."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as handle:
        out = _Zip(handle)
        documents: set[str] = set()
        for table in TABLES:
            if not table_available(table):
                continue
            header = columns(table)
            count = out.member(f"tables/{table.name}.csv", _csv_rows(header, table_rows(table, creditor.pk)))
            out.member(f"tables/{table.name}.json", _json_rows(header, table_rows(table, creditor.pk)))
            out.written.counts[table.name] = count
            names = file_fields(table)
            if names:
                files = table.queryset(creditor.pk).order_by("pk").values_list(*names).iterator(chunk_size=CHUNK)
                for row in files:
                    for name in row:
                        if name and name not in documents:
                            documents.add(name)
                            _document(out, name)
        count = out.member("historique/historique.csv", _csv_rows(HISTORY_COLUMNS, history_rows(creditor.pk)))
        out.member("historique/historique.json", _json_rows(HISTORY_COLUMNS, history_rows(creditor.pk)))
        out.written.counts["historique"] = count
        out.written.documents = len(documents) - len(out.written.missing)
        out.member("index.xlsx", lambda stream: _index(stream, out.written, creditor, reference, made_at))
        manifest = {
            "reference": reference,
            "creditor": {"pk": creditor.pk, "slug": creditor.slug, "name": creditor.name},
            "made_at": made_at,
            "counts": out.written.counts,
            "documents": out.written.documents,
            "missing_documents": out.written.missing,
            "files": list(out.written.files),
        }
        out.member("manifest.json", lambda stream: _write_bytes(stream, _dumps(manifest) + b"\n"))
        sums = "".join(f"{f['sha256']}  {f['path']}\n" for f in out.written.files).encode()
        with handle.open("SHA256SUMS", "w") as raw:
            raw.write(sums)
    return out.written


def _write_bytes(stream, data: bytes) -> None:
    stream.write(data)


def _document(out: _Zip, name: str) -> None:
    if not default_storage.exists(name):
        out.written.missing.append(name)
        return
    out.member(f"documents/{name}", _copy(name))


def _index(stream, written: Written, creditor, reference: str, made_at) -> None:
    """The XLSX index: one sheet with every file of the export, its size, rows and SHA-256."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Index")
    sheet.append([f"Export {reference} — {creditor.name} — {made_at:%d/%m/%Y %H:%M}"])
    sheet.append(["Fichier", "Lignes", "Taille (octets)", "SHA-256"])
    for entry in written.files:
        sheet.append([neutralise(entry["path"]), entry.get("rows"), entry["size"], entry["sha256"]])
    sheet.append([])
    sheet.append(["Table", "Lignes"])
    for name, count in written.counts.items():
        sheet.append([name, count])
    sheet.append(["documents", written.documents])
    buffer = io.BytesIO()  # a few hundred rows: the workbook is small whatever the number of cases
    book.save(buffer)
    stream.write(buffer.getvalue())


# --- reading it back ------------------------------------------------------------------------------------


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def check_zip(path: str | os.PathLike) -> list[str]:
    """The problems found re-reading an export: each file against SHA256SUMS and the manifest; [] if sound."""
    problems = []
    try:
        with zipfile.ZipFile(path) as handle:
            sums = {}
            for line in handle.read("SHA256SUMS").decode().splitlines():
                digest, _, name = line.partition("  ")
                sums[name] = digest
            manifest = json.loads(handle.read("manifest.json"))
            listed = {entry["path"]: entry["sha256"] for entry in manifest["files"] if entry["path"] != "manifest.json"}
            for name, digest in listed.items():
                if sums.get(name) != digest:
                    problems.append(f"{name} : empreinte différente dans SHA256SUMS et le manifeste")
            present = set(handle.namelist()) - {"SHA256SUMS"}
            if present != set(sums):
                problems.append("les fichiers de l'archive ne sont pas ceux de SHA256SUMS")
            for name, digest in sums.items():
                if name not in present:
                    continue
                sha = hashlib.sha256()
                with handle.open(name) as member:
                    while block := member.read(BLOCK):
                        sha.update(block)
                if sha.hexdigest() != digest:
                    problems.append(f"{name} : empreinte SHA-256 différente")
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        problems.append(f"archive illisible : {exc}")
    return problems
