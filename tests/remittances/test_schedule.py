"""The weekly run is scheduled by run_daily: each creditor's remittances are made from its contract's
remittance weekday on (a missed day is caught up the next), and only once."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from amiable.payments.services import payment_record
from amiable.remittances.models import Remittance
from amiable.remittances.selectors import creditors_due, week_before
from tests.factories import make_case

pytestmark = pytest.mark.django_db


def _weekdays(reference, cpam: int, other: int):
    reference.cpam.terms.remittance_weekday = cpam
    reference.cpam.terms.save()
    reference.other.terms.remittance_weekday = other
    reference.other.terms.save()


def test_a_creditor_is_due_from_its_weekday_on(reference):
    _weekdays(reference, cpam=3, other=0)  # Thursday, Monday
    monday = timezone.localdate() - timedelta(days=timezone.localdate().weekday() + 7)
    assert creditors_due(monday) == {reference.other.pk}
    assert creditors_due(monday + timedelta(days=2)) == {reference.other.pk}
    assert creditors_due(monday + timedelta(days=3)) == {reference.cpam.pk, reference.other.pk}
    assert creditors_due(monday + timedelta(days=6)) == {reference.cpam.pk, reference.other.pk}


def _run(on):
    out = StringIO()
    call_command("build_remittances", "--due", "--week-of", on.isoformat(), "--json", stdout=out)
    return json.loads(out.getvalue())


def test_the_daily_run_remits_each_creditor_on_its_day_and_once(reference, users):
    _weekdays(reference, cpam=3, other=0)
    tuesday = timezone.localdate() - timedelta(days=timezone.localdate().weekday() + 6)  # last week's Tuesday
    start, _end = week_before(tuesday)
    for structure in (reference.csr, reference.other_structure):
        case = make_case(structure=structure, principal="100.00")
        payment_record(case=case, amount="30.00", collected_on=start, method="cheque", actor=users.agent)

    tuesday_run = _run(tuesday)
    assert [(r["creditor"], r["structure"]) for r in tuesday_run["remittances"]] == [
        (reference.other.slug, reference.other_structure.code)
    ]
    assert tuesday_run["created"] == 1
    assert _run(tuesday + timedelta(days=1))["created"] == 0  # Wednesday: the CPAM's day has not come
    thursday_run = _run(tuesday + timedelta(days=2))
    assert thursday_run["created"] == 1
    assert {r["structure"] for r in thursday_run["remittances"]} == {reference.csr.code, reference.other_structure.code}
    assert _run(tuesday + timedelta(days=3))["created"] == 0  # Friday: nothing twice
    assert Remittance.objects.count() == 2
