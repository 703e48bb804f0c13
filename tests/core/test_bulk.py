"""Bulk writes: the constraints PostgreSQL defers to the commit checked while Python works on."""

import pytest
from django.db import IntegrityError, connection, transaction

from amiable.core.bulk import insert_rows, while_checking_constraints
from amiable.intake.models import BatchCase


def test_the_work_is_done_and_its_result_returned(db):
    with transaction.atomic():
        assert while_checking_constraints(lambda: "mise en page") == "mise en page"


@pytest.mark.django_db(transaction=True)
def test_a_key_pointing_nowhere_is_refused_while_the_work_runs_on_postgresql_at_the_commit_elsewhere():
    done = []
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(BatchCase, ["batch", "case", "line", "flags"], [(987654, 987654, 1, [])])  # no such batch
        done.append(while_checking_constraints(lambda: "mise en page"))

    # PostgreSQL checked the keys during the work, so the step after it never ran; SQLite checks at the commit.
    assert done == ([] if connection.vendor == "postgresql" else ["mise en page"])
    assert not BatchCase.objects.exists()
