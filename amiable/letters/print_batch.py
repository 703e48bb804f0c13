"""The daily print run: the letters issued on a day and not yet printed, merged into one PDF for the
printer, with a CSV manifest for the mail room. Each letter is printed once: it is marked in the same
transaction that writes the files, so a second run for the same day finds nothing new. The documents other
apps register (`letters.printables`: receipts not sent by e-mail) follow the letters in the same files and
are marked in the same transaction. The files name every debtor printed that day, for every creditor, and
belong to no row: `print_files_purge` removes them once the mail room no longer needs them."""

import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from pypdf import PdfReader, PdfWriter

from amiable.accounts.permissions import can_work_cases, require
from amiable.audit.services import audit_record
from amiable.cases.models import Channel
from amiable.cases.policy import case_contact_blocks
from amiable.core.dates import format_date
from amiable.core.exceptions import ApplicationError
from amiable.core.spreadsheets import write_csv
from amiable.letters.models import Letter
from amiable.letters.printables import PrintItem, printables

_PRINT_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:-\d+)?\.(?:pdf|csv)$")
MANIFEST_HEADER = ["Courrier", "Dossier", "Débiteur", "Adresse", "Pages"]


@dataclass
class PrintRun:
    """What a run printed (the files are storage names) and what it held back."""

    day: date
    numbers: list[str] = field(default_factory=list)
    pages: int = 0
    pdf_name: str | None = None
    manifest_name: str | None = None
    withheld: list[str] = field(default_factory=list)  # French: which letter and why
    documents: dict[str, list[str]] = field(default_factory=dict)  # registered kind → numbers printed


def print_pending(*, day: date) -> QuerySet[Letter]:
    """The letters issued by `day` that have not been printed yet, in number order: a letter issued after a
    day's run, or on a day without a run, goes with the next one."""
    return (
        Letter.objects.filter(issued_on__lte=day, printed_on__isnull=True)
        .select_related("case__debtor", "case__creditor")
        .order_by("number", "pk")
    )


def _free_stem(day: date) -> str:
    """`print/2026-11-27`, or `print/2026-11-27-2`… when letters issued later that day are printed in a
    second run: an earlier run's files are never overwritten."""
    stem, n = f"print/{day:%Y-%m-%d}", 1
    while default_storage.exists(f"{stem}.pdf") or default_storage.exists(f"{stem}.csv"):
        n += 1
        stem = f"print/{day:%Y-%m-%d}-{n}"
    return stem


def _withheld_reasons(letters: list[Letter]) -> list[str | None]:
    """Why each letter issued earlier must not be posted any more, or None: the one contact rule asked as of
    the letter's issue, with what is known today (the case paid, recalled or suspended since, a death or an
    over-indebtedness file, a do-not-contact request) and the letters sent before it (the cap)."""
    blocks = case_contact_blocks(
        [(letter.case, letter.issued_at - timedelta(microseconds=1)) for letter in letters], Channel.LETTER
    )
    return [
        None if block is None else f"dossier {letter.case.reference} : {block.message}"
        for letter, block in zip(letters, blocks, strict=True)
    ]


def _append(writer: PdfWriter, *, number: str, pdf, sha256: str, what: str) -> int:
    """Append a stored document to the merged PDF after checking it against its hash; its page count."""
    with pdf.open("rb") as handle:
        content = handle.read()
    if hashlib.sha256(content).hexdigest() != sha256:
        raise ApplicationError(f"Le fichier {what} {number} ne correspond plus à son empreinte : impression annulée.")
    reader = PdfReader(io.BytesIO(content))
    writer.append(reader, outline_item=number, import_outline=False)
    return len(reader.pages)


@transaction.atomic
def print_batch_build(*, day: date, actor=None) -> PrintRun:
    """Merge the letters of `day` not yet printed into one PDF with its manifest, and mark them printed.
    A letter whose case stopped being recovered since it was issued is held back (and listed), not posted.
    The registered documents waiting for the post follow the letters. A stored document whose content no
    longer matches its hash is refused: nothing is printed. Agency staff (the « Courriers à imprimer » page)
    or the system (the daily command) only."""
    require(actor is None or can_work_cases(actor), "Seule l'agence imprime les courriers.")
    run = PrintRun(day=day)
    letters = list(print_pending(day=day).select_for_update(of=("self",)))
    writer = PdfWriter()
    rows = []
    printed = []
    for letter, reason in zip(letters, _withheld_reasons(letters), strict=True):
        if reason:
            run.withheld.append(f"{letter.number} retenu : {reason}")
            continue
        pages = _append(writer, number=letter.number, pdf=letter.pdf, sha256=letter.sha256, what="du courrier")
        case = letter.case
        rows.append([letter.number, case.reference, case.debtor.display_name, " / ".join(letter.address_lines), pages])
        printed.append(letter)
        run.numbers.append(letter.number)
        run.pages += pages
    others: dict[str, list[PrintItem]] = {}
    for printable in printables():
        for item in printable.pending(day=day, lock=True):
            if item.withheld:
                run.withheld.append(f"{item.number} retenu : {item.withheld}")
                continue
            pages = _append(writer, number=item.number, pdf=item.pdf, sha256=item.sha256, what="du document")
            rows.append([item.number, item.case_reference, item.debtor_name, " / ".join(item.address_lines), pages])
            others.setdefault(printable.key, []).append(item)
            run.documents.setdefault(printable.key, []).append(item.number)
            run.numbers.append(item.number)
            run.pages += pages
    if not printed and not others:
        return run
    pdf = io.BytesIO()
    writer.write(pdf)
    manifest = io.BytesIO()
    write_csv(manifest, MANIFEST_HEADER, rows)
    stem = _free_stem(day)
    saved = []
    try:
        run.pdf_name = default_storage.save(f"{stem}.pdf", ContentFile(pdf.getvalue()))
        saved.append(run.pdf_name)
        run.manifest_name = default_storage.save(f"{stem}.csv", ContentFile(manifest.getvalue()))
        saved.append(run.manifest_name)
        Letter.objects.filter(pk__in=[letter.pk for letter in printed]).update(printed_on=day)
        for printable in printables():
            if printable.key in others:
                printable.mark(pks=[item.pk for item in others[printable.key]], day=day)
        audit_record(
            actor=actor,
            verb="letters.printed",
            target=("print_batch", stem.removeprefix("print/"), f"Impression des courriers du {format_date(day)}"),
            after={
                "letters": [letter.number for letter in printed],
                "documents": run.documents,
                "pages": run.pages,
                "pdf": run.pdf_name,
                "manifest": run.manifest_name,
                "withheld": run.withheld,
            },
        )
    except BaseException:
        # The marks are rolled back with the transaction: the files must not outlive them.
        for name in saved:
            default_storage.delete(name)
        raise
    return run


@dataclass(frozen=True)
class PrintFiles:
    """A print run's files as the « Courriers à imprimer » page lists them: `stem` is `2026-11-27` or
    `2026-11-27-2` (a second run that day); a name is None when its file is gone."""

    stem: str
    day: date
    pdf_name: str | None
    manifest_name: str | None


def print_runs_list(*, limit: int = 60) -> list[PrintFiles]:
    """The print runs whose files are still stored, newest first (the purge removes the old ones): read from
    the storage's `print/` folder, which is where `print_batch_build` writes them and nothing else does."""
    try:
        _, names = default_storage.listdir("print")
    except FileNotFoundError:
        return []
    stems: dict[str, set[str]] = {}
    for name in names:
        if _PRINT_FILE.match(name):
            stem, _, ext = name.rpartition(".")
            stems.setdefault(stem, set()).add(ext)

    def order(stem: str) -> tuple[str, int]:
        day, _, n = stem[:10], stem[10:11], stem[11:]
        return day, int(n or 1)

    runs = []
    for stem in sorted(stems, key=order, reverse=True)[:limit]:
        exts = stems[stem]
        runs.append(
            PrintFiles(
                stem=stem,
                day=date.fromisoformat(stem[:10]),
                pdf_name=f"print/{stem}.pdf" if "pdf" in exts else None,
                manifest_name=f"print/{stem}.csv" if "csv" in exts else None,
            )
        )
    return runs


def print_file_name(*, stem: str, ext: str) -> str | None:
    """The storage name of a print run's file from the page's link, or None: only the names `print_batch_build`
    writes are accepted, so that the link cannot reach any other stored file."""
    name = f"{stem}.{ext}"
    if not _PRINT_FILE.match(name):
        return None
    return f"print/{name}"


def print_files_of_days(days) -> list[str]:
    """The print runs' PDFs and manifests of the given days: every debtor written to on those days is in them
    (the erasure of a creditor's data removes those of the days its letters were printed)."""
    wanted = {day.isoformat() for day in days}
    if not wanted:
        return []
    try:
        _, names = default_storage.listdir("print")
    except FileNotFoundError:
        return []
    found = []
    for name in sorted(names):
        match = _PRINT_FILE.match(name)
        if match and match.group(1) in wanted:
            found.append(f"print/{name}")
    return found


def print_files_purge(*, days: int, today: date | None = None) -> list[str]:
    """Delete the print runs' PDFs and manifests of days more than `days` days before `today`, read from their
    names (`print/2026-11-02.pdf`, `print/2026-11-02-2.csv`): they hold the names and addresses of every debtor
    written to that day and nothing else refers to them once posted. Audited, like the access log's purge, so
    that the trail shows which files left and when; returns their storage names."""
    today = today or timezone.localdate()
    limit = today - timedelta(days=days)
    try:
        _, names = default_storage.listdir("print")
    except FileNotFoundError:
        return []
    old = []
    for name in sorted(names):
        match = _PRINT_FILE.match(name)
        if match and date.fromisoformat(match.group(1)) < limit:
            old.append(f"print/{name}")
    for name in old:
        default_storage.delete(name)
    if old:
        audit_record(
            actor=None,
            verb="letters.print_files_purged",
            target=("print_batch", limit.isoformat(), f"Fichiers d'impression antérieurs au {format_date(limit)}"),
            after={"before": limit, "days": days, "files": old},
        )
    return old
