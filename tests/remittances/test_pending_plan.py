"""The pending read finds each entry's ledger lines through their entry. On SQLite, which has no statistics
unless ANALYZE runs, the planner otherwise walked every creditor-funds line for each entry through the
(account, structure) index: a week of 20,000 payments took 300 s to read instead of 0.3 s."""

from datetime import date

import pytest
from django.db import connection

from amiable.payments.models import Payment, PaymentReversal
from amiable.remittances.selectors import PENDING_PAYMENTS, PENDING_REVERSALS, pending_query


@pytest.mark.parametrize(("model", "kind"), [(Payment, PENDING_PAYMENTS), (PaymentReversal, PENDING_REVERSALS)])
def test_the_pending_read_finds_ledger_lines_by_their_entry(db, model, kind):
    sql, params = pending_query(model, until=date(2026, 11, 29), **kind)
    explain = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
    with connection.cursor() as cursor:
        cursor.execute(explain + sql, params)
        plan = [" ".join(str(column) for column in row) for row in cursor.fetchall()]

    if connection.vendor == "sqlite":
        lines = [row for row in plan if " l " in f"{row} "]
        assert len(lines) == 1 and "(entry_id=?)" in lines[0], plan
    else:  # PostgreSQL plans by its statistics; the query the application runs must be valid there too
        assert any("ledger_ledgerline" in row for row in plan), plan
