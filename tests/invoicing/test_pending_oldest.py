"""`invoice_pending_oldest`, the one grouped query behind the invoices' deadline, against the list it replaces:
per structure, the oldest collection date of the payments `invoice_pending` lists to invoice, on a fixture
with what must be left out (reversed by the end, failed case, direct payment without commission, wholly an
overpayment, collected after a recall — on the recall's Paris day and the day after) and what must not
(partly an overpayment, reversed after the end)."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from amiable.cases.models import CaseStatus
from amiable.cases.services import case_transition
from amiable.creditor_requests.services import case_recall
from amiable.invoicing.selectors import invoice_pending, invoice_pending_oldest
from amiable.invoicing.services import invoices_build
from amiable.payments.models import Payment, PaymentMethod
from amiable.payments.services import payment_record, payment_reverse
from tests.factories import make_case

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
ENDS = [date(2026, 9, 27), date(2026, 9, 30), date(2026, 10, 10), date(2026, 10, 11), date(2026, 10, 31)]


def pay(case, amount, on, actor, method=PaymentMethod.TRANSFER):
    return payment_record(case=case, amount=Decimal(amount), collected_on=on, method=method, actor=actor)


def listed_oldest(end: date) -> dict[tuple[int, int], date]:
    """The previous computation: every payment listed to invoice, then the oldest per structure in Python."""
    collected = dict(Payment.objects.values_list("pk", "collected_on"))
    return {
        key: min(collected[item.payment_id] for item in items)
        for key, items in invoice_pending(end=end).invoice.items()
        if items
    }


@pytest.fixture
def edges(reference, users):
    agent = users.agent
    # CSR: a plain case; a payment reversed on 11 October; a failed case; a direct payment (no commission for
    # the CPAM); a case recalled on 30 September whose only payment came after.
    plain = make_case(structure=reference.csr, principal="300.00")
    pay(plain, "50.00", date(2026, 10, 3), agent)
    pay(plain, "20.00", date(2026, 10, 8), agent)
    bounced = pay(make_case(structure=reference.csr, principal="300.00"), "80.00", date(2026, 10, 2), agent)
    payment_reverse(payment=bounced, reversed_on=date(2026, 10, 11), reason="Chèque impayé", actor=agent)
    failed = make_case(structure=reference.csr, principal="300.00")
    pay(failed, "40.00", date(2026, 9, 25), agent)
    case_transition(case=failed, to=CaseStatus.IRRECOVERABLE, actor=agent, reason="Introuvable")
    pay(make_case(structure=reference.csr, principal="300.00"), "30.00", date(2026, 9, 26), agent, PaymentMethod.DIRECT)
    recalled = make_case(structure=reference.csr, principal="300.00")
    with time_machine.travel(datetime(2026, 9, 30, 12, 0, tzinfo=PARIS), tick=False):
        case_recall(case=recalled, reason="Repris par la CPAM", actor=users.approver)
    pay(recalled, "10.00", date(2026, 10, 1), agent)
    # CDOP: a case paid in full in September and invoiced, then paid again (wholly an overpayment); a case
    # paid beyond its claim in one payment (partly an overpayment: its base is the claim).
    full = make_case(structure=reference.cdop, principal="100.00")
    pay(full, "100.00", date(2026, 9, 20), agent)
    invoices_build(month=date(2026, 9, 1), actor=None)
    pay(full, "10.00", date(2026, 10, 6), agent)
    pay(make_case(structure=reference.cdop, principal="30.00"), "50.00", date(2026, 10, 9), agent)
    # CESA: recalled at 00:30 in Paris on 11 October (22:30 UTC on the 10th): a payment collected on the 11th
    # is not after the recall's day, one on the 12th is.
    late_recall = make_case(structure=reference.cesa, principal="300.00")
    with time_machine.travel(datetime(2026, 10, 11, 0, 30, tzinfo=PARIS), tick=False):
        case_recall(case=late_recall, reason="Repris par la CPAM", actor=users.approver)
    pay(late_recall, "15.00", date(2026, 10, 12), agent)
    pay(late_recall, "25.00", date(2026, 10, 11), agent)
    # The other creditor: nothing collected (no key at all).
    return reference


def test_the_grouped_query_gives_what_the_list_gave(edges):
    for end in ENDS:
        assert invoice_pending_oldest(end=end) == listed_oldest(end), end


def test_each_edge_is_left_out_or_kept(edges):
    ref = edges
    cpam = ref.cpam.pk
    # September was invoiced; the failed, direct and wholly overpaid ones never count.
    assert invoice_pending_oldest(end=date(2026, 9, 30)) == {}
    # 10 October: the bounced payment is not reversed yet; the late recall's payments are not collected yet.
    assert invoice_pending_oldest(end=date(2026, 10, 10)) == {
        (cpam, ref.csr.pk): date(2026, 10, 2),
        (cpam, ref.cdop.pk): date(2026, 10, 9),
    }
    # 31 October: reversed; the payment after the recall, the wholly overpaid one and the one the day after the
    # late recall are left out; the one on the recall's Paris day is kept.
    assert invoice_pending_oldest(end=date(2026, 10, 31)) == {
        (cpam, ref.csr.pk): date(2026, 10, 3),
        (cpam, ref.cdop.pk): date(2026, 10, 9),
        (cpam, ref.cesa.pk): date(2026, 10, 11),
    }


def test_limited_to_creditors_in_one_query(edges):
    with CaptureQueriesContext(connection) as queries:
        assert invoice_pending_oldest(end=date(2026, 10, 31), creditor_ids={edges.other.pk}) == {}
    assert len(queries) == 1
    assert set(invoice_pending_oldest(end=date(2026, 10, 31), creditor_ids={edges.cpam.pk})) == {
        (edges.cpam.pk, edges.csr.pk),
        (edges.cpam.pk, edges.cdop.pk),
        (edges.cpam.pk, edges.cesa.pk),
    }
