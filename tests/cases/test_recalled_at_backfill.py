"""The migration that dates the recalls made before the date was kept on the case (C13): the commission
after a recall depends on it."""

from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps
from django.utils import timezone

from amiable.audit.models import AuditEvent
from amiable.cases.models import Case, CaseStatus
from amiable.creditor_requests.services import case_recall
from tests.factories import make_case

pytestmark = pytest.mark.django_db

backfill = import_module("amiable.cases.migrations.0010_backfill_recalled_at").backfill


def test_recalls_made_before_are_dated_from_the_audit_trail(reference, users):
    recalled = make_case(structure=reference.csr, principal="100.00")
    case_recall(case=recalled, reason="Repris par la CPAM", actor=users.approver)
    event = AuditEvent.objects.get(verb="case.recalled", case_pk=recalled.pk)
    untouched = make_case(structure=reference.csr, principal="100.00")
    Case.objects.filter(pk=recalled.pk).update(recalled_at=None)

    backfill(apps, None)

    assert Case.objects.get(pk=recalled.pk).recalled_at == event.at
    assert Case.objects.get(pk=untouched.pk).recalled_at is None


def test_a_recalled_case_without_its_event_takes_its_status_date(reference, users):
    case = make_case(structure=reference.csr, principal="100.00")
    changed = timezone.now() - timedelta(days=40)
    Case.objects.filter(pk=case.pk).update(status=CaseStatus.RECALLED, status_changed_at=changed, recalled_at=None)

    backfill(apps, None)

    assert Case.objects.get(pk=case.pk).recalled_at == changed
