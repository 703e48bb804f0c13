"""The import of a whole generated batch (the file `bench_intake` measures), on either engine: every accepted row is
stored as the models themselves would store it (the search columns, the normalised phone numbers and addresses,
the audit events), and the number of queries of an import does not grow with the number of rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from amiable.audit.models import AuditEvent
from amiable.cases.models import Case, ContactPoint, Debtor
from amiable.cases.search import contact_search_value, debtor_search_name
from amiable.intake import pipeline
from amiable.intake.demo import generate_batch
from amiable.intake.models import BatchCase, BatchSource
from amiable.intake.services import batch_import
from amiable.intake.validation import _normalise_email_any, _normalise_phone_any


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def do_import(creditor, content: bytes, filename: str):
    return batch_import(creditor=creditor, content=content, filename=filename, source=BatchSource.COMMAND, actor=None)


def test_import_queries_do_not_grow_with_the_rows(reference, media):
    def queries(rows: int, prefix: str) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            outcome = do_import(reference.cpam, generate_batch(rows, prefix=prefix), f"{prefix}.csv")
        assert (outcome.status, outcome.rows) == ("accepted", rows)
        return [query["sql"] for query in captured.captured_queries]

    queries(5, "FIRST")  # the first import also makes the creditor's audit key and the year's numbering
    few = queries(50, "FEW")
    many = queries(500, "MANY")

    if connection.vendor == "postgresql":
        assert len(few) == len(many), (len(few), len(many))  # one COPY per table and chunk of 5,000 rows
    else:
        # SQLite binds at most 500 rows per multi-row INSERT (its parameter limit): only those repeat, one more
        # per 500 rows of a table (1,470 contact points for 500 claims), never a query per row.
        def others(sqls: list[str]) -> list[str]:
            return [sql for sql in sqls if not sql.startswith("INSERT INTO")]

        assert len(others(few)) == len(others(many))
        assert len(many) - len(few) <= 2
    assert Case.objects.count() == 5 + 49 + 490  # one row in fifty has an unreadable balance


def test_a_generated_batch_is_stored_row_for_row_as_the_models_store_it(reference, media):
    content = generate_batch(120, prefix="ROW")

    # What the validate stage makes of the rows, read before the import (after it, every reference is open).
    expected = {
        row.reference: row
        for row in pipeline.validate(
            pipeline.read(content, creditor=reference.cpam, structure_given=False).rows,
            creditor=reference.cpam,
            structures=[reference.csr, reference.cdop, reference.cesa],
            default_structure=None,
            today=timezone.localdate(),
        )
    }

    outcome = do_import(reference.cpam, content, "lot.csv")

    assert (outcome.status, outcome.accepted, outcome.rejected) == ("accepted", 118, 2)
    cases = Case.objects.filter(batch_line__batch=outcome.batch).select_related("debtor", "structure", "batch_line")
    assert sorted(case.reference for case in cases) == sorted(expected)
    for case in cases:
        row = expected[case.reference]
        assert (case.structure.code, case.principal_amount, case.initial_amount, case.claim_date, case.basis) == (
            row.structure_code,
            row.balance,
            row.initial_amount,
            row.claim_date,
            row.basis,
        )
        assert (case.batch_line.line, case.batch_line.flags) == (row.line, row.flags)
        debtor = case.debtor
        assert (debtor.civility, debtor.last_name, debtor.first_name) == (row.civility, row.last_name, row.first_name)
        # What `Debtor.save()` would have computed for the case search.
        assert debtor.search_name == debtor_search_name(first_name=debtor.first_name, last_name=debtor.last_name)
        points = {point.kind: point for point in ContactPoint.objects.filter(debtor=debtor)}
        assert sorted(points) == sorted(contact.kind for contact in row.contacts)
        for point in points.values():
            assert point.search_value == contact_search_value(
                kind=point.kind, value=point.value, raw_value=point.raw_value
            )
        # The quick readings of phones and e-mails stored what phonenumbers and email_validator answer.
        assert points["phone"].value == (_normalise_phone_any(points["phone"].raw_value) or "")
        assert points["email"].value == (_normalise_email_any(points["email"].raw_value) or "")
        assert points["address"].city == "PARIS"

    events = {event.case_pk: event for event in AuditEvent.objects.filter(verb="case.created")}
    assert set(events) == {case.pk for case in cases}
    for case in cases:
        after = events[case.pk].after  # read back through the trail's decryption
        assert (after["reference"], after["batch"], after["line"]) == (
            case.reference,
            outcome.batch.number,
            case.batch_line.line,
        )
        assert {contact["kind"] for contact in after["contacts"]} == {"address", "phone", "email"}
    assert BatchCase.objects.filter(batch=outcome.batch).count() == Debtor.objects.count() == 118


def test_the_same_generated_batch_twice_stores_it_once(reference, media):
    content = generate_batch(60, prefix="TWICE")

    first = do_import(reference.cpam, content, "lot.csv")
    again = do_import(reference.cpam, content, "lot-bis.csv")

    assert (first.status, again.status) == ("accepted", "duplicate")
    assert again.batch == first.batch
    assert Case.objects.count() == BatchCase.objects.count() == 59
