"""`manage.py bench_remittances [--payments N] [--per-case K] [--json]`: N payments collected last week over
the CPAM's three structures, then the week's remittances made by `remittances_build`, timed beside a floor
measured in the same run (DESIGN: a weekly remittance over 100,000 payments in ≤ 10 s). Used by
`make bench-remittances`; its test runs it small and asserts no timing.

The payments are written in bulk, row for row as `payment_record` writes them for an agency payment that
does not overpay (payment, allocation to the principal, ledger entry with its bank and structure lines, the
two audit events, the case's paid amount), without what the remittances never read (receipts,
notifications, status changes): recording 100,000 payments one by one would take hours, their receipts
being PDFs. The cases come from a generated batch imported by `batch_import`."""

import json
import random
import resource
import time
from collections import defaultdict
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone
from pypdf import PdfReader

from amiable.audit.services import SYSTEM_LABEL, audit_rows_write
from amiable.cases.models import Case
from amiable.core.bulk import allocate_ids, insert_rows
from amiable.core.money import ZERO, format_count, to_money
from amiable.creditors.models import Creditor, Structure
from amiable.creditors.services import structure_save, terms_save
from amiable.intake.demo import generate_batch
from amiable.intake.models import BatchSource
from amiable.intake.services import batch_import
from amiable.ledger.models import EntryKind, LedgerAccount, LedgerEntry, LedgerLine
from amiable.ledger.selectors import ledger_balance
from amiable.ops.bench import Measure, record
from amiable.payments.models import Allocation, Component, Payment, PaymentMethod, PaymentSource
from amiable.remittances import documents
from amiable.remittances import services as remittance_services
from amiable.remittances.models import Remittance
from amiable.remittances.selectors import week_before

BANK_DETAILS = {
    "CSR": ("FR7630001007941234567890185", "BDFEFRPPCCT"),
    "CDOP": ("FR7610107001011234567890129", "BREDFRPPXXX"),
    "CESA": ("FR6214505000010412345678931", "CEPAFRPP313"),
}
METHODS = (PaymentMethod.TRANSFER, PaymentMethod.CHEQUE, PaymentMethod.CARD)
CHUNK = 5000
# DESIGN: a weekly remittance over 100,000 payments in ≤ 10 s; the memory bound is the intake's.
REMITTANCES_LIMIT_S = 10.0
PEAK_LIMIT_MB = 300.0

# What the run spends in each step of `remittances_build`, by the function that does it.
STEPS = [
    (remittance_services, "remittance_pending", "pending_read_s"),
    (remittance_services, "_remittance_make", "make_s"),
    (remittance_services, "remittances_complete", "completion_s"),
    (documents, "statement_get", "statement_read_s"),
    (documents, "statement_csv", "csv_s"),
    (documents, "statement_xlsx", "xlsx_s"),
    (documents, "statement_pdf", "pdf_s"),
    (documents, "transfer_xml", "sepa_s"),
    (remittance_services, "_email", "email_s"),
]


@contextmanager
def _timers(spent: dict[str, float], *, started, finished):
    """Time each step by wrapping, for the run only, the function that does it: the code measured is the
    code that runs, called as `remittances_build` calls it. `started(key)` and `finished(key, seconds, args)`
    are told of each call, for the progress lines."""
    saved = []
    for module, name, key in STEPS:
        original = getattr(module, name)

        def timed(*args, _original=original, _key=key, **kwargs):
            started(_key)
            start = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                spent[_key] += elapsed
                finished(_key, elapsed, args)

        saved.append((module, name, original))
        setattr(module, name, timed)
    try:
        yield
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _best_of(runs: int, query) -> float:
    """The shortest of a few runs of a read: a floor is what the database can do at best."""
    best = None
    for _ in range(runs):
        start = time.perf_counter()
        query()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best


class Command(BaseCommand):
    help = "Mesure les reversements d'une semaine de N paiements (par défaut 100 000)."

    def add_arguments(self, parser):
        parser.add_argument("--payments", type=int, default=100_000)
        parser.add_argument("--per-case", type=int, default=3, help="paiements par dossier (3 par défaut)")
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args, payments: int, per_case: int, as_json: bool, **options):
        if payments < 3 or per_case < 1:
            raise CommandError("Il faut au moins 3 paiements (un par structure) et 1 paiement par dossier.")
        call_command("seed_reference", stdout=self.stderr)
        creditor = Creditor.objects.get(slug="cpam-paris")
        start_day, end_day = week_before(timezone.localdate())

        setup_start = time.perf_counter()
        self._structures_ready(creditor)
        cases = self._cases(creditor, count=-(-payments // per_case))
        paid = self._payments(cases, payments=payments, start_day=start_day)
        setup_s = time.perf_counter() - setup_start
        self._check(paid)
        peak_setup = _peak_mb()
        if connection.vendor == "postgresql":
            # Fresh statistics, as autovacuum keeps them over a week of payments: a bulk load just before the
            # run leaves the planner blind to what was written, and its plans measure that, not the code.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")

        week_lines = LedgerLine.objects.filter(
            account=LedgerAccount.CREDITOR_FUNDS, posted_on__range=(start_day, end_day)
        )
        floor_s = _best_of(
            3, lambda: list(week_lines.values("creditor_id", "structure_id").annotate(total=Sum("amount")))
        )
        floor_rows_s = _best_of(
            3,
            lambda: list(
                week_lines.values("entry__source", "creditor_id", "structure_id")
                .annotate(total=Sum("amount"))
                .order_by("entry__source")
            ),
        )

        self._progress(
            f"Préparation {setup_s:.1f} s ; plancher {1000 * floor_s:.0f} ms (une ligne par paiement : "
            f"{1000 * floor_rows_s:.0f} ms) ; remittances_build…"
        )
        spent: dict[str, float] = defaultdict(float)
        start, cpu_start = time.perf_counter(), time.process_time()

        def started(key: str) -> None:
            if key == "completion_s":
                self._progress(
                    f"Reversements faits (base) en {time.perf_counter() - start:.1f} s (lecture de l'attente "
                    f"{spent['pending_read_s']:.1f} s, reversements {spent['make_s']:.1f} s) ; achèvement…"
                )

        def finished(key: str, seconds: float, args) -> None:
            if key in {"csv_s", "xlsx_s", "pdf_s", "sepa_s"}:
                statement = args[0]
                self._progress(
                    f"  {statement.remittance.number} : {key[:-2]} de {statement.count} lignes en {seconds:.1f} s"
                )

        with _timers(spent, started=started, finished=finished):
            run = remittance_services.remittances_build(actor=None)
            build_s = time.perf_counter() - start
        build_cpu_s = time.process_time() - cpu_start
        build_db_s = build_s - spent["completion_s"]
        result = {
            "database": connection.vendor,
            "payments": payments,
            "cases": len(cases),
            "week": [start_day.isoformat(), end_day.isoformat()],
            "payments_total": f"{sum(paid.values(), ZERO):.2f}",
            "setup_s": round(setup_s, 3),
            "floor_s": round(floor_s, 4),
            "floor_rows_s": round(floor_rows_s, 4),
            "build_s": round(build_s, 3),
            "build_db_s": round(build_db_s, 3),
            "build_cpu_s": round(build_cpu_s, 3),
            **{key: round(spent[key], 3) for _, _, key in STEPS},
            "ratio_build_db_floor": round(build_db_s / floor_s, 1),
            "ratio_build_floor": round(build_s / floor_s, 1),
            "created": run.created,
            "remittances": run.as_json()["remittances"],
            "largest_statement": self._largest(),
            "problems": [f"{c.number} : {p}" for c in run.completed for p in c.problems],
            "peak_mb_setup": round(peak_setup),
            "peak_mb": round(_peak_mb()),
        }
        if as_json:
            self.stdout.write(json.dumps(result, ensure_ascii=False, indent=2))
        else:
            self._report(result)
        # With --json the measures' lines go to stderr, so that stdout stays one JSON document.
        record(_measures(result), write=self.stderr.write if as_json else self.stdout.write)

    def _progress(self, message: str) -> None:
        """A line on stderr as each step ends, so that a run stopped midway still tells what it measured."""
        self.stderr.write(message)
        self.stderr.flush()

    def _structures_ready(self, creditor: Creditor) -> None:
        """The bank details and finance address each structure needs for its transfer and its e-mail; the
        batch in clear (the CPAM's encryption policy, C5, is not what is measured here)."""
        for code, (iban, bic) in BANK_DETAILS.items():
            structure_save(
                creditor=creditor,
                code=code,
                actor=None,
                remittance_iban=iban,
                remittance_bic=bic,
                finance_email=f"finances-{code.lower()}@cpam-paris.example",
            )
        terms_save(creditor=creditor, actor=None, require_encryption=False, require_signature=False)

    def _cases(self, creditor: Creditor, *, count: int) -> list[tuple]:
        """`count` cases from a generated batch, the structures in turn so that consecutive cases are of
        different structures (one row in 50 is refused, so a few more rows are made)."""
        header, *rows = generate_batch(count + count // 49 + 1, seed=17, prefix="BENCH-REV").decode().splitlines()
        codes = list(BANK_DETAILS)
        for n, row in enumerate(rows):
            fields = row.split(";")
            fields[1] = codes[n % len(codes)]
            rows[n] = ";".join(fields)
        outcome = batch_import(
            creditor=creditor,
            content="\n".join([header, *rows, ""]).encode(),
            filename="bench-reversements.csv",
            source=BatchSource.AGENCY_UPLOAD,
            actor=None,
        )
        if outcome.accepted < count:
            raise CommandError(f"Lot de dossiers : {outcome.accepted} acceptés sur {count} ({outcome.error}).")
        return list(
            Case.objects.filter(batch_line__batch=outcome.batch)
            .order_by("pk")
            .values_list("pk", "reference", "creditor_id", "structure_id", "principal_amount")[:count]
        )

    @transaction.atomic
    def _payments(self, cases: list[tuple], *, payments: int, start_day) -> dict[int, Decimal]:
        """Payment i goes to case i modulo the number of cases, collected on day i modulo 7 of the week, for
        at most a (per case + 1)-th of the principal: nothing overpaid, everything held for the structure.
        Returns the total paid per structure."""
        rng = random.Random(29)
        per_case = -(-payments // len(cases))
        paid_per_case: dict[int, Decimal] = defaultdict(lambda: ZERO)
        per_structure: dict[int, Decimal] = defaultdict(lambda: ZERO)
        labels = dict(PaymentMethod.choices)
        kind_label = EntryKind.PAYMENT.label
        for first in range(0, payments, CHUNK):
            count = min(CHUNK, payments - first)
            payment_ids = allocate_ids(Payment, count)
            entry_ids = allocate_ids(LedgerEntry, count)
            now = timezone.now()
            rows = {"payment": [], "allocation": [], "entry": [], "line": [], "audit": []}
            for n, payment_id, entry_id in zip(range(first, first + count), payment_ids, entry_ids, strict=True):
                case_id, reference, creditor_id, structure_id, principal = cases[n % len(cases)]
                cap = max(1, int(principal * 100) // (per_case + 1))
                amount = Decimal(rng.randint(1, cap)) / 100
                on = start_day + timedelta(days=n % 7)
                method = METHODS[n % len(METHODS)]
                balance_before = principal - paid_per_case[case_id]
                paid_per_case[case_id] += amount
                per_structure[structure_id] += amount
                memo = f"{labels[method]} — dossier {reference}"
                rows["payment"].append((payment_id, case_id, method, amount, on, "", "", PaymentSource.AGENT, now))
                rows["allocation"].append((case_id, Component.PRINCIPAL, amount, payment_id))
                rows["entry"].append((entry_id, EntryKind.PAYMENT, f"payment:{payment_id}", on, memo, now))
                rows["line"].append((entry_id, LedgerAccount.BANK, amount, on, None, None, case_id))
                rows["line"].append(
                    (entry_id, LedgerAccount.CREDITOR_FUNDS, -amount, on, creditor_id, structure_id, case_id)
                )
                rows["audit"].append(
                    _event(
                        now,
                        "ledger.posted",
                        "ledger.ledgerentry",
                        entry_id,
                        f"{kind_label} du {on:%d/%m/%Y} — {memo}",
                        case_pk=None,
                        after={
                            "kind": EntryKind.PAYMENT,
                            "source": f"payment:{payment_id}",
                            "posted_on": on,
                            "lines": [[LedgerAccount.BANK, str(amount)], [LedgerAccount.CREDITOR_FUNDS, str(-amount)]],
                        },
                    )
                )
                balance = balance_before - amount
                rows["audit"].append(
                    _event(
                        now,
                        "payment.recorded",
                        "payments.payment",
                        payment_id,
                        f"Paiement de {amount} € du {on:%d/%m/%Y} ({labels[method]})",
                        case_pk=case_id,
                        before={"balance": balance_before},
                        after={
                            "amount": amount,
                            "method": method,
                            "collected_on": on,
                            "source": PaymentSource.AGENT,
                            "reference": "",
                            "cash_reason": "",
                            "allocation": {Component.PRINCIPAL: str(amount)},
                            "balance": balance,
                            "overpaid": ZERO,
                        },
                    )
                )
            insert_rows(
                Payment,
                ["id", "case", "method", "amount", "collected_on", "reference", "cash_reason", "source", "recorded_at"],
                rows["payment"],
            )
            insert_rows(Allocation, ["case", "component", "amount", "payment"], rows["allocation"])
            insert_rows(LedgerEntry, ["id", "kind", "source", "posted_on", "memo", "created_at"], rows["entry"])
            insert_rows(
                LedgerLine, ["entry", "account", "amount", "posted_on", "creditor", "structure", "case"], rows["line"]
            )
            audit_rows_write(rows["audit"])
        # The paid amount computed here, not by the database (as `payments.services._apply` does).
        table = connection.ops.quote_name(Case._meta.db_table)
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {table} SET paid_amount = %s WHERE id = %s",
                [
                    (connection.ops.adapt_decimalfield_value(to_money(total), 12, 2), case_id)
                    for case_id, total in paid_per_case.items()
                ],
            )
        return dict(per_structure)

    def _check(self, paid: dict[int, Decimal]) -> None:
        """The setup is what `payment_record` would have left: the ledger holds for each structure exactly
        what was paid to it, the bank account all of it, the allocations and paid amounts the same sums."""
        for structure in Structure.objects.filter(pk__in=paid).order_by("code"):
            held = ledger_balance(account=LedgerAccount.CREDITOR_FUNDS, structure_id=structure.pk)
            # ledger_balance reads the structure's account as its holder does: the lines sum to minus the payments.
            if held != paid[structure.pk]:
                raise CommandError(
                    f"{structure.code} : le journal détient {held} €, les paiements font {paid[structure.pk]} €."
                )
        total = sum(paid.values(), ZERO)
        checks = {
            "banque": ledger_balance(account=LedgerAccount.BANK),
            "imputations": to_money(Allocation.objects.aggregate(s=Sum("amount"))["s"] or ZERO),
            "payé des dossiers": to_money(Case.objects.aggregate(s=Sum("paid_amount"))["s"] or ZERO),
        }
        for label, value in checks.items():
            if value != total:
                raise CommandError(f"Préparation incohérente : {label} {value}, paiements {total}.")

    def _largest(self) -> dict:
        remittance = Remittance.objects.annotate(line_count=Count("lines")).order_by("-line_count", "pk").first()
        if remittance is None:
            return {}
        pages = 0
        if remittance.statement_pdf:
            with remittance.statement_pdf.open("rb") as handle:
                pages = len(PdfReader(handle).pages)
        return {
            "number": remittance.number,
            "lines": remittance.line_count,
            "pages": pages,
            "pdf_bytes": remittance.statement_pdf.size if remittance.statement_pdf else 0,
        }

    def _report(self, r: dict) -> None:
        biggest = r["largest_statement"]
        lines = [
            f"Base {r['database']} : {r['payments']:,} paiements sur {r['cases']:,} dossiers, semaine du "
            f"{r['week'][0]} au {r['week'][1]}, {r['payments_total']} € ; préparation {r['setup_s']:.1f} s "
            "(hors mesure).",
            f"Plancher : agrégat des lignes de la semaine par structure {1000 * r['floor_s']:.0f} ms ; "
            f"une ligne par paiement {1000 * r['floor_rows_s']:.0f} ms.",
            f"remittances_build : {r['build_s']:.1f} s en tout, dont base {r['build_db_s']:.1f} s "
            f"(lecture de l'attente {r['pending_read_s']:.1f} s, reversements, lignes et écritures "
            f"{r['make_s']:.1f} s) et achèvement {r['completion_s']:.1f} s (lecture des relevés "
            f"{r['statement_read_s']:.1f} s, CSV {r['csv_s']:.1f} s, XLSX {r['xlsx_s']:.1f} s, "
            f"PDF {r['pdf_s']:.1f} s, pain.001 {r['sepa_s']:.2f} s, e-mails {r['email_s']:.1f} s).",
            f"Rapport au plancher : base {r['ratio_build_db_floor']} ×, en tout {r['ratio_build_floor']} ×.",
            f"{r['created']} reversement(s) : "
            + ", ".join(f"{x['number']} {x['structure']} {x['lines']} lignes {x['total']} €" for x in r["remittances"])
            + ".",
            f"Plus grand relevé : {biggest.get('number')}, {biggest.get('lines')} lignes, "
            f"{biggest.get('pages')} pages PDF ({biggest.get('pdf_bytes', 0) / 1e6:.1f} Mo).",
            f"Mémoire de pointe : {r['peak_mb_setup']} Mo après la préparation, {r['peak_mb']} Mo à la fin.",
        ]
        lines += [f"Problème : {p}" for p in r["problems"]]
        for line in lines:
            self.stdout.write(line)


def _measures(r: dict) -> list[Measure]:
    """The run's figures in the shape `make bench` collects: the build beside the week's aggregate read
    (the least any remittance must do), and the peak memory of the whole run."""
    extra = {
        key: r[key] for key in ("database", "payments", "cases", "build_db_s", "build_cpu_s", "completion_s", "created")
    }
    return [
        Measure(
            name="remittances.build",
            label=f"Reversements de la semaine ({format_count(r['payments'])} paiements)",
            value=r["build_s"],
            unit="s",
            floor=r["floor_s"],
            limit=REMITTANCES_LIMIT_S,
            extra=extra,
        ),
        Measure(
            name="remittances.peak_memory",
            label="Reversements : mémoire de pointe",
            value=r["peak_mb"],
            unit="Mo",
            limit=PEAK_LIMIT_MB,
            extra={"peak_mb_setup": r["peak_mb_setup"]},
        ),
    ]


def _event(now, verb: str, target_type: str, target_id: int, label: str, *, case_pk, before=None, after=None):
    """One audit event as `audit_record` writes it for the system, as a row for `insert_rows`."""
    return (now, None, SYSTEM_LABEL, verb, target_type, str(target_id), label[:255], case_pk, None, before, after, None)
