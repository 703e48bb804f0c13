"""Importing the statements of the client-funds account and settling their credits (B2, L13).

A credit whose remittance information names exactly one open case becomes a payment on that case; any other
credit waits in the review queue until someone assigns it to a case, links it to a payment already recorded
by hand, or dismisses it; debits are kept for the reconciliation of the remittances."""

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from amiable.accounts.permissions import can_work_cases, require
from amiable.audit.services import audit_record
from amiable.banking.hooks import debits_match
from amiable.banking.matching import cases_named, open_cases_by_reference, reference_candidates
from amiable.banking.models import BankEntry, BankStatement, EntryStatus
from amiable.banking.parsed import CFONB120, ParsedEntry, ParsedFile, ParsedStatement, normalise_iban
from amiable.banking.parsing import statement_file_parse
from amiable.cases.models import Case
from amiable.core.dates import format_date, format_datetime
from amiable.core.exceptions import ApplicationError
from amiable.core.money import ZERO, format_money
from amiable.creditors.models import Agency
from amiable.creditors.selectors import agency_get
from amiable.payments.models import Payment, PaymentMethod, PaymentSource
from amiable.payments.services import payment_record

MAX_BYTES = 20 * 1024 * 1024
CURRENCY = "EUR"
MAX_NOTE = 300
AGENCY_ONLY = "Seule l'agence importe les relevés bancaires et en examine les mouvements."


@dataclass
class ImportResult:
    """What an import did; `as_json()` is the contract of `import_bank_statement --json`. `entries`, `credits`
    and `debits` count what the file holds; `matched`, `to_review` and `matched_total` what this import
    created."""

    status: str = "refused"  # imported | duplicate | refused
    format: str | None = None
    account: str = ""
    entries: int = 0
    credits: int = 0
    debits: int = 0
    matched: int = 0
    to_review: int = 0
    matched_total: Decimal = ZERO
    debits_matched: int = 0
    error: str | None = None
    statement: BankStatement | None = None

    def as_json(self) -> dict:
        return {
            "status": self.status,
            "format": self.format,
            "account": self.account,
            "entries": self.entries,
            "credits": self.credits,
            "debits": self.debits,
            "matched": self.matched,
            "to_review": self.to_review,
            "matched_total": f"{self.matched_total:.2f}",
            "error": self.error,
        }


@dataclass(frozen=True)
class _Identity:
    """A parsed entry with what identifies it among the entries already stored."""

    entry: ParsedEntry
    bank_ref: str
    label: str
    label_hash: str
    rank: int

    @property
    def key(self) -> tuple:
        e = self.entry
        return (e.booked_on, e.amount, e.is_credit, self.label_hash, self.rank)


def statement_import(*, content: bytes, filename: str, actor) -> ImportResult:
    """Import a statement file of the agency's client-funds account. A file of another account, in another
    currency than the euro, unreadable or contradicting what was already imported is refused whole: nothing
    is stored but the audit event of the refusal, written once the import's transaction has rolled back."""
    if actor is not None:
        require(can_work_cases(actor), AGENCY_ONLY)
    sha256 = hashlib.sha256(content).hexdigest()
    result = ImportResult()
    try:
        _import(content=content, sha256=sha256, filename=filename, actor=actor, result=result)
    except ApplicationError as exc:
        audit_record(
            actor=actor,
            verb="bank_statement.refused",
            target=("banking.bankstatement", sha256[:16], filename[:200]),
            after={"filename": filename, "sha256": sha256, "size": len(content), "reason": exc.message},
        )
        return ImportResult(
            status="refused",
            format=result.format,
            account=result.account,
            entries=result.entries,
            credits=result.credits,
            debits=result.debits,
            error=exc.message,
        )
    return result


def _import(*, content: bytes, sha256: str, filename: str, actor, result: ImportResult) -> None:
    if len(content) > MAX_BYTES:
        raise ApplicationError(f"Le fichier dépasse la taille maximale de {MAX_BYTES // (1024 * 1024)} Mo.")
    parsed = statement_file_parse(content)
    entries = parsed.entries
    result.format = parsed.format
    result.entries = len(entries)
    result.credits = sum(1 for e in entries if e.is_credit)
    result.debits = result.entries - result.credits
    iban = normalise_iban(agency_get().client_account_iban)
    _check_account(parsed, iban, result)
    currencies = set().union(*(s.currencies for s in parsed.statements)) - {CURRENCY}
    if currencies:
        raise ApplicationError(
            f"Relevé en {', '.join(sorted(currencies))} : le compte des fonds de tiers est tenu en euros, seuls "
            "les mouvements en EUR sont importés. Rien n'a été importé."
        )
    with transaction.atomic():
        # One import at a time: two overlapping statements imported at once must not both store a movement.
        Agency.objects.select_for_update().get(pk=1)
        existing = BankStatement.objects.filter(sha256=sha256).first()
        if existing is not None:
            _duplicate(result, actor=actor, filename=filename, sha256=sha256, existing=existing)
            return
        identities = _identities(entries)
        new = _new(identities, iban)
        if entries and not new:
            _duplicate(result, actor=actor, filename=filename, sha256=sha256, existing=None)
            return
        statement = _statement_create(parsed, iban, content, sha256, filename, actor, new_count=len(new))
        rows = BankEntry.objects.bulk_create([_row(identity, statement, iban) for identity in new])
        _settle_credits([row for row in rows if row.status == EntryStatus.TO_REVIEW], actor=actor, result=result)
        result.debits_matched = debits_match([row for row in rows if row.status == EntryStatus.DEBIT], actor)
        result.status = "imported"
        result.statement = statement
        audit_record(
            actor=actor,
            verb="bank_statement.imported",
            target=statement,
            after={
                "filename": filename,
                "sha256": sha256,
                "format": parsed.format,
                "entries": result.entries,
                "new_entries": len(new),
                "matched": result.matched,
                "matched_total": result.matched_total,
                "to_review": result.to_review,
                "debits_matched": result.debits_matched,
                "closing_on": statement.closing_on,
                "closing_balance": statement.closing_balance,
            },
        )


def _check_account(parsed: ParsedFile, iban: str, result: ImportResult) -> None:
    for statement in parsed.statements:
        if not statement.is_account(iban):
            result.account = _account_label(statement)
            raise ApplicationError(
                f"Relevé d'un autre compte ({statement.account_display}) que le compte des fonds de tiers de "
                f"l'agence ({_spaced(iban)}) : rien n'a été importé."
            )
    result.account = iban


def _account_label(statement: ParsedStatement) -> str:
    """The account as the file names it: an IBAN, or the bank, branch and account numbers of a CFONB file."""
    if statement.format == CFONB120:
        return f"{statement.account[:5]} {statement.account[5:10]} {statement.account[10:]}"
    return statement.account


def _spaced(iban: str) -> str:
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def _duplicate(result: ImportResult, *, actor, filename: str, sha256: str, existing: BankStatement | None) -> None:
    result.status = "duplicate"
    if existing is not None:
        result.error = (
            f"Ce fichier a déjà été importé le {format_datetime(existing.imported_at)} "
            f"({existing.filename}) : rien n'a été importé une seconde fois."
        )
    else:
        result.error = "Tous les mouvements de ce relevé sont déjà importés : rien n'a été importé une seconde fois."
    audit_record(
        actor=actor,
        verb="bank_statement.duplicate",
        target=existing if existing is not None else ("banking.bankstatement", sha256[:16], filename[:200]),
        after={"filename": filename, "sha256": sha256},
    )


def _identities(entries: list[ParsedEntry]) -> list[_Identity]:
    """Each entry's identity. A bank reference identifies an entry only if it is unique in the file (some
    banks repeat a customer's reference there): a repeated one joins the label instead. Entries without a
    reference are ranked among those of the same day, amount, direction and label, in the file's order."""
    ref_counts = Counter(e.bank_ref for e in entries if e.bank_ref)
    ranks: Counter = Counter()
    identities = []
    for entry in entries:
        bank_ref = entry.bank_ref if ref_counts[entry.bank_ref] == 1 else ""
        texts = entry.texts if bank_ref or not entry.bank_ref else (*entry.texts, f"Réf. {entry.bank_ref}")
        label = "\n".join(texts)
        label_hash = hashlib.sha256(label.encode()).hexdigest()
        rank = 1
        if not bank_ref:
            ranks[(entry.booked_on, entry.amount, entry.is_credit, label_hash)] += 1
            rank = ranks[(entry.booked_on, entry.amount, entry.is_credit, label_hash)]
        identities.append(_Identity(entry=entry, bank_ref=bank_ref, label=label, label_hash=label_hash, rank=rank))
    return identities


def _new(identities: list[_Identity], iban: str) -> list[_Identity]:
    """The entries not stored yet. A bank reference already stored for another amount, direction or day means
    the files contradict each other: the import is refused rather than guess."""
    refs = sorted({i.bank_ref for i in identities if i.bank_ref})
    stored_refs = {}
    for start in range(0, len(refs), 500):
        for row in BankEntry.objects.filter(account=iban, bank_ref__in=refs[start : start + 500]).only(
            "bank_ref", "amount", "is_credit", "booked_on"
        ):
            stored_refs[row.bank_ref] = row
    days = sorted({i.entry.booked_on for i in identities if not i.bank_ref})
    stored_keys = set(
        BankEntry.objects.filter(account=iban, bank_ref="", booked_on__in=days).values_list(
            "booked_on", "amount", "is_credit", "label_hash", "rank"
        )
    )
    new = []
    for identity in identities:
        entry = identity.entry
        if identity.bank_ref:
            stored = stored_refs.get(identity.bank_ref)
            if stored is None:
                new.append(identity)
            elif (stored.amount, stored.is_credit, stored.booked_on) != (
                entry.amount,
                entry.is_credit,
                entry.booked_on,
            ):
                raise ApplicationError(
                    f"Le mouvement de référence {identity.bank_ref} ({entry.where}) a déjà été importé avec un autre "
                    f"montant, sens ou date ({_describe(stored.amount, stored.is_credit, stored.booked_on)}, ici "
                    f"{_describe(entry.amount, entry.is_credit, entry.booked_on)}) : vérifiez les relevés avec la "
                    "banque. Rien n'a été importé."
                )
        elif identity.key not in stored_keys:
            new.append(identity)
    return new


def _describe(amount: Decimal, is_credit: bool, on: date) -> str:
    return f"{'crédit' if is_credit else 'débit'} de {format_money(amount)} le {format_date(on)}"


def _statement_create(parsed, iban, content, sha256, filename, actor, *, new_count: int) -> BankStatement:
    first, last = parsed.statements[0], parsed.statements[-1]
    now = timezone.now()
    statement = BankStatement(
        format=parsed.format,
        account=iban,
        filename=filename[:255],
        sha256=sha256,
        size=len(content),
        opening_on=first.opening_on,
        opening_balance=first.opening_balance,
        closing_on=last.closing_on,
        closing_balance=last.closing_balance,
        entry_count=len(parsed.entries),
        new_entry_count=new_count,
        imported_at=now,
        imported_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    name = f"{timezone.localdate(now):%Y%m%d}-{sha256[:12]}-{get_valid_filename(filename)[-100:] or 'releve'}"
    statement.file.save(name, ContentFile(content), save=False)
    statement.save()
    return statement


def _row(identity: _Identity, statement: BankStatement, iban: str) -> BankEntry:
    entry = identity.entry
    if not entry.is_credit:
        status, note = EntryStatus.DEBIT, ""
    elif entry.amount == ZERO:
        status, note = EntryStatus.IGNORED, "Crédit d'un montant nul."
    else:
        status, note = EntryStatus.TO_REVIEW, ""
    return BankEntry(
        statement=statement,
        account=iban,
        booked_on=entry.booked_on,
        value_on=entry.value_on,
        amount=entry.amount,
        is_credit=entry.is_credit,
        bank_ref=identity.bank_ref,
        label=identity.label,
        label_hash=identity.label_hash,
        counterparty=entry.counterparty[:200],
        rank=identity.rank,
        status=status,
        review_note=note,
    )


def _settle_credits(credits: list[BankEntry], *, actor, result: ImportResult) -> None:
    """Each credit naming exactly one open case is paid on it, whatever its amount (the payments record an
    excess as such); the others stay in the review queue, with why when a case was named."""
    by_reference = open_cases_by_reference(
        {candidate for entry in credits for candidate in reference_candidates(entry.label_lines)}
    )
    named = {entry.pk: cases_named(entry.label_lines, by_reference) for entry in credits}
    cases = Case.objects.in_bulk({pk for found in named.values() if len(found) == 1 for pk in found})
    for entry in credits:
        found = named[entry.pk]
        if len(found) == 1:
            case = cases[next(iter(found))]
            try:
                _pay(entry, case, actor=actor, note=f"Référence du dossier {case.reference} trouvée dans le libellé.")
            except ApplicationError as exc:
                entry.review_note = f"Dossier {case.reference} : {exc.message}"[:MAX_NOTE]
                entry.save(update_fields=["review_note"])
            else:
                result.matched += 1
                result.matched_total += entry.amount
                continue
        elif len(found) > 1:
            entry.review_note = f"Le libellé désigne {len(found)} dossiers ouverts."
            entry.save(update_fields=["review_note"])
        result.to_review += 1


def _pay(entry: BankEntry, case: Case, *, actor, note: str) -> Payment:
    """The payment of a credit on a case: a bank transfer collected on the booking day. The entry's identity
    is the payment's key, so that settling it twice never pays twice."""
    payment = payment_record(
        case=case,
        amount=entry.amount,
        collected_on=entry.booked_on,
        method=PaymentMethod.TRANSFER,
        actor=actor,
        reference=entry.bank_ref,
        source=PaymentSource.BANK,
        key=f"bank-entry:{entry.pk}",
    )
    entry.status = EntryStatus.MATCHED
    entry.payment = payment
    entry.review_note = note[:MAX_NOTE]
    entry.save(update_fields=["status", "payment", "review_note"])
    return payment


def _pending(entry: BankEntry) -> BankEntry:
    """The entry, locked, if it still waits in the review queue; a French refusal if someone settled it."""
    entry = BankEntry.objects.select_for_update().get(pk=entry.pk)
    if entry.status != EntryStatus.TO_REVIEW:
        by = f" par {entry.reviewed_by}" if entry.reviewed_by_id else ""
        raise ApplicationError(
            f"Ce mouvement a déjà été traité ({entry.get_status_display().lower()}{by}) : rechargez la page."
        )
    return entry


def _reviewed(entry: BankEntry, actor) -> None:
    entry.reviewed_by = actor
    entry.reviewed_at = timezone.now()


@transaction.atomic
def bank_entry_assign(*, entry: BankEntry, case: Case, actor) -> BankEntry:
    """Someone recognised whose payment a credit of the review queue is: it becomes a payment on that case."""
    require(can_work_cases(actor), AGENCY_ONLY)
    entry = _pending(entry)
    _reviewed(entry, actor)
    entry.save(update_fields=["reviewed_by", "reviewed_at"])
    payment = _pay(entry, case, actor=actor, note=f"Affecté au dossier {case.reference}.")
    audit_record(
        actor=actor,
        verb="bank_entry.assigned",
        target=entry,
        case_pk=case.pk,
        creditor_pk=case.creditor_id,
        after={"case": case.reference, "payment": payment.pk, "amount": entry.amount, "booked_on": entry.booked_on},
    )
    return entry


@transaction.atomic
def bank_entry_link(*, entry: BankEntry, payment: Payment, actor) -> BankEntry:
    """The credit is a payment already recorded by hand (a cheque, a transfer announced by the debtor): the
    entry is matched to it instead of paying the case a second time."""
    require(can_work_cases(actor), AGENCY_ONLY)
    entry = _pending(entry)
    payment = Payment.objects.select_for_update().select_related("case").get(pk=payment.pk)
    if payment.method == PaymentMethod.DIRECT:
        raise ApplicationError("Un paiement direct au créancier n'est jamais passé sur le compte de l'agence.")
    if hasattr(payment, "reversal"):
        raise ApplicationError(f"{payment} a été rejeté : il ne peut pas être rapproché d'un crédit.")
    if BankEntry.objects.filter(payment=payment).exists():
        raise ApplicationError(f"{payment} est déjà rapproché d'un autre mouvement bancaire.")
    if payment.amount != entry.amount:
        raise ApplicationError(
            f"Le paiement ({format_money(payment.amount)}) et le crédit ({format_money(entry.amount)}) n'ont pas le "
            "même montant."
        )
    _reviewed(entry, actor)
    entry.status = EntryStatus.MATCHED
    entry.payment = payment
    entry.review_note = f"Paiement déjà saisi sur le dossier {payment.case.reference}."
    entry.save(update_fields=["reviewed_by", "reviewed_at", "status", "payment", "review_note"])
    audit_record(
        actor=actor,
        verb="bank_entry.linked",
        target=entry,
        case_pk=payment.case_id,
        creditor_pk=payment.case.creditor_id,
        after={
            "case": payment.case.reference,
            "payment": payment.pk,
            "amount": entry.amount,
            "booked_on": entry.booked_on,
        },
    )
    return entry


@transaction.atomic
def bank_entry_dismiss(*, entry: BankEntry, reason: str, actor) -> BankEntry:
    """A credit of the review queue is not a debtor's payment (a bank's correction, a transfer between the
    agency's accounts…): it leaves the queue with the reason, and stays listed for the reconciliation."""
    require(can_work_cases(actor), AGENCY_ONLY)
    reason = " ".join(reason.split())[:MAX_NOTE]
    if not reason:
        raise ApplicationError("Indiquez pourquoi ce crédit n'est pas un paiement de débiteur.")
    entry = _pending(entry)
    _reviewed(entry, actor)
    entry.status = EntryStatus.IGNORED
    entry.review_note = reason
    entry.save(update_fields=["reviewed_by", "reviewed_at", "status", "review_note"])
    audit_record(
        actor=actor,
        verb="bank_entry.dismissed",
        target=entry,
        after={"reason": reason, "amount": entry.amount, "booked_on": entry.booked_on},
    )
    return entry
