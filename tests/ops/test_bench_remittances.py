"""`bench_remittances` run small: its bulk-written payments are what `remittances_build` reads, to the cent.
No timing is asserted."""

import io
import json
from collections import defaultdict
from decimal import Decimal

from django.core import mail
from django.core.management import call_command

from amiable.core.money import ZERO
from amiable.ledger.models import LedgerAccount
from amiable.ledger.selectors import ledger_balance
from amiable.ops.bench import BENCH_OUT_ENV
from amiable.payments.models import Payment
from amiable.remittances.models import Remittance, RemittanceStatus

KEYS = {
    "database",
    "payments",
    "cases",
    "week",
    "payments_total",
    "setup_s",
    "floor_s",
    "floor_rows_s",
    "build_s",
    "build_db_s",
    "pending_read_s",
    "make_s",
    "completion_s",
    "statement_read_s",
    "csv_s",
    "xlsx_s",
    "pdf_s",
    "sepa_s",
    "email_s",
    "ratio_build_db_floor",
    "ratio_build_floor",
    "created",
    "remittances",
    "largest_statement",
    "problems",
    "peak_mb_setup",
    "peak_mb",
    "build_cpu_s",
}


def test_the_bench_remits_every_payment_it_made_to_the_cent(db, tmp_path, monkeypatch):
    out = io.StringIO()
    measures = tmp_path / "bench.json"
    monkeypatch.setenv(BENCH_OUT_ENV, str(measures))

    call_command("bench_remittances", "--payments", "30", "--json", stdout=out, stderr=io.StringIO())

    result = json.loads(out.getvalue())
    assert set(result) == KEYS
    assert result["payments"] == 30 and result["cases"] == 10
    assert result["created"] == 3 and result["problems"] == []

    paid: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for code, amount in Payment.objects.values_list("case__structure__code", "amount"):
        paid[code] += amount
    assert sum(paid.values(), ZERO) == Decimal(result["payments_total"])
    made = {row["structure"]: Decimal(row["total"]) for row in result["remittances"]}
    assert made == dict(paid) and set(made) == {"CSR", "CDOP", "CESA"}
    assert sum(row["lines"] for row in result["remittances"]) == 30

    # Everything held for the structures went out, and each statement was made, sent and its transfer issued.
    assert ledger_balance(account=LedgerAccount.CREDITOR_FUNDS) == ZERO
    assert ledger_balance(account=LedgerAccount.BANK) == ZERO
    remittances = Remittance.objects.all()
    assert {r.status for r in remittances} == {RemittanceStatus.SENT}
    assert all(r.statement_pdf and r.statement_xlsx and r.statement_csv and r.transfer_xml for r in remittances)
    assert sorted(m.to[0] for m in mail.outbox if m.subject.startswith("Reversement ")) == [
        "finances-cdop@cpam-paris.example",
        "finances-cesa@cpam-paris.example",
        "finances-csr@cpam-paris.example",
    ]
    # The figures go to `make bench` in its one shape: the build beside its floor and the 10 s target.
    recorded = {m["name"]: m for m in map(json.loads, measures.read_text().splitlines())}
    assert set(recorded) == {"remittances.build", "remittances.peak_memory"}
    build = recorded["remittances.build"]
    assert build["value"] == result["build_s"] and build["floor"] == result["floor_s"] and build["limit"] == 10.0
    assert recorded["remittances.peak_memory"]["value"] == result["peak_mb"]

    largest = result["largest_statement"]
    assert largest["lines"] == max(row["lines"] for row in result["remittances"]) and largest["pages"] >= 1
